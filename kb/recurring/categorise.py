"""Categories for failures that have none, inferred from what each failure is about.

Curated cues per category (``category_rules``) are matched in the title (counting
three times) and in the description, root cause, error and the model response's prose;
the category with the highest total wins, with a confidence from its lead over the
runner-up. A category of a custom taxonomy that has no curated cues is recognised by the
words of its id and title. When no cue matches, a failure is `configuration` (what the
task asked for, done wrong) with a low confidence. An inferred category is marked
(`inferred: {category: 0.72}`) and never replaces one an author or document stated.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from kb.models import Failure, Taxonomy
from kb.recurring.category_rules import CUES

TITLE_WEIGHT = 3.0
BODY_CHARS = 2500
"""Only the start of the prose is read: the mistake is stated early, later text wanders."""
FALLBACK = "configuration"
FALLBACK_CONFIDENCE = 0.2
_MARKUP = re.compile(r"[*_`#>\[\]]+")
_FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)

_START = 3
"""Characters of a cue's leading text that index it (``Rules.candidates``)."""
_STARTS = re.compile(rf"(?<![a-z0-9])(?=(.{{1,{_START}}}))", re.DOTALL)
"""The first characters at each place a cue may match (every cue starts where a word does)."""
_LEADS_KEPT = 1 << 16
"""Leading texts whose cues ``Rules.candidates`` keeps at most."""


@dataclass(frozen=True)
class Inference:
    """A category inferred for a failure, and how sure of it kb is (0 to 1)."""

    category: str
    confidence: float


@dataclass(frozen=True)
class Rules:
    """The compiled cues of a taxonomy's categories, in its order, indexed by how they start.

    Every cue matches where a word starts, and most begin with literal text, so a cue
    whose leading text starts none of a text's words cannot match it and is not tried:
    of a failure's hundreds of searches a few dozen are run, with the same results.
    """

    categories: tuple[str, ...]
    cues: tuple[tuple[int, re.Pattern[str], float], ...]
    """Every category's cues in order: (the category's position, the pattern, its weight)."""
    starts: dict[str, frozenset[int]]
    """The cues (by position in ``cues``) whose leading text begins with the key."""
    unindexed: frozenset[int]
    """Cues with an alternative of unknown start: always tried."""
    lengths: tuple[int, ...]
    """The lengths of the keys of ``starts``."""
    leads: dict[str, tuple[int, ...]] = field(default_factory=dict, compare=False, repr=False)
    """The cues each leading text found so far may start (the same words start most texts)."""

    def __len__(self) -> int:
        return len(self.categories)

    def candidates(self, text: str) -> dict[int, list[int] | None]:
        """The cues that may match ``text``, each with the places a match may start (None: anywhere)."""
        places: dict[str, list[int]] = {}
        for start in _STARTS.finditer(text):
            places.setdefault(start[1], []).append(start.start())
        found: dict[int, list[int] | None] = dict.fromkeys(self.unindexed)
        for lead, at in places.items():
            cues = self.leads.get(lead)
            if cues is None:
                if len(self.leads) >= _LEADS_KEPT:
                    self.leads.clear()
                cues = self.leads[lead] = tuple(n for k in self.lengths for n in self.starts.get(lead[:k], ()))
            for number in cues:
                if (cue := found.setdefault(number, [])) is not None:
                    cue.extend(at)
        return found


@cache
def _compiled(categories: tuple[tuple[str, str], ...]) -> Rules:
    compiled: list[tuple[int, re.Pattern[str], float]] = []
    starts: dict[str, set[int]] = {}
    unindexed: set[int] = set()
    for order, (category, title) in enumerate(categories):
        cues = CUES.get(category)
        if cues is None:
            words = sorted({w for w in re.findall(r"[a-z0-9]{3,}", f"{category} {title}".lower())})
            cues = [(re.escape(w), 2.0) for w in words]
        for cue, weight in cues:
            leads = literals(cue)
            if leads is None:
                unindexed.add(len(compiled))
            for lead in leads or ():
                starts.setdefault(lead[:_START], set()).add(len(compiled))
            compiled.append((order, re.compile(rf"(?<![a-z0-9])(?:{cue})"), weight))
    names = tuple(category for category, _ in categories)
    lengths = tuple(sorted({len(key) for key in starts}))
    return Rules(names, tuple(compiled), {k: frozenset(v) for k, v in starts.items()}, frozenset(unindexed), lengths)


