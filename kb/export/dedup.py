"""No leaks, no duplicates: near-duplicate cases share a split; duplicate rows are removed.

Texts are compared by the MinHash signatures of their 5-word shingles
(:func:`kb.recurring.copies.signature`, 64 positions), candidates found by banding the
signatures (16 bands of 4 positions: a pair at Jaccard 0.9 shares a band with
probability > 0.9999) and kept when the estimated Jaccard reaches the threshold.

- Cases: two cases whose task prompts or analyses reach ``CASE_THRESHOLD`` are one
  cluster, and a cluster goes to one split (that of its first case id), so a version of
  an analysis never sits in train while another is evaluated.
- Rows: an exact duplicate of a row already kept (same content columns) is removed; so
  is a row whose text reaches ``ROW_THRESHOLD`` against a kept row, and an evaluation
  row whose answer is exactly a train row's. Rows are kept in train, validation, test
  order, so a duplicate across splits is removed from evaluation, never from train.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from kb.export.memo import NO_MEMO, Memo, dump_signature, load_signature
from kb.recurring.copies import EMPTY, NUM_PERM, agreement, signature

SHINGLE = 5
"""Words per shingle."""
CASE_THRESHOLD = 0.7
"""Estimated Jaccard at or above which two cases are one cluster. Lower than the 0.9 that
defines a near-twin, so a twin is caught despite the estimate's error (about 0.04 at 0.9)."""
ROW_THRESHOLD = 0.9
"""Estimated Jaccard at or above which a row is a near-duplicate of a kept one."""
BANDS = 16
_ROWS_PER_BAND = NUM_PERM // BANDS


def words(text: str) -> list[str]:
    return text.lower().split()


def sign(text: str) -> NDArray[np.uint32]:
    """The MinHash signature of the 5-word shingles of ``text`` (words split at white space)."""
    return signature(words(text), shingle=SHINGLE)


def _signed(memo: Memo, place: str, text: str) -> NDArray[np.uint32]:
    return memo.get("minhash", place, text, sign, dump_signature, load_signature)


def case_signature(memo: Memo, case_id: str, kind: int, text: str) -> NDArray[np.uint32]:
    """The signature of a case's text of ``kind`` (0 the task prompt, 1 the analysis), from ``memo`` when kept."""
    return _signed(memo, f"case:{case_id}:{kind}", text)


def row_signature(memo: Memo, name: str, row: dict[str, object], near: Sequence[str]) -> NDArray[np.uint32]:
    """The signature of a row's ``near`` columns, kept in ``memo`` under the export's ``name`` and the row's id."""
    return _signed(memo, f"row:{name}:{row.get('id')}", "\n".join(row_text(row.get(c)) for c in near))


class NearIndex:
    """Signatures added one by one; ``near`` finds an added one at or above a threshold."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._buckets: dict[tuple[int, bytes], list[int]] = defaultdict(list)
        self._signatures: list[NDArray[np.uint32]] = []

    def _bands(self, sig: NDArray[np.uint32]) -> Iterable[tuple[int, bytes]]:
        for band in range(BANDS):
            yield band, sig[band * _ROWS_PER_BAND : (band + 1) * _ROWS_PER_BAND].tobytes()

    def near(self, sig: NDArray[np.uint32]) -> list[int]:
        """The indices of added signatures whose estimated Jaccard with ``sig`` reaches the threshold."""
        if (sig == EMPTY).all():
            return []
        candidates = {i for key in self._bands(sig) for i in self._buckets.get(key, ())}
        return sorted(i for i in candidates if agreement(sig, self._signatures[i]) >= self.threshold)

    def add(self, sig: NDArray[np.uint32]) -> int:
        index = len(self._signatures)
        self._signatures.append(sig)
        if not (sig == EMPTY).all():
            for key in self._bands(sig):
                self._buckets[key].append(index)
        return index


def clusters(case_ids: Sequence[str], texts: Sequence[Sequence[str]], memo: Memo = NO_MEMO) -> dict[str, str]:
    """Each case mapped to the first id (sorted) of its cluster: cases linked when any of their
    texts (task prompt, analysis) reaches ``CASE_THRESHOLD`` with the same kind of text of another."""
    order = sorted(range(len(case_ids)), key=lambda i: case_ids[i])
    parent = {i: i for i in order}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    kinds = max((len(t) for t in texts), default=0)
    for kind in range(kinds):
        index = NearIndex(CASE_THRESHOLD)
        owners: list[int] = []
        for i in order:
            text = texts[i][kind] if kind < len(texts[i]) else ""
            if not text.strip():
                continue
            sig = case_signature(memo, case_ids[i], kind, text)
            for j in index.near(sig):
                a, b = root(i), root(owners[j])
                if a != b:
                    keep, drop = (a, b) if case_ids[a] < case_ids[b] else (b, a)
                    parent[drop] = keep
            index.add(sig)
            owners.append(i)
    return {case_ids[i]: case_ids[root(i)] for i in order}


def content_key(row: dict[str, object], columns: Sequence[str]) -> str:
    """A digest of the row's content columns (two rows with the same one are the same example):
    each string, message role and content length-prefixed (whole answers are long: no JSON
    encoding of them), any other value as JSON."""
    h = hashlib.sha256()

    def add(kind: str, text: str) -> None:
        data = text.encode("utf-8")
        h.update(f"{kind}{len(data)}:".encode() + data)

    for column in columns:
        value = row.get(column)
        if isinstance(value, str):
            add("s", value)
        elif isinstance(value, list) and all(isinstance(m, dict) and set(m) == {"role", "content"} for m in value):
            add("m", str(len(value)))
            for message in value:
                add("r", str(message["role"]))
                add("c", str(message["content"]))
        else:
            add("j", json.dumps(value, ensure_ascii=False, sort_keys=True))
    return h.hexdigest()


def row_text(value: object) -> str:
    """A column's text: a string, or the contents of its messages joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(str(m.get("content", "")) if isinstance(m, dict) else str(m) for m in value)
    return ""


class RowFilter:
    """Decides, row by row in train-validation-test order, whether a row repeats one already kept."""

    def __init__(
        self, content: Sequence[str], answer: str, near: Sequence[str], *, memo: Memo = NO_MEMO, name: str = ""
    ) -> None:
        self.content = content
        self.answer = answer
        self.near = near
        """The columns compared for near-duplicates: what differs between rows (a case's rows share its prompt)."""
        self._keys: set[str] = set()
        self._train_answers: set[str] = set()
        self._index = NearIndex(ROW_THRESHOLD)
        self.memo = memo
        self.name = name
        """Names this export's rows in ``memo`` (the format)."""

    def reason(self, row: dict[str, object], split: str) -> str | None:
        """Why the row must go (`exact duplicate`, ...), or None after recording it as kept."""
        key = content_key(row, self.content)
        if key in self._keys:
            return "exact duplicate row"
        answer = hashlib.sha256(row_text(row.get(self.answer)).encode("utf-8")).hexdigest()
        if split != "train" and answer in self._train_answers:
            return "answer also in train"
        sig = row_signature(self.memo, self.name, row, self.near)
        if self._index.near(sig):
            return "near-duplicate row"
        self._keys.add(key)
        if split == "train":
            self._train_answers.add(answer)
        self._index.add(sig)
        return None
