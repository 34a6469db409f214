"""What the rules of the whole knowledge base read of each case: its names and links.

The alias and lifecycle rules (and the name table `related` links resolve through) read,
of every record, only its id, aliases, successor, withdrawal and `related` links. A
``CaseSummary`` holds exactly that; `kb check` keeps it in its cache with the case's
findings, so after an edit only the changed case is loaded and the others are known from
their summaries. Summaries are plain tuples, stored as JSON lists as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from kb.layout import CASE_FILE
from kb.store import LoadedCase


class FailureSummary(NamedTuple):
    """A failure's names and links."""

    name: str
    """Its file name (`NN-<id>.yaml`) in the case folder."""
    id: str
    aliases: tuple[str, ...]
    superseded_by: str | None
    withdrawn: bool
    """The failure itself is withdrawn (its case may be too: ``CaseSummary.withdrawn``)."""
    related: tuple[tuple[str, bool], ...]
    """Each `related` link: its ref, and whether it is a bare ref (no note)."""


class CaseSummary(NamedTuple):
    """A case's names and links, and its failures' (in NN order, the valid ones)."""

    path: Path
    """The case folder."""
    id: str
    aliases: tuple[str, ...]
    superseded_by: str | None
    withdrawn: bool
    failures: tuple[FailureSummary, ...]

    @classmethod
    def of(cls, case: LoadedCase) -> CaseSummary:
        record = case.case
        failures = tuple(
            FailureSummary(
                loaded.path.name,
                loaded.failure.id,
                tuple(loaded.failure.aliases),
                loaded.failure.superseded_by,
                loaded.failure.withdrawn is not None,
                tuple((link, True) if isinstance(link, str) else (link.ref, False) for link in loaded.failure.related),
            )
            for loaded in case.failures
        )
        return cls(
            case.path, record.id, tuple(record.aliases), record.superseded_by, record.withdrawn is not None, failures
        )

    @classmethod
    def loads(cls, path: Path, data: Any) -> CaseSummary:
        """A summary from its ``dumps`` (data kb's checksummed cache gave back; ``ValueError`` or
        ``TypeError`` when it is not one)."""
        case_id, aliases, successor, withdrawn, failures = data
        return cls(
            path,
            case_id,
            tuple(aliases),
            successor,
            withdrawn,
            tuple(
                FailureSummary(name, failure_id, tuple(names), then, gone, tuple(map(tuple, related)))
                for name, failure_id, names, then, gone, related in failures
            ),
        )

    def dumps(self) -> list[Any]:
        """The summary as JSON data (the folder left out: the cache entry is named by it)."""
        return list(self[1:])

    @property
    def case_file(self) -> Path:
        return self.path / CASE_FILE

    def failure_path(self, failure: FailureSummary) -> Path:
        return self.path / failure.name

    def refs(self) -> list[tuple[str, FailureSummary]]:
        """Each failure's canonical `<case-id>/<failure-id>`, with the failure."""
        return [(f"{self.id}/{failure.id}", failure) for failure in self.failures]
