"""Precision of `kb similar` on judged pairs, next to a plain TF-IDF baseline.

    python benchmarks/similar_quality.py --kb IMPORTED_CORPUS_KB [--show]

``data/similar_judged.json`` holds, for 30 query failures of an import of
``../shared/corpus``, the candidates a reader judged `same` (the same mistake),
`related` (same service or theme, another mistake) or `different`: ids only, no corpus
text. For each method it prints the share of the top 5 (same case left out) judged the
same mistake and the share judged different; candidates nobody judged are counted apart
(`--show` lists them, to judge and add).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.recurring.features import field_texts  # noqa: E402
from kb.recurring.similar import find_similar  # noqa: E402

JUDGED = Path(__file__).parent / "data" / "similar_judged.json"


def tfidf_baseline(kb: Path) -> dict[str, list[str]]:
    """Plain scikit-learn TF-IDF over all of a failure's text, same case left out."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    ids, cases, texts = [], [], []
    for path in sorted(kb.glob("*/[0-9]*.yaml")):
        data = yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
        if not isinstance(data, dict) or data.get("kind", "failure") != "failure":
            continue
        prose, code, _ = field_texts(data)
        ids.append(f"{path.parent.name}/{data['id']}")
        cases.append(path.parent.name)
        texts.append("\n".join([*prose.values(), code]))
    matrix = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(texts)
    case_of = np.array(cases)

    def top(i: int) -> list[str]:
        scores = (matrix @ matrix[i].T).toarray().ravel()
        scores[case_of == case_of[i]] = -1
        return [ids[j] for j in np.argsort(-scores, kind="stable")[:5]]

    position = {x: i for i, x in enumerate(ids)}
    return {q: top(position[q]) for q in json.loads(JUDGED.read_text())["queries"] if q in position}


def score(name: str, ranked: dict[str, list[str]], judged: dict[str, dict[str, str]], show: bool) -> str:
    same = different = unjudged = 0
    for query, judgements in judged.items():
        for candidate in ranked.get(query, [])[:5]:
            verdict = judgements.get(candidate)
            if verdict is None:
                unjudged += 1
                if show:
                    print(f"unjudged ({name}): {query} -> {candidate}", file=sys.stderr)
            same += verdict == "same"
            different += verdict == "different"
    slots = 5 * len(judged)
    return f"| {name} | {same / slots:.3f} | {different / slots:.3f} | {unjudged} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=Path, required=True, help="an import of ../shared/corpus")
    parser.add_argument("--show", action="store_true", help="list the candidates nobody judged")
    args = parser.parse_args()
    judged = json.loads(JUDGED.read_text())["queries"]
    ours = {}
    for query in judged:
        try:
            ours[query] = [m.id for m in find_similar(args.kb, query, n=5).results]
        except Exception as exc:  # a query the current importer titles differently
            print(f"skipped {query}: {exc}", file=sys.stderr)
    best = sum(min(5, sum(v == "same" for v in js.values())) for js in judged.values()) / (5 * len(judged))
    print(f"{len(judged)} queries; the best any ranking of the judged candidates gets: {best:.3f}\n")
    print("| method | same mistake @5 | unrelated @5 | unjudged |")
    print("|---|---|---|---|")
    print(score("plain TF-IDF (scikit-learn)", tfidf_baseline(args.kb), judged, args.show))
    print(score("kb similar", ours, judged, args.show))


if __name__ == "__main__":
    main()