_META = frozenset("\\.^$*+?{}[]()|")
_QUANTIFIERS = frozenset("?*+{")


def literals(pattern: str) -> tuple[str, ...] | None:
    """Texts one of which every match of ``pattern`` starts with: each alternative's leading
    literal text (None when an alternative starts otherwise, e.g. with a class)."""
    found: list[str] = []
    for alternative in _alternatives(pattern):
        lead = _leading(alternative)
        if lead is None:
            return None
        found.extend(lead)
    return tuple(found)


def _alternatives(pattern: str) -> list[str]:
    """``pattern`` split at its top-level ``|``."""
    parts, start, i = [], 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 1
        elif char == "[":
            i = _class_end(pattern, i)
        elif char == "(":
            i = _group_end(pattern, i)
        elif char == "|":
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


def _class_end(pattern: str, i: int) -> int:
    """The index of the ``]`` closing the character class opened at ``i``."""
    i += 2 if pattern[i + 1 : i + 2] == "^" else 1
    i += 1  # a `]` first in a class is a literal
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i


def _group_end(pattern: str, i: int) -> int:
    """The index of the ``)`` closing the group opened at ``i`` (``len(pattern)`` if none does)."""
    depth = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 1
        elif char == "[":
            i = _class_end(pattern, i)
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return i


def _leading(alternative: str) -> tuple[str, ...] | None:
    """What every match of one alternative starts with, after its zero-width assertions."""
    i = 0
    while True:
        if alternative.startswith("\\b", i):
            i += 2
        elif alternative.startswith(("(?<!", "(?<=", "(?!", "(?="), i):
            i = _group_end(alternative, i) + 1
        else:
            break
    if alternative.startswith("(?:", i):
        end = _group_end(alternative, i)
        if end >= len(alternative) or alternative[end + 1 : end + 2] in _QUANTIFIERS:
            return None
        return literals(alternative[i + 3 : end])
    lead: list[str] = []
    while i < len(alternative):
        char = alternative[i]
        if char == "\\" and i + 1 < len(alternative) and not alternative[i + 1].isalnum():
            char, step = alternative[i + 1], 2  # an escaped symbol (`\.`) is itself
        elif char in _META:
            break
        else:
            step = 1
        if alternative[i + step : i + step + 1] in _QUANTIFIERS:
            break  # a quantifier may repeat or drop it
        lead.append(char)
        i += step
    return ("".join(lead),) if lead else None


def rules_for(categories: Iterable[str] | Taxonomy) -> Rules:
    """The compiled cues of a taxonomy (or of bare category ids), in its order."""
    if isinstance(categories, Taxonomy):
        pairs = tuple((c.id, c.title) for c in categories.categories)
    else:
        pairs = tuple((c, "") for c in categories)
    return _compiled(pairs)


def _plain(text: str) -> str:
    return " ".join(_MARKUP.sub(" ", _FENCE.sub(" ", text)).lower().split())


def texts(data: Mapping[str, Any]) -> tuple[str, str]:
    """A failure's (plain data) title, and the start of its prose, lowercase and unmarked."""
    parts = [data.get("description"), data.get("root_cause"), data.get("error")]
    model = data.get("model_response")
    if isinstance(model, Mapping):
        parts.append(model.get("text"))
    group = data.get("group")
    body = " ".join(p for p in parts if isinstance(p, str))[:BODY_CHARS]
    title = data.get("title")
    return _plain(title if isinstance(title, str) else ""), _plain(body + " " + (group or ""))


