"""Reference pages generated from the code: the record schema and the command line.

The schema reference reads the models' JSON Schemas (their descriptions are the
fields' docstrings), so it never drifts from ``kb/models.py``; the CLI reference walks
the typer app's click commands, so every command and option is documented.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from markupsafe import escape

from generator.pages.text import html_inline
from kb.errors import KbError
from kb.store import SCHEMA_NAMES

LAYOUT_KEY = "layout"
"""The key that holds a record's presentation hints."""

__all__ = ["CommandDoc", "FieldDoc", "ModelDoc", "OptionDoc", "cli_docs", "schema_docs"]


@dataclass(frozen=True)
class FieldDoc:
    """One key of a record: its type (HTML, may link to another model), whether it is required, its default."""

    key: str
    type_html: str
    required: bool
    default: str
    description_html: str


@dataclass(frozen=True)
class ModelDoc:
    """One record type or nested object, with its keys in schema order."""

    name: str
    anchor: str
    description_html: str
    file: str = ""
    """The file this record lives in, for top-level records (`case.yaml`)."""
    choices: list[str] = field(default_factory=list)
    """The allowed values, for an enumeration."""
    fields: list[FieldDoc] = field(default_factory=list)
    layout: bool = False
    """A model of presentation hints (`CaseLayout`, ...): written by `kb import`, shown apart from what authors write."""


_FILES = {
    "Case": "<kb>/<case-id>/case.yaml",
    "Failure": "<kb>/<case-id>/<NN>-<failure-id>.yaml",
    "Taxonomy": "<kb>/taxonomy.yaml",
}


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type_html(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = _ref_name(prop["$ref"])
        return f'<a href="#{name.lower()}">{name}</a>'
    if "anyOf" in prop:
        options = [p for p in prop["anyOf"] if p.get("type") != "null"]
        return " or ".join(_type_html(p) for p in options) or "null"
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type_html(prop.get('items', {}))}"
    if kind == "object":
        return "mapping"
    if kind == "string" and "pattern" in prop:
        return f"string matching <code>{html_escape(prop['pattern'])}</code>"
    return html_escape(str(kind))


def html_escape(text: str) -> str:
    return str(escape(text))


def _default(prop: dict[str, Any]) -> str:
    if "default" not in prop or prop["default"] in (None, "", [], {}):
        return ""
    return f"<code>{html_escape(json.dumps(prop['default']))}</code>"


def _model_doc(name: str, schema: dict[str, Any]) -> ModelDoc:
    required = set(schema.get("required", []))
    fields = [
        FieldDoc(
            key=key,
            type_html=_type_html(prop),
            required=key in required,
            default=_default(prop),
            description_html=html_inline(prop.get("description", "")),
        )
        for key, prop in schema.get("properties", {}).items()
        if key != LAYOUT_KEY
    ]
    return ModelDoc(
        name=name,
        anchor=name.lower(),
        description_html=html_inline(schema.get("description", "")),
        file=_FILES.get(name, ""),
        choices=[str(v) for v in schema.get("enum", [])],
        fields=fields,
        layout=name.endswith("Layout"),
    )


def schema_docs() -> list[ModelDoc]:
    """Every record type: the three files' records first, then nested objects in order of first use,
    then the layout models (presentation hints `kb import` writes under `layout:`, left out of the
    records' own key tables)."""
    docs: dict[str, ModelDoc] = {}
    nested: dict[str, dict[str, Any]] = {}
    for model in SCHEMA_NAMES:
        schema = model.model_json_schema()
        docs[model.__name__] = _model_doc(model.__name__, schema)
        for name, definition in schema.get("$defs", {}).items():
            nested.setdefault(name, definition)
    for name, definition in nested.items():
        if name not in docs:
            docs[name] = _model_doc(name, definition)
    return sorted(docs.values(), key=lambda doc: doc.layout)


# -- the command line ------------------------------------------------------------------


@dataclass(frozen=True)
class OptionDoc:
    """One argument or option of a command."""

    names: str
    help: str
    required: bool


@dataclass(frozen=True)
class CommandDoc:
    """One command: its full name (`kb add case`), usage line, help text and options."""

    name: str
    usage: str
    help: str
    options: list[OptionDoc]

    @property
    def anchor(self) -> str:
        return self.name.replace(" ", "-")


def _option_doc(param: Any, ctx: Any) -> OptionDoc | None:
    """The option as `--help` shows it: names with metavar, help with `[env var: ...; default: ...]`."""
    record = param.get_help_record(ctx)
    if record is None:
        return None
    names, help_text = record
    return OptionDoc(names=names, help=help_text or "", required=bool(param.required))


def _walk(command: Any, name: str, parent: Any) -> list[CommandDoc]:
    """The docs of ``command`` and its subcommands (duck-typed: typer ships its own click)."""
    ctx = command.context_class(command, info_name=name, parent=parent)
    group = hasattr(command, "list_commands")
    found: list[CommandDoc] = []
    if not group or parent is not None:
        options = [_option_doc(p, ctx) for p in command.get_params(ctx) if p.name != "help"]
        found.append(
            CommandDoc(
                name=ctx.command_path,
                usage=" ".join([ctx.command_path, *command.collect_usage_pieces(ctx)]),
                help=(command.help or "").strip(),
                options=[o for o in options if o is not None],
            )
        )
    if group:
        for sub_name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, sub_name)
            if sub is not None and not sub.hidden:
                found.extend(_walk(sub, sub_name, ctx))
    return found


CLI_ENTRY_POINTS = "kb.cli"
"""The entry-point group naming the typer app (pyproject: ``[project.entry-points."kb.cli"] app = ...``)."""


def cli_app() -> Any:
    """The `kb` typer app, found through its entry point and loaded only when asked for.

    Nothing imports ``kb.cli`` (it is the top of the dependency graph); the command
    reference reads the app the way a plugin host would.
    """
    for entry in entry_points(group=CLI_ENTRY_POINTS, name="app"):
        return entry.load()
    raise KbError(
        f"no `{CLI_ENTRY_POINTS}` entry point: kb's install is out of date; reinstall it (`pip install -e .`)"
    )


def cli_docs() -> list[CommandDoc]:
    """Every command of the `kb` CLI, sorted by name (groups before their subcommands)."""
    import typer.main

    return _walk(typer.main.get_command(cli_app()), "kb", None)
