"""Term weights -> TF-IDF vectors (scikit-learn), and cosine ranking against them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray


def count_matrix(rows: Sequence[Mapping[str, float]], vocabulary: dict[str, int]) -> sp.csr_matrix:
    """A sparse rows x terms matrix of weighted counts; new terms are added to ``vocabulary``."""
    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for counts in rows:
        for term in sorted(counts):
            col = vocabulary.setdefault(term, len(vocabulary))
            indices.append(col)
            data.append(counts[term])
        indptr.append(len(indices))
    shape = (len(rows), len(vocabulary))
    return sp.csr_matrix(
        (np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int64)),
        shape=shape,
    )


def idf(counts: sp.csr_matrix) -> NDArray[np.float32]:
    """Smoothed inverse document frequency of each term (as scikit-learn's TfidfTransformer)."""
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)
    weights: NDArray[np.float32] = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
    return weights


def weigh(counts: sp.csr_matrix, weights: NDArray[np.float32]) -> sp.csr_matrix:
    """Sublinear TF times IDF, each row scaled to unit length."""
    matrix = counts.astype(np.float32, copy=True)
    if matrix.shape[1] < weights.shape[0]:
        matrix.resize((matrix.shape[0], weights.shape[0]))
    matrix.data = np.log1p(matrix.data) * weights[matrix.indices]
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms).astype(np.float32) @ matrix)
