"""Term weights -> unit-length TF-IDF rows, and cosine scores against them.

The rows are compressed sparse rows held as numpy arrays (``Rows``): what `kb similar`
needs of them is a few numpy operations, and scipy, which costs more to import than
a query costs to answer, is only imported where its matrix algebra is worth it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import chain
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import scipy.sparse as sp


class Rows(NamedTuple):
    """A rows x terms sparse matrix in compressed-row form."""

    data: NDArray[np.float32]
    indices: NDArray[np.int32]
    """Each value's column; each row's columns in ascending order."""
    indptr: NDArray[np.int64]
    """Row i's values are ``data[indptr[i]:indptr[i + 1]]``."""
    width: int

    @property
    def height(self) -> int:
        return len(self.indptr) - 1

    def matrix(self) -> sp.csr_matrix:
        import scipy.sparse as sp

        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=(self.height, self.width))

    def row(self, i: int) -> Vector:
        start, end = int(self.indptr[i]), int(self.indptr[i + 1])
        return Vector(self.indices[start:end], self.data[start:end])

    def row_of_values(self) -> NDArray[np.int64]:
        """The row of each value."""
        return np.repeat(np.arange(self.height, dtype=np.int64), np.diff(self.indptr))

    def take(self, rows: NDArray[np.int64]) -> Rows:
        """The given rows, in the given order."""
        lengths = np.diff(self.indptr)[rows]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        at = np.repeat(self.indptr[rows] - indptr[:-1], lengths) + np.arange(indptr[-1], dtype=np.int64)
        return Rows(self.data[at], self.indices[at], indptr, self.width)

    def renumbered(self, mapping: NDArray[np.int32], width: int) -> Rows:
        """The columns renumbered (column c becomes ``mapping[c]``), each row's in ascending order again."""
        indices = mapping[self.indices].astype(np.int32) if len(self.indices) else self.indices
        if np.all(mapping[1:] > mapping[:-1]):  # the order kept
            return Rows(self.data, indices, self.indptr, width)
        order = np.lexsort((indices, self.row_of_values()))
        return Rows(self.data[order], indices[order], self.indptr, width)

    @staticmethod
    def stacked(parts: Sequence[Rows], width: int) -> Rows:
        """The rows of ``parts`` one after the other (all of ``width`` columns)."""
        offsets = np.cumsum([0] + [int(p.indptr[-1]) for p in parts])
        indptr = np.concatenate(
            [np.zeros(1, dtype=np.int64)] + [p.indptr[1:] + o for p, o in zip(parts, offsets[:-1], strict=True)]
        )
        return Rows(
            np.concatenate([np.zeros(0, dtype=np.float32)] + [p.data for p in parts]),
            np.concatenate([np.zeros(0, dtype=np.int32)] + [p.indices for p in parts]),
            indptr.astype(np.int64),
            width,
        )

    def scores(self, query: Vector) -> NDArray[np.float64]:
        """Each row's dot product with ``query``."""
        dense = np.zeros(self.width, dtype=np.float32)
        known = query.columns < self.width
        dense[query.columns[known]] = query.values[known]
        products = np.append(self.data * dense[self.indices], np.float32(0)).astype(np.float64)
        sums = np.add.reduceat(products, self.indptr[:-1]) if self.height else np.zeros(0)
        sums[self.indptr[:-1] == self.indptr[1:]] = 0.0  # reduceat gives an empty row its next value
        return sums


class Vector(NamedTuple):
    """One sparse row: its columns (ascending) and values."""

    columns: NDArray[np.int32]
    values: NDArray[np.float32]


def count_matrix(rows: Sequence[Mapping[str, float]], vocabulary: dict[str, int]) -> Rows:
    """Rows x terms weighted counts; new terms are added to ``vocabulary`` (in the order first met)."""
    terms = list(chain.from_iterable(rows))
    fresh = [term for term in dict.fromkeys(terms) if term not in vocabulary]
    vocabulary.update(zip(fresh, range(len(vocabulary), len(vocabulary) + len(fresh)), strict=True))
    columns = np.fromiter(map(vocabulary.__getitem__, terms), dtype=np.int32, count=len(terms))
    values = np.fromiter(chain.from_iterable(counts.values() for counts in rows), dtype=np.float32, count=len(terms))
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    order = np.lexsort((columns, np.repeat(np.arange(len(rows), dtype=np.int64), lengths)))
    return Rows(values[order], columns[order], indptr, len(vocabulary))


def sorted_count_matrix(rows: Sequence[Mapping[str, float]]) -> tuple[dict[str, int], Rows]:
    """Rows x terms weighted counts over a vocabulary of their terms in sorted order (term ->
    column): the vocabularies of several such matrices merge into one in sorted order by a
    renumbering that keeps each row's columns in order, so nothing is sorted again."""
    vocabulary = {term: col for col, term in enumerate(sorted(set(chain.from_iterable(rows))))}
    return vocabulary, count_matrix(rows, vocabulary)


def idf(counts: Rows, rows: NDArray[np.bool_]) -> NDArray[np.float32]:
    """Smoothed inverse document frequency of each term over the ``rows`` picked (as
    scikit-learn's TfidfTransformer)."""
    n = int(np.count_nonzero(rows))
    picked = np.repeat(rows, np.diff(counts.indptr))
    df = np.bincount(counts.indices[picked], minlength=counts.width).astype(np.float64)
    weights: NDArray[np.float32] = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
    return weights


def weigh(counts: Rows, weights: NDArray[np.float32]) -> Rows:
    """Sublinear TF times IDF, each row scaled to unit length."""
    data = np.log1p(counts.data, dtype=np.float32) * weights[counts.indices]
    norms = np.sqrt(np.bincount(counts.row_of_values(), weights=data.astype(np.float64) ** 2, minlength=counts.height))
    norms[norms == 0] = 1.0
    scale = (1.0 / norms).astype(np.float32)
    return Rows(data * np.repeat(scale, np.diff(counts.indptr)), counts.indices, counts.indptr, counts.width)


def text_vector(terms: Mapping[str, float], vocabulary: Mapping[str, int], weights: NDArray[np.float32]) -> Vector:
    """The unit-length TF-IDF vector of a text's terms (those the vocabulary knows)."""
    known = sorted((vocabulary[t], count) for t, count in terms.items() if t in vocabulary)
    columns = np.array([c for c, _ in known], dtype=np.int32)
    values = np.log1p(np.array([v for _, v in known], dtype=np.float32)) * weights[columns]
    norm = float(np.sqrt(np.sum(values.astype(np.float64) ** 2)))
    return Vector(columns, values / np.float32(norm) if norm else values)
