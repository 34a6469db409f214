"""The index's sparse rows in numpy (`kb.recurring.vectors.Rows`) agree with scipy's matrices."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from kb.recurring.vectors import Rows, Vector, count_matrix, idf, text_vector, weigh


def rows_of(matrix: sp.csr_matrix) -> Rows:
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    matrix.sort_indices()
    return Rows(matrix.data, matrix.indices.astype(np.int32), matrix.indptr.astype(np.int64), matrix.shape[1])


def sample() -> sp.csr_matrix:
    """Rows with empty ones first, in the middle and last (where ``np.add.reduceat`` would go wrong)."""
    dense = np.random.default_rng(7).integers(0, 3, size=(9, 6)).astype(np.float32)
    dense[[0, 4, 8]] = 0
    return sp.csr_matrix(dense)


def test_scores_are_the_dot_products_with_every_row() -> None:
    matrix = sample()
    query = Vector(np.array([1, 3, 5], dtype=np.int32), np.array([0.5, 2.0, 1.0], dtype=np.float32))
    dense_query = np.zeros(6, dtype=np.float32)
    dense_query[[1, 3, 5]] = [0.5, 2.0, 1.0]
    np.testing.assert_allclose(rows_of(matrix).scores(query), matrix @ dense_query, rtol=1e-6)
    assert rows_of(sp.csr_matrix((0, 6), dtype=np.float32)).scores(query).shape == (0,)


def test_rows_taken_renumbered_and_stacked_are_scipys() -> None:
    matrix = sample()
    rows = rows_of(matrix)
    order = np.array([5, 0, 8, 2, 2], dtype=np.int64)
    assert (rows.take(order).matrix() != matrix[order]).nnz == 0
    mapping = np.array([4, 0, 5, 1, 3, 2], dtype=np.int32)  # column c becomes mapping[c]
    moved = rows.renumbered(mapping, 6)
    expected = sp.csr_matrix(matrix[:, np.argsort(mapping)])
    assert (moved.matrix() != expected).nnz == 0
    for i in range(moved.height):  # each row's columns ascending, as scipy's sorted form
        assert (np.diff(moved.row(i).columns) > 0).all()
    stacked = Rows.stacked([rows, rows.take(order)], 6)
    assert (stacked.matrix() != sp.vstack([matrix, matrix[order]], format="csr")).nnz == 0
    assert Rows.stacked([], 6).height == 0


def test_weights_are_unit_length_tf_idf_and_a_text_vector_is_weighed_alike() -> None:
    vocabulary: dict[str, int] = {}
    counts = count_matrix([{"kms": 2.0, "logs": 1.0}, {"logs": 1.0}, {}, {"tags": 3.0}], vocabulary)
    weights = idf(counts, np.ones(counts.height, dtype=bool))
    weighted = weigh(counts, weights)
    norms = np.sqrt(np.bincount(weighted.row_of_values(), weights=weighted.data**2, minlength=weighted.height))
    np.testing.assert_allclose(norms, [1, 1, 0, 1], rtol=1e-6)
    query = text_vector({"kms": 2.0, "logs": 1.0, "unknown": 5.0}, vocabulary, weights)
    np.testing.assert_allclose(query.values, weighted.row(0).values, rtol=1e-6)
    assert weighted.scores(query)[0] == np.float64(weighted.scores(query).max())


def test_count_matrix_adds_terms_in_the_order_met_and_sorts_each_row() -> None:
    vocabulary = {"tags": 0}
    counts = count_matrix([{"logs": 1.0, "kms": 2.0}, {}, {"kms": 0.5, "tags": 3.0}], vocabulary)
    assert vocabulary == {"tags": 0, "logs": 1, "kms": 2}
    assert counts.indptr.tolist() == [0, 2, 2, 4]
    assert counts.indices.tolist() == [1, 2, 0, 2]
    assert counts.data.tolist() == [1.0, 2.0, 3.0, 0.5]
    assert count_matrix([], vocabulary).height == 0
