"""What an export computes from a text, kept in kb's cache from one export to the next.

Scanning the task documents for credentials, cleaning them, rendering reports (for
``critique``) and signing rows and cases for near-duplicates are most of an export (the
documents are about 4x the records' bytes), and each is a pure function of one text (a
report: of its inputs, ``report_inputs``). Their results are kept as
results of kb's record cache (:class:`kb.cache.RecordCache`: JSON data, never code,
checksummed, dropped whenever kb's code changes), each named by its kind and by where
its text comes from (``export:<kind>:<place>``) and holding the digest of that text: a
changed text is computed afresh and its entry replaced, so the cache keeps one entry per
place and kind, never a history.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from kb.cache import RecordCache, digest
from kb.recurring.copies import NUM_PERM
from kb.secrets import Secret
from kb.store import LoadedCase

T = TypeVar("T")
PREFIX = "export:"


class Memo:
    """Results by kind and place, loaded from the cache a kind at a time; new ones saved by ``save``."""

    def __init__(self, cache: RecordCache | None) -> None:
        self.cache = cache
        self._known: dict[str, dict[str, Any]] = {}
        self._new: dict[str, Any] = {}

    def get(
        self,
        kind: str,
        place: str,
        text: str,
        compute: Callable[[str], T],
        dump: Callable[[T], Any],
        load: Callable[[Any], T],
    ) -> T:
        """``compute(text)``, or what it gave before for the same text at ``place``."""
        name = f"{PREFIX}{kind}:{place}"
        key = digest(text.encode("utf-8")).hex()
        known = self._kind(kind).get(name)
        if isinstance(known, dict) and known.get("digest") == key:
            try:
                return load(known["value"])
            except (KeyError, TypeError, ValueError):
                pass  # an entry of another shape: computed again
        value = compute(text)
        self._new[name] = {"digest": key, "value": dump(value)}
        return value

    def kept(self, kind: str, place: str, text: str) -> bool:
        """True when a result of ``kind`` is kept for ``text`` at ``place``."""
        known = self._kind(kind).get(f"{PREFIX}{kind}:{place}")
        return isinstance(known, dict) and known.get("digest") == digest(text.encode("utf-8")).hex()

    def computed(self) -> dict[str, Any]:
        """The results computed since this memo was made, as they are kept (for ``adopt``)."""
        return dict(self._new)

    def adopt(self, entries: dict[str, Any]) -> None:
        """Results another memo ``computed`` (in a worker process): later ``get`` calls for the
        same text at the same place return them, and ``save`` keeps them."""
        for name, entry in entries.items():
            self._kind(name.removeprefix(PREFIX).split(":", 1)[0])[name] = entry
        self._new.update(entries)

    def _kind(self, kind: str) -> dict[str, Any]:
        if kind not in self._known:
            self._known[kind] = self.cache.results(f"{PREFIX}{kind}:") if self.cache is not None else {}
        return self._known[kind]

    def save(self) -> None:
        if self.cache is not None and self._new:
            self.cache.put_results(self._new)
        self._new = {}


NO_MEMO = Memo(None)
"""Computes everything (no cache)."""


def dump_secrets(secrets: list[Secret]) -> list[list[Any]]:
    return [[s.start, s.end, s.kind] for s in secrets]


def load_secrets(value: list[list[Any]]) -> list[Secret]:
    return [Secret(int(start), int(end), str(kind)) for start, end, kind in value]


def dump_signature(sig: NDArray[np.uint32]) -> list[int]:
    return [int(x) for x in sig.tolist()]


def load_signature(value: list[int]) -> NDArray[np.uint32]:
    sig = np.array(value, dtype=np.uint32)
    if sig.shape != (NUM_PERM,):
        raise ValueError("not a signature")
    return sig


def report_inputs(case: LoadedCase, templates: str) -> str:
    """What ``render_case(case, env)`` is made from, as one text: the templates' digest, the case
    folder (links are relative to it), its records and the example files its fixes reference
    (for their line numbers). A report memoised under it is the report rendered afresh."""
    root = case.path.resolve().parent.parent
    examples = []
    for loaded in case.failures:
        ideal = loaded.failure.ideal_response
        if ideal is not None and ideal.reference is not None:
            try:
                examples.append(digest((root / ideal.reference.path).read_bytes()).hex())
            except OSError:
                examples.append("-")
    records = [case.case.model_dump_json(), *(f"{f.path}\0{f.failure.model_dump_json()}" for f in case.failures)]
    return "\0".join([templates, str(case.path.resolve()), *records, *examples])
