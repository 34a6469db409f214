"""The Jinja environment every kb output is rendered with (reports, site pages, scaffolds).

Templates are looked up in a project's own folder first (``--templates DIR``, or the
``templates/`` folder beside the knowledge base), then in the built-in templates, so a
team overrides one file and keeps the rest. Build one environment per run with
``make_env`` and reuse it: templates are compiled once and cached.

Filters registered for every template (see ``kb.render.markdown``):
``fence(code, language)``, ``inline(text)``, ``block(text)``, ``link(title, url)``,
``code_span(text)`` and ``diff(a, b)``; and the test ``filled`` (not None, empty or blank).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

from kb.cache import digest
from kb.errors import KbError, UsageError
from kb.render import markdown

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "TemplateProblem",
    "builtin_templates_dir",
    "filled",
    "make_env",
    "project_templates_dir",
    "require_templates_dir",
    "template_problem",
]

_KB = Path(__file__).resolve().parent.parent
"""The `kb` package folder."""


class TemplateProblem(KbError):
    """A template failed to load or render: `template:line: message`."""


def builtin_templates_dir() -> Path:
    """The built-in templates: ``kb/templates`` in a wheel, the repo's ``templates/`` in a checkout."""
    for candidate in (_KB / "templates", _KB.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise UsageError(f"kb's built-in templates are missing (looked in {_KB / 'templates'}); reinstall kb")


def templates_digest(templates_dir: Path | None) -> str:
    """A digest of the templates a render reads (``templates_dir``'s, then the built-in ones), by path and bytes."""
    h = hashlib.blake2b(digest_size=16)
    for folder in (templates_dir, builtin_templates_dir()):
        if folder is not None and folder.is_dir():
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                h.update(f"{path}\0".encode() + digest(path.read_bytes()))
    return h.hexdigest()


def project_templates_dir(kb_root: Path) -> Path | None:
    """The ``templates/`` folder of the project a knowledge base belongs to, if it has one."""
    candidate = kb_root.resolve().parent / "templates"
    return candidate if candidate.is_dir() else None


def require_templates_dir(templates_dir: Path | None) -> None:
    """Refuse a templates folder that is not there (``UsageError``)."""
    if templates_dir is not None and not templates_dir.is_dir():
        raise UsageError(f"{templates_dir}: templates folder not found")


def make_env(templates_dir: Path | None = None) -> jinja2.Environment:
    """A Jinja environment: ``templates_dir`` (when given) first, then the built-in templates.

    ``StrictUndefined`` (a misspelt name is an error, not an empty string), ``trim_blocks``,
    ``lstrip_blocks`` and ``keep_trailing_newline``; no HTML autoescaping (the output is
    Markdown: code goes through ``fence`` and plain text through ``inline``). Sandboxed
    when a project's templates are in the lookup: they are data from the repository, so they
    cannot reach Python internals (``{{ ''.__class__.__mro__ }}`` is an error, not a way
    out). kb's own templates are its code, and render alone in a plain environment (the
    sandbox checks every attribute access and call); the escaping is the filters', the
    same in both.
    """
    import jinja2.sandbox  # here, not above: a command with nothing to render never imports Jinja

    require_templates_dir(templates_dir)
    builtin = builtin_templates_dir()
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir is not None and templates_dir.resolve() != builtin.resolve():
        loaders.append(jinja2.FileSystemLoader(templates_dir))
    kind = jinja2.sandbox.SandboxedEnvironment if loaders else jinja2.Environment
    loaders.append(jinja2.FileSystemLoader(builtin))
    env = kind(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # Markdown output; escaping is done by the filters below
        auto_reload=False,
    )
    env.filters.update(
        fence=markdown.fence,
        inline=markdown.inline,
        block=markdown.block,
        link=markdown.link,
        code_span=markdown.code_span,
        diff=markdown.diff,
    )
    env.tests["filled"] = filled
    return env


def filled(value: object) -> bool:
    """The ``filled`` test: a string with more than whitespace, or any other truthy value."""
    return bool(value.strip()) if isinstance(value, str) else bool(value)


_TEMPLATE_FRAME = re.compile(r"\.j2$")


def template_problem(exc: jinja2.TemplateError, *, template: str, context: str) -> TemplateProblem:
    """Turn a Jinja error into a one-line `template-file:line: message` problem (no traceback)."""
    import jinja2

    if isinstance(exc, jinja2.TemplateSyntaxError):
        where = f"{exc.filename or exc.name or template}:{exc.lineno}"
    else:
        filename, line = _template_location(exc)
        where = f"{filename or template}:{line}" if line else template
    return TemplateProblem(f"{where}: {exc.message or type(exc).__name__} ({context})")


def _template_location(exc: BaseException) -> tuple[str | None, int | None]:
    """The template file and line a render error happened at (Jinja rewrites tracebacks to point there)."""
    filename, line = None, None
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if _TEMPLATE_FRAME.search(code.co_filename):
            filename, line = code.co_filename, tb.tb_lineno
        tb = tb.tb_next
    return filename, line
