"""Recurring failures: what a failure is about (``features``), near-copies (``copies``),
the similarity index in kb's cache (``index``), ranking (``similar``), patterns across
cases (``patterns``), categories inferred from the taxonomy (``categorise``) and the
checks of `related` links and near-identical failures (``links``).
"""
