"""Impact wording -> level: `Critical (Deployment Blocker)`, `🔴 HIGH`, `Medium-High`, `N/A`..."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kb.models import Impact

_WORDS: dict[str, Impact] = {
    **dict.fromkeys(
        ["critical", "blocker", "blocking", "severe", "p0", "showstopper", "sev1", "sev0"], Impact.critical
    ),
    **dict.fromkeys(["high", "major", "important", "significant", "p1", "sev2", "serious"], Impact.high),
    **dict.fromkeys(["medium", "moderate", "warning", "p2", "mid", "sev3", "med"], Impact.medium),
    **dict.fromkeys(["low", "minor", "trivial", "cosmetic", "p3", "p4", "sev4", "small"], Impact.low),
}
_NOT_A_FAILURE = {"n/a", "na", "none", "info", "informational", "success", "successful", "pass", "passed", "passing"}
_LETTERS = {"a": Impact.high, "b": Impact.medium, "c": Impact.low}
_TOKEN = re.compile(r"[A-Za-z0-9/]+")
_JOINERS = {"-", "/", "to", "or", "–", "—"}
_SEVERITY_IN_TITLE = re.compile(
    r"(?:[(\[]\s*(?P<a>critical|high|medium|low|major|minor|blocker|severe|moderate)\s*(?:severity|priority|impact)?\s*[)\]]"
    r"|^\W*(?P<b>critical|high|medium|low|major|minor|blocker)\s*(?:severity|priority)?\s*[:\-–—]\s"
    r"|[-–—:|]\s*(?P<c>critical|high|medium|low|major|minor)\s*(?:severity|priority|impact)?\W*$)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Level:
    """What an impact value says: a level, or that the entry is not a failure, or nothing known."""

    impact: Impact | None = None
    not_a_failure: bool = False

    @property
    def known(self) -> bool:
        return self.impact is not None or self.not_a_failure


def _clean(value: str) -> str:
    value = value.strip().split("\n", 1)[0]
    return re.sub(r"[*_`~]", "", value).strip()


def read_level(value: str) -> Level:
    """The level an impact value states, reading its first words (case-insensitive)."""
    text = _clean(value)
    lowered = text.lower()
    if re.match(r"^\W*(n/a|not applicable|not a failure|no failure|no issue|no impact)\b", lowered):
        return Level(not_a_failure=True)
    words = _TOKEN.findall(lowered)
    if not words:
        return Level()
    first = words[0]
    found = _WORDS.get(first)
    if found is not None:
        return Level(_highest(found, lowered))
    if first in _NOT_A_FAILURE:
        return Level(not_a_failure=True)
    if first in _LETTERS and re.match(r"^\W*[a-c]\s*($|[-–—:(.)|])", lowered):  # `A (Critical)`, not `A leaked key`
        inner = next((_WORDS[w] for w in words[1:4] if w in _WORDS), None)
        return Level(inner or _LETTERS[first])
    if first in {"very", "extremely"} and len(words) > 1 and words[1] in _WORDS:
        return Level(_WORDS[words[1]])
    return Level()


def _highest(found: Impact, lowered: str) -> Impact:
    """`Medium-High`, `High/Critical`, `medium to high`: a range takes its higher level."""
    match = re.match(r"^\W*([a-z0-9]+)\s*([-/–—]|to|or)\s*([a-z0-9]+)\b", lowered)
    if match and match[2].strip() in _JOINERS:
        other = _WORDS.get(match[3])
        if other is not None and other.rank < found.rank:
            return other
    return found


def word_level(word: str) -> Impact | None:
    """The level one word names (`major` -> high), if any."""
    return _WORDS.get(word.lower())


def severity_in_title(title: str) -> Impact | None:
    """A level written into a heading: `(CRITICAL)`, `[High]`, `CRITICAL: ...`, `... - HIGH`."""
    match = _SEVERITY_IN_TITLE.search(title)
    if not match:
        return None
    word = (match["a"] or match["b"] or match["c"]).lower()
    return _WORDS.get(word)
