"""Near-copies: two documents (cases) that are the same analysis in another version.

Each failure gets a MinHash signature of the 4-word shingles of its whole
text; a case's signature is the element-wise minimum of its failures' (the MinHash of
the union of their shingles). Two cases whose signatures agree on at least
``COPY_THRESHOLD`` of their positions (an estimate of the Jaccard similarity of their
shingle sets) are near-copies. Measured on the corpus import (194 real documents), the
most alike pair of distinct analyses shares 6% of its shingles; versions of one
analysis share most of theirs, so 0.5 sits far from both.
"""

from __future__ import annotations

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
EMPTY = np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)
"""The signature of nothing (every position at its maximum)."""


_A = np.random.RandomState(_SEED).randint(0, 1 << 63, NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_B = np.random.RandomState(_SEED + 1).randint(0, 1 << 63, NUM_PERM, dtype=np.uint64)
_SHIFT = np.uint64(32)
"""Position k hashes a shingle x to the high 32 bits of (a_k x + b_k) mod 2**64, a_k odd:
multiply-shift hashing (Dietzfelbinger et al.), universal and without a division."""


SHINGLE = 4
"""Words per shingle."""
_MIX = np.uint64(0x9E3779B97F4A7C15)


_HASHES: dict[str, int] = {}
"""Each word's hash, once computed (kept for at most ``_HASHES_KEPT`` words)."""
_HASHES_KEPT = 1 << 20


def _word_hashes(words: Sequence[str]) -> NDArray[np.uint64]:
    """Each word's CRC-32 (of its lower case), as an array: computed once for each new word,
    then looked up in C (``map`` over the dict's own ``__getitem__``, no Python call a word)."""
    new = [word for word in dict.fromkeys(words) if word not in _HASHES]
    if len(_HASHES) + len(new) > _HASHES_KEPT:
        _HASHES.clear()
        new = list(dict.fromkeys(words))
    for word in new:
        _HASHES[word] = zlib.crc32(word.lower().encode("utf-8"))
    return np.fromiter(map(_HASHES.__getitem__, words), dtype=np.uint64, count=len(words))


def signature(words: Sequence[str], shingle: int = SHINGLE) -> NDArray[np.uint32]:
    """The MinHash signature of a text's ``shingle``-word shingles (``words`` in order, as
    ``features.analyse`` gives them; export compares 5-word shingles).

    A shingle's base hash mixes its words' CRC-32s (datasketch's SHA-1 per shingle cost
    twice the YAML parse of a record); its 64 positions are multiply-shift hashes of it.
    """
    found: NDArray[np.uint32] = signatures([words], shingle)[0]
    return found


BATCH = 1 << 15
"""Shingles permuted at once by ``signatures`` (64 positions each: 16 MiB of uint64)."""


def _shingles(words: Sequence[str], shingle: int) -> NDArray[np.uint64]:
    hashes = _word_hashes(words)
    if len(hashes) < shingle:
        return hashes
    with np.errstate(over="ignore"):
        mixed = hashes[: len(hashes) - shingle + 1].copy()
        for k in range(1, shingle):
            mixed = mixed * _MIX + hashes[k : len(hashes) - shingle + 1 + k]
    return mixed


def signatures(texts: Sequence[Sequence[str]], shingle: int = SHINGLE) -> NDArray[np.uint32]:
    """The signatures of many texts (as ``signature``), computed in a few large batches."""
    result = np.tile(EMPTY, (len(texts), 1))
    parts = [_shingles(words, shingle) for words in texts]
    start = 0
    while start < len(parts):
        stop, size = start, 0
        while stop < len(parts) and (size == 0 or size + len(parts[stop]) <= BATCH):
            size += len(parts[stop])
            stop += 1
        block = [p for p in parts[start:stop] if len(p)]
        if block:
            hashes = np.concatenate(block)
            with np.errstate(over="ignore"):
                permuted = np.multiply.outer(_A, hashes)
                permuted += _B[:, None]
            owners = [i for i in range(start, stop) if len(parts[i])]
            offsets = np.cumsum([0] + [len(p) for p in block[:-1]])
            # the high bits of the least value are the least high bits: shift only the minima
            result[owners] = (np.minimum.reduceat(permuted, offsets, axis=1).T >> _SHIFT).astype(np.uint32)
        start = stop
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


BANDS = 32
"""LSH bands of ``NUM_PERM // BANDS`` = 2 positions: two signatures agreeing on a whole band
are compared. A pair at Jaccard 0.5 shares a band with probability 1 - (1 - 0.5**2)**32,
over 0.9999; distinct analyses (Jaccard under 0.06) share one with probability under 0.11,
so few pairs are compared."""
ALL_PAIRS = 256
"""Members of one LSH bucket compared pairwise; a larger bucket is compared to its first member."""


def copy_groups(case_ids: Sequence[str], signatures: NDArray[np.uint32]) -> dict[str, str]:
    """Each case that is a near-copy of another, mapped to the first (by id) of its group.

    Candidates are cases whose signatures agree on a whole LSH band; a candidate pair is a
    copy when its signatures agree on at least ``COPY_THRESHOLD`` of their positions.
    """
    everyone = sorted(
        (i for i in range(len(case_ids)) if not (signatures[i] == EMPTY).all()), key=lambda i: case_ids[i]
    )
    parent = {i: i for i in everyone}
    order = everyone

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(i: int, j: int) -> None:
        a, b = root(i), root(j)
        if a != b:
            keep, drop = (a, b) if case_ids[a] < case_ids[b] else (b, a)
            parent[drop] = keep

    if len(order) > 1:  # the same text twice (a document imported again): one signature, compared once
        _, first, same = np.unique(signatures[order], axis=0, return_index=True, return_inverse=True)
        for k, f in enumerate(same.ravel().tolist()):
            if first[f] != k:
                join(order[first[f]], order[k])
        order = [order[k] for k in sorted(first.tolist())]
    if len(order) > 1:
        sigs = np.ascontiguousarray(signatures[order])
        width = NUM_PERM // BANDS
        for band in range(BANDS):
            keys = np.ascontiguousarray(sigs[:, band * width : (band + 1) * width]).view(np.dtype((np.void, 4 * width)))
            _, bucket = np.unique(keys.ravel(), return_inverse=True)
            by_bucket = np.argsort(bucket, kind="stable")
            bounds = np.flatnonzero(np.diff(bucket[by_bucket])) + 1
            for members in np.split(by_bucket, bounds):
                if len(members) < 2 or len({root(order[m]) for m in members}) == 1:
                    continue
                firsts = members if len(members) <= ALL_PAIRS else members[:1]
                agree = (sigs[firsts][:, None, :] == sigs[members][None, :, :]).mean(axis=2) >= COPY_THRESHOLD
                for a, b in zip(*np.nonzero(agree), strict=True):
                    if firsts[a] < members[b]:
                        join(order[firsts[a]], order[members[b]])
    return {case_ids[i]: case_ids[root(i)] for i in everyone if root(i) != i}
