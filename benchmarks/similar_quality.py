"""Precision of `kb similar` on judged pairs, next to a plain TF-IDF baseline.

    python benchmarks/similar_quality.py --kb IMPORTED_CORPUS_KB [--show]

``data/similar_judged.json`` holds, for 70 query failures of an import of
``../shared/corpus`` (ids only, no corpus text), candidates a reader judged by reading
both records whole (title, root cause, error, description, model and ideal text and code):

- `same`: the same mistake, i.e. the same root cause and the same fix in the IaC sense
  (a KMS key policy without the CloudWatch Logs principal; outputs missing for
  integration tests), whatever the tool, language or wording;
- `related`: the same service or area but another mistake (two API Gateway failures,
  one about logging, one about authorizers);
- `different`: anything else.

How it was built: 30 queries were chosen by hand in the first round; 40 more were drawn
at random (seed 20261203) from the corpus failures, so about a third of all queries have
no twin at all, as in a real knowledge base. Candidates are pooled, as in TREC: the top 8
of `kb similar` (before this round's changes, no score threshold), of plain TF-IDF over a
failure's whole text, and of TF-IDF over its title, root cause, error and description,
same case and near-copies left out; every pooled candidate was judged, blind to which
method proposed it. Candidates that rankings tried later put in their top 5 and nobody
had judged (``judged_later``: the top 5 of 15 variants of the ranking, then of the final
one) were judged the same way, by reading the pair, before those rankings were compared:
no choice was made on a figure with unjudged candidates in its top 5. Five first-round judgments were revised on re-reading (listed under
``revised``); six candidates whose ids the importer no longer produces were dropped.

The queries are split in two halves by a hash of their id (``split``): `dev` to develop
against, `heldout` to check that a change generalises. Ranking changes are judged on the
dev half only; the held-out figures are read, never tuned on.

The measure, per method and half: of the top 5 for each query (same case and near-copies
left out), the share judged the same mistake (same@5) and the share judged different
(unrelated@5), both over 5 slots per query. Showing fewer than 5 results when nothing
else is similar costs nothing on same@5 and lowers unrelated@5, as it should (a missing
result is better than an unrelated one); the mean number shown and the precision among
the shown results are printed beside them. A candidate nobody judged counts as neither
same nor different (`--show` lists them, to judge and add); the best any ranking of the
judged candidates can get is printed as the ceiling.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.recurring.features import field_texts  # noqa: E402
from kb.recurring.index import load_index  # noqa: E402
from kb.recurring.similar import MIN_SCORE, find_similar  # noqa: E402

JUDGED = Path(__file__).parent / "data" / "similar_judged.json"
TOP = 5
Ranking = dict[str, list[str]]


def tfidf_baseline(kb: Path, queries: list[str]) -> Ranking:
    """Plain scikit-learn TF-IDF over all of a failure's text (sublinear TF, English stop
    words), same case and near-copies left out as for `kb similar`."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    index = load_index(kb)
    ids, texts = [], []
    for row in index.rows:
        data = yaml.load((kb / row.path).read_bytes(), Loader=yaml.CSafeLoader)
        prose, code, _ = field_texts(data)
        ids.append(row.id)
        texts.append("\n".join([*prose.values(), code]))
    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit(
        [t for t, failure in zip(texts, index.failure_mask, strict=True) if failure]
    )
    matrix = vectorizer.transform(texts)
    position = {x: i for i, x in enumerate(ids)}

    def top(i: int) -> list[str]:
        scores = (matrix @ matrix[i].T).toarray().ravel()
        scores[(index.groups == index.groups[i]) | ~index.failure_mask] = -1
        return [ids[j] for j in np.argsort(-scores, kind="stable")[:TOP]]

    return {q: top(position[q]) for q in queries if q in position}


def kb_similar(kb: Path, queries: list[str], min_score: float = MIN_SCORE) -> Ranking:
    ranked = {}
    for query in queries:
        try:
            ranked[query] = [m.id for m in find_similar(kb, query, n=TOP, min_score=min_score).results]
        except Exception as exc:  # a query the current importer names differently
            print(f"skipped {query}: {exc}", file=sys.stderr)
    return ranked


def score(ranked: Ranking, judged: Mapping[str, Mapping[str, str]], show: str = "") -> tuple[float, ...]:
    """same@5, unrelated@5, mean shown, precision among shown, unjudged count."""
    same = different = shown = unjudged = 0
    for query, judgements in judged.items():
        for candidate in ranked.get(query, [])[:TOP]:
            verdict = judgements.get(candidate)
            shown += 1
            if verdict is None:
                unjudged += 1
                if show:
                    print(f"unjudged ({show}): {query} -> {candidate}", file=sys.stderr)
            same += verdict == "same"
            different += verdict == "different"
    slots = TOP * len(judged)
    return same / slots, different / slots, shown / len(judged), same / shown if shown else 0.0, unjudged


def ceiling(judged: Mapping[str, Mapping[str, str]]) -> float:
    return sum(min(TOP, sum(v == "same" for v in js.values())) for js in judged.values()) / (TOP * len(judged))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=Path, required=True, help="an import of ../shared/corpus")
    parser.add_argument("--show", action="store_true", help="list the candidates nobody judged")
    args = parser.parse_args()
    data = json.loads(JUDGED.read_text())
    queries: dict[str, dict[str, str]] = data["queries"]
    halves = {part: {q: js for q, js in queries.items() if data["split"][q] == part} for part in ("dev", "heldout")}
    methods: dict[str, Callable[[Path, list[str]], Ranking]] = {
        "plain TF-IDF (scikit-learn)": tfidf_baseline,
        "kb similar, no score threshold": lambda kb, queries: kb_similar(kb, queries, min_score=0.0),
        "kb similar": kb_similar,
    }
    ranked = {name: method(args.kb, list(queries)) for name, method in methods.items()}
    print(f"{len(queries)} queries, {sum(map(len, queries.values()))} judged pairs\n")
    print("| method | half | same@5 | unrelated@5 | shown | precision | unjudged |")
    print("|---|---|---|---|---|---|---|")
    for part, judged in halves.items():
        print(f"| (ceiling) | {part} ({len(judged)}) | {ceiling(judged):.3f} | | | | |")
        for name in methods:
            same, different, shown, precision, unjudged = score(ranked[name], judged, name if args.show else "")
            print(f"| {name} | {part} | {same:.3f} | {different:.3f} | {shown:.1f} | {precision:.3f} | {unjudged} |")


if __name__ == "__main__":
    main()