def infer_category(data: Mapping[str, Any], rules: Rules) -> Inference | None:
    """The best category for a failure (plain data), or None when the taxonomy is empty."""
    if not rules:
        return None
    title, body = texts(data)
    in_title, in_body = rules.candidates(title), rules.candidates(body)
    totals = [0.0] * len(rules.categories)
    for number in sorted(in_title.keys() | in_body.keys()):  # each category's cues in order, as if all were tried
        order, pattern, weight = rules.cues[number]
        if number in in_title and _matches(pattern, title, in_title[number]):
            totals[order] += TITLE_WEIGHT * weight
        if number in in_body and _matches(pattern, body, in_body[number]):
            totals[order] += weight
    scores = sorted(((total, -order, rules.categories[order]) for order, total in enumerate(totals)), reverse=True)
    best, second = scores[0][0], scores[1][0] if len(scores) > 1 else 0.0
    if best <= 0:
        fallback = FALLBACK if FALLBACK in rules.categories else rules.categories[0]
        return Inference(fallback, FALLBACK_CONFIDENCE)
    confidence = min(0.95, max(0.05, (best - second + 1.0) / (best + 2.0)))
    return Inference(scores[0][2], round(0.3 + 0.65 * confidence, 2))


def _read_fields(failure: Failure) -> dict[str, Any]:
    """What ``texts`` reads of a failure, as its plain data has it (a default value is left out)."""
    model = failure.model_response
    return {
        "title": failure.title,
        "description": failure.description,
        "root_cause": failure.root_cause,
        "error": failure.error,
        "model_response": {"text": model.text} if model is not None and model.text else None,
        "group": failure.group,
    }


def _matches(pattern: re.Pattern[str], text: str, places: list[int] | None) -> bool:
    """Whether ``pattern`` matches ``text``, trying only ``places`` when they are known: a cue's
    leading look-behind makes ``search`` try every place in the text."""
    if places is None:
        return pattern.search(text) is not None
    return any(pattern.match(text, place) for place in places)


def categorised(failure: Failure, rules: Rules) -> Failure:
    """The failure with an inferred category when it has none (and is a failure); else itself."""
    if failure.category is not None or not failure.is_failure or not rules:
        return failure
    found = infer_category(_read_fields(failure), rules)
    if found is None:
        return failure
    return failure.model_copy(
        update={"category": found.category, "inferred": {**failure.inferred, "category": found.confidence}}
    )


def categorise_failures(failures: list[Failure], categories: Collection[str]) -> list[Failure]:
    """Categories inferred for those of ``failures`` that have none (the import's hook)."""
    known = list(CUES)
    ordered = sorted(categories, key=lambda c: (known.index(c) if c in known else len(known), c))
    rules = rules_for(ordered)
    return [categorised(f, rules) for f in failures]


@dataclass
class Categorised:
    """What `kb categorise` did."""

    changed: list[Path] = field(default_factory=list)
    by_category: dict[str, int] = field(default_factory=dict)
    already: int = 0
    """Failures that had a category."""


def categorise_kb(root: Path | str, *, dry_run: bool = False) -> Categorised:
    """Infer a category for each published failure of the KB at ``root`` that has none.

    A record file kb wrote (its text is what kb would write) is rewritten whole; a
    hand-edited one keeps every byte and gets the two keys appended. ``dry_run`` writes nothing.
    """
    from kb.atomic import write_text
    from kb.importer.taxonomy import DEFAULT_CATEGORIES
    from kb.store import dump_record, load_kb

    kb = load_kb(root)
    known = list(CUES)
    rules = (
        rules_for(kb.taxonomy)
        if kb.taxonomy
        else rules_for(sorted(DEFAULT_CATEGORIES, key=lambda c: known.index(c) if c in known else len(known)))
    )
    result = Categorised()
    counts: dict[str, int] = {}
    for case in kb.cases:
        for loaded in case.failures:
            failure = loaded.failure
            if not failure.is_failure or failure.status.value == "draft":
                continue
            if failure.category is not None:
                result.already += 1
                continue
            updated = categorised(failure, rules)
            if updated.category is None:
                continue
            counts[updated.category] = counts.get(updated.category, 0) + 1
            result.changed.append(loaded.path)
            if dry_run:
                continue
            text = loaded.path.read_text(encoding="utf-8")
            if text == dump_record(failure):
                write_text(loaded.path, dump_record(updated))
            else:
                confidence = updated.inferred["category"]
                tail = "" if text.endswith("\n") else "\n"
                write_text(
                    loaded.path, f"{text}{tail}category: {updated.category}\ninferred:\n  category: {confidence}\n"
                )
    result.by_category = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return result
