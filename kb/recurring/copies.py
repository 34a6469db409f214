"""Near-copies: two documents (cases) that are the same analysis in another version.

Each failure gets a MinHash signature (datasketch) of the 4-word shingles of its whole
text; a case's signature is the element-wise minimum of its failures' (the MinHash of
the union of their shingles). Two cases whose signatures agree on at least
``COPY_THRESHOLD`` of their positions (an estimate of the Jaccard similarity of their
shingle sets) are near-copies. Measured on the corpus import (194 real documents), the
most alike pair of distinct analyses shares 6% of its shingles; versions of one
analysis share most of theirs, so 0.5 sits far from both.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

NUM_PERM = 64
"""Positions per signature (an estimate's standard error is about 1/sqrt(64) = 0.125)."""
COPY_THRESHOLD = 0.5
"""Estimated shingle Jaccard at or above which two cases are near-copies."""
TWIN_THRESHOLD = 0.8
"""Estimated shingle Jaccard at or above which two failures of one case are near-identical."""
_SEED = 1
_SCHEME = "affine32"
EMPTY = np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)
"""The signature of nothing (every position at its maximum)."""


_PRIME = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)
_A, _B = (
    np.random.RandomState(_SEED).randint(1, int(_PRIME), NUM_PERM, dtype=np.uint64),
    np.random.RandomState(_SEED + 1).randint(0, int(_PRIME), NUM_PERM, dtype=np.uint64),
)


SHINGLE = 4
"""Words per shingle."""
_MIX = np.uint64(0x9E3779B97F4A7C15)


@functools.lru_cache(maxsize=1 << 16)
def _word_hash(word: str) -> int:
    return zlib.crc32(word.lower().encode("utf-8"))


def signature(words: Sequence[str], shingle: int = SHINGLE) -> NDArray[np.uint32]:
    """The MinHash signature of a text's ``shingle``-word shingles (``words`` in order, as
    ``features.analyse`` gives them; export compares 5-word shingles).

    datasketch's 32-bit affine permutations, vectorised over all shingles at once; a
    shingle's base hash mixes its words' CRC-32s (datasketch's SHA-1 per shingle cost
    twice the YAML parse of a record).
    """
    if not words:
        return EMPTY.copy()
    hashes = np.fromiter(map(_word_hash, words), dtype=np.uint64, count=len(words))
    with np.errstate(over="ignore"):
        if len(hashes) >= shingle:
            mixed = hashes[: len(hashes) - shingle + 1].copy()
            for k in range(1, shingle):
                mixed = mixed * _MIX + hashes[k : len(hashes) - shingle + 1 + k]
            hashes = np.unique(mixed)
        permuted = ((hashes[:, None] * _A + _B) % _PRIME) & _MAX_HASH
    result: NDArray[np.uint32] = permuted.min(axis=0).astype(np.uint32)
    return result


def union(signatures: Iterable[NDArray[np.uint32]]) -> NDArray[np.uint32]:
    """The signature of several texts together (a case from its failures)."""
    result = EMPTY.copy()
    for sig in signatures:
        np.minimum(result, sig, out=result)
    return result


def agreement(a: NDArray[np.uint32], b: NDArray[np.uint32]) -> float:
    """The estimated Jaccard similarity of two signatures (0 when either is empty)."""
    if (a == EMPTY).all() or (b == EMPTY).all():
        return 0.0
    return float(np.mean(a == b))


def copy_groups(case_ids: Sequence[str], signatures: NDArray[np.uint32]) -> dict[str, str]:
    """Each case that is a near-copy of another, mapped to the first (by id) of its group."""
    from datasketch import MinHash, MinHashLSH  # imports in 0.7 s: only when the index changed

    lsh = MinHashLSH(threshold=COPY_THRESHOLD, num_perm=NUM_PERM)
    order = sorted(range(len(case_ids)), key=lambda i: case_ids[i])
    sketches = {}
    for i in order:
        if (signatures[i] == EMPTY).all():
            continue
        sketches[i] = MinHash(num_perm=NUM_PERM, seed=_SEED, hashvalues=signatures[i].astype(np.uint64), scheme=_SCHEME)
        lsh.insert(str(i), sketches[i])
    parent = {i: i for i in sketches}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in sorted(sketches, key=lambda i: case_ids[i]):
        for found in lsh.query(sketches[i]):
            j = int(found)
            if j != i and agreement(signatures[i], signatures[j]) >= COPY_THRESHOLD:
                a, b = root(i), root(j)
                if a != b:
                    keep, drop = (a, b) if case_ids[a] < case_ids[b] else (b, a)
                    parent[drop] = keep
    return {case_ids[i]: case_ids[root(i)] for i in sketches if root(i) != i}
