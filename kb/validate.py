"""Turn parsed YAML into records, and pydantic's errors into located problems."""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from kb.errors import Problem
from kb.yamlio import Loc, locate

M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: Any, *, path: Path | str, text: str) -> tuple[M | None, list[Problem]]:
    """Validate ``data`` as ``model``; on failure, one problem per error at its key's line."""
    if not isinstance(data, dict):
        found = "an empty file" if data is None else f"a {type(data).__name__}"
        return None, [Problem.at(path, f"expected a mapping of keys to values, found {found}")]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, [_problem(model, path, text, error) for error in exc.errors(include_url=False)]


def _problem(model: type[BaseModel], path: Path | str, text: str, error: Any) -> Problem:
    loc: Loc = tuple(part for part in error["loc"] if not _is_union_tag(part))
    line, col = locate(text, loc)
    where = _dotted(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        message = f"unknown key `{where}`"
        known = _field_names(model, loc[:-1])
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        if close:
            message += f" (did you mean `{close[0]}`?)"
        elif known:
            message += f"; known keys: {', '.join(known)}"
        return Problem.at(path, message, line=line, col=col)
    if kind == "missing":
        return Problem.at(path, f"missing required key `{where}`", line=line, col=col)
    return Problem.at(path, f"`{where}`: {_clean(error['msg'])}", line=line, col=col)


def _clean(message: str) -> str:
    return message.removeprefix("Value error, ")


def _is_union_tag(part: str | int) -> bool:
    # pydantic inserts the member type of a union into locations ("str", "list[str]", ...)
    return isinstance(part, str) and ("[" in part or part in {"str", "int", "bool", "float", "none"})


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(document)"


def _field_names(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys the model accepts at ``loc`` (for "did you mean" suggestions)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        current = _model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    """The pydantic model inside ``X | None`` or ``list[X]``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
