"""Bar charts drawn as inline SVG at build time: no script, no network, same bytes every build.

Colours come from CSS classes (``docs/assets/kb.css``), so the charts follow the
site's light and dark palettes. Labels are record data and are escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import escape

__all__ = ["Bar", "bar_chart"]

_ROW = 26
_BAR = 18
_LABEL_WIDTH = 230
_BAR_WIDTH = 360
_COUNT_WIDTH = 60
_MAX_LABEL = 34


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its value and an optional CSS modifier (e.g. the impact level)."""

    label: str
    value: int
    kind: str = ""


def _short(label: str) -> str:
    label = " ".join(label.split())
    return label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1] + "…"


def bar_chart(bars: Sequence[Bar], *, title: str) -> str:
    """A horizontal bar chart as one HTML block (a ``figure`` holding an ``svg``), on one line per element.

    The block has no blank line, so Python-Markdown keeps it as raw HTML. An empty
    ``bars`` gives an empty string.
    """
    if not bars:
        return ""
    top = max(max(bar.value for bar in bars), 1)
    width = _LABEL_WIDTH + _BAR_WIDTH + _COUNT_WIDTH
    height = _ROW * len(bars) + 4
    lines = [
        '<figure class="kb-chart">',
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for index, bar in enumerate(bars):
        y = index * _ROW + 2
        length = 0.0 if bar.value <= 0 else max(2.0, _BAR_WIDTH * bar.value / top)
        kind = f" kb-bar--{escape(bar.kind)}" if bar.kind else ""
        lines.append(
            f'<g class="kb-bar{kind}">'
            f"<title>{escape(bar.label)}: {bar.value}</title>"
            f'<text x="{_LABEL_WIDTH - 8}" y="{y + _BAR - 5}" text-anchor="end">{escape(_short(bar.label))}</text>'
            f'<rect x="{_LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{_BAR}" rx="3"></rect>'
            f'<text x="{_LABEL_WIDTH + length + 6:.1f}" y="{y + _BAR - 5}">{bar.value}</text>'
            "</g>"
        )
    lines += ["</svg>", f"<figcaption>{escape(title)}</figcaption>", "</figure>"]
    return "\n".join(lines)
