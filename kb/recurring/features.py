"""What a failure is about, as weighted terms: words of its title, root cause, error and
prose (boilerplate left out), the AWS services it names and the identifiers of its code.

Works on plain record data (the dict a YAML file parses to), so the index can be built
without validating every record; the same function serves a free-text query.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kb.names import service_of_word

FIELD_WEIGHTS: dict[str, float] = {
    "title": 3.0,
    "root_cause": 1.5,
    "error": 1.5,
    "description": 1.0,
    "model_response": 1.0,
    "ideal_response": 0.5,
    "location": 0.5,
    "lessons": 0.5,
    "extra": 1.0,
}
"""How much a word counts by the field it is in: the title and root cause say what the
mistake is; the fix's prose and the lessons mostly repeat it in other words. `extra` is the
text of labelled sections the schema has no field for (`Symptoms`, `Issue`, `Notes`): for
about one imported failure in eleven it is all the failure says."""
Terms = dict[str, float]
"""Weighted terms: how much each term counts in a record."""
SERVICE_WEIGHT = 2.0
RESOURCE_WEIGHT = 1.5
PROPERTY_WEIGHT = 0.5
BIGRAM_WEIGHT = 1.0
"""Adjacent content words of the title and root cause (`key policy`, `environment suffix`)."""


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


BOILERPLATE = _word_set(
    """
    model response responses ideal failure failures fail failed issue issues problem problems
    impact critical high medium low severity level category categories root cause causes
    fix fixed fixes fixing correct correctly corrected incorrect incorrectly wrong properly proper
    missing lack lacks lacking instead without need needs needed required requires requirement
    requirements should would could must can cannot may might also not no yes use used uses using
    code implementation implemented implement implements generated generate provided provide
    provides expected actual resulting result results example examples line lines file files
    stack stacks resource resources configuration configured configure config setting settings
    aws amazon infrastructure iac template templates property properties value values parameter
    parameters deploy deployment deployed deploying production prod environment environments
    best practice practices training lesson lessons learn learned documentation docs reference
    the and for with that this from into its are was were has have had been being but which when
    where what who why how than then there their they them these those such only other all any
    each every both more most less least very just like same own one two three first second new
    will does did doing done make makes made get gets got set sets add adds added adding
    include includes included including ensure ensures ensured allow allows allowed
    don doesn isn aren won didn wasn weren haven hasn shouldn wouldn couldn
    """
)
"""Words every failure analysis uses whatever its mistake: labels, IaC generics, English glue."""

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:['’][a-z]+)?")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_INLINE = re.compile(r"`([^`\n]+)`")
_TF_TYPE = re.compile(r"\baws_([a-z0-9]+(?:_[a-z0-9]+)+)\b")
_CFN_TYPE = re.compile(r"\bAWS::([A-Za-z0-9]+)::([A-Za-z0-9]+)\b")
_SDK_TYPE = re.compile(r"\b(?:aws\.)?([a-z][a-z0-9_]*)\.(?:Cfn)?([A-Z][A-Za-z0-9]+)\b")
_IDENT = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*[a-z][A-Z_][A-Za-z0-9_]*\b|\b[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*\b")
_SDK_MODULES = _word_set(
    """s3 ec2 iam kms lambda lambda_ sqs sns rds dynamodb ecs eks elbv2 cloudwatch logs events
    apigateway apigatewayv2 cloudfront route53 secretsmanager ssm wafv2 config cloudtrail
    guardduty kinesis stepfunctions sfn efs elasticache backup ecr codebuild codepipeline
    cognito glue athena opensearch neptune xray autoscaling appsync batch ses shield"""
)


_VOWELS = frozenset("aeiou")


def _consonant(word: str, i: int) -> bool:
    char = word[i]
    if char in _VOWELS:
        return False
    return not (char == "y" and i > 0 and _consonant(word, i - 1))


def _measure(stem: str) -> int:
    """Porter's m: the number of vowel-consonant sequences."""
    pattern = "".join("c" if _consonant(stem, i) else "v" for i in range(len(stem)))
    return len(re.findall(r"v+c+", pattern))


def stem(word: str) -> str:
    """Porter's steps 1a and 1b, and a final `e` dropped from longer words: `permissions`/
    `permission`, `policies`/`policy`, `testing`/`test`, `logging`/`log`, `routing`/`route`."""
    found = _stem(word)
    return found[:-1] if len(found) > 4 and found.endswith("e") else found


def _stem(word: str) -> str:
    if len(word) <= 3:
        return word
    if word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("ies"):
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        base = word[: -len(suffix)]
        if word.endswith(suffix) and len(base) >= 3 and any(not _consonant(base, i) for i in range(len(base))):
            if base.endswith(("at", "bl", "iz")):
                return base + "e"
            if base[-1] == base[-2] and base[-1] not in "lsz" and _consonant(base, len(base) - 1):
                return base[:-1]
            cvc = (
                _consonant(base, -3 % len(base))
                and not _consonant(base, len(base) - 2)
                and _consonant(base, len(base) - 1)
            )
            if cvc and base[-1] not in "wxy" and _measure(base) == 1:
                return base + "e"
            return base
    return word


@functools.lru_cache(maxsize=1 << 16)
def _normal(token: str) -> tuple[str, ...]:
    """One token's content words (`RemovalPolicy` -> `removal`, `policy`; `CloudWatch` -> `cloudwatch`)."""
    mixed = not token.islower() and not token.isupper() and not service_of_word(token)
    parts = _CAMEL.findall(token) if mixed else [token]
    out = []
    for part in parts:
        word = part.lower().split("'")[0].split("’")[0]
        if len(word) >= 3 and word not in BOILERPLATE:
            out.append(stem(word))
    return tuple(out)


def surface_forms(text: str) -> dict[str, str]:
    """Each term of ``text`` and a word it came from (`updat` -> `update`), to show terms as words."""
    forms: dict[str, str] = {}
    for token in _WORD.findall(text):
        mixed = not token.islower() and not token.isupper() and not service_of_word(token)
        for part in _CAMEL.findall(token) if mixed else [token]:
            word = part.lower()
            forms.setdefault(stem(word), word)
    return forms


def words(text: str) -> list[str]:
    """The content words of prose: lowercase, camelCase split, stemmed, boilerplate left out."""
    return [word for token in _WORD.findall(text) for word in _normal(token)]


def resource_types(code: str) -> set[str]:
    """Resource types a snippet uses, one spelling each: `aws_s3_bucket`, `AWS::S3::Bucket`,
    `s3.Bucket` and `aws.s3.BucketV2` are all `s3bucket`."""
    found = {name.replace("_", "") for name in _TF_TYPE.findall(code)} if "aws_" in code else set()
    if "AWS::" in code:
        found.update((service + kind).lower() for service, kind in _CFN_TYPE.findall(code))
    if "." in code:
        for module, kind in _SDK_TYPE.findall(code):
            module = module.rstrip("_").lower()
            if module in _SDK_MODULES:
                found.add(module + kind.lower())
    return {_VERSION.sub("", name) for name in found if len(name) > 3}


_VERSION = re.compile(r"v\d$")


def identifiers(code: str) -> set[str]:
    """Property and API names of a snippet (`removalPolicy`, `removal_policy` -> `removalpolicy`)."""
    return {name.replace("_", "").lower() for name in _IDENT.findall(code) if len(name) >= 5} if code else set()


_AMBIGUOUS = frozenset({"config", "logs", "events", "backup", "batch", "glue", "shield", "budgets", "redis"})
"""Service spellings that are also plain words: they count in prose only capitalised."""


@functools.lru_cache(maxsize=1 << 16)
def _service_token(token: str) -> str | None:
    if token.lower() in _AMBIGUOUS and not token[0].isupper():
        return None
    return service_of_word(token)


def services(names: Iterable[str], text: str) -> set[str]:
    """Services by their canonical names (`CloudWatch Logs`): those listed, and those the text names by a known spelling."""
    return _services(names, _WORD.findall(text))


def _services(names: Iterable[str], tokens: Iterable[str]) -> set[str]:
    found = {service_of_word(n) or n.strip() for n in names if n and n.strip()}
    found.update(filter(None, map(_service_token, set(tokens))))
    return {s for s in found if s}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _response(value: Any) -> tuple[str, str]:
    if not isinstance(value, Mapping):
        return "", ""
    return _text(value.get("text")), _text(value.get("code"))


def field_texts(data: Mapping[str, Any]) -> tuple[dict[str, str], str, list[str]]:
    """A failure record's prose by field, all its code joined, and its listed services."""
    model_text, model_code = _response(data.get("model_response"))
    ideal_text, ideal_code = _response(data.get("ideal_response"))
    training = data.get("training_value")
    lessons = training.get("lessons") if isinstance(training, Mapping) else None
    sections = data.get("extra")
    extra = [x.get("text") for x in sections if isinstance(x, Mapping)] if isinstance(sections, list) else []
    prose = {
        "title": _text(data.get("title")),
        "root_cause": _text(data.get("root_cause")),
        "error": _text(data.get("error")),
        "description": _text(data.get("description")),
        "model_response": model_text,
        "ideal_response": ideal_text,
        "location": _text(data.get("location")),
        "lessons": "\n".join(x for x in lessons if isinstance(x, str)) if isinstance(lessons, list) else "",
        "extra": "\n".join(x for x in extra if isinstance(x, str)),
    }
    code = [model_code, ideal_code]
    for name in ("description", "model_response", "ideal_response", "root_cause", "error", "extra"):
        if "`" not in prose[name]:  # no code in it, fenced or inline
            continue
        prose[name], fenced = split_fences(prose[name])
        code.extend(block for _, block in fenced)
        code.extend(_INLINE.findall(prose[name]))
    listed = data.get("services")
    names = [s for s in listed if isinstance(s, str)] if isinstance(listed, list) else []
    return prose, "\n".join(c for c in code if c), names


def split_fences(text: str) -> tuple[str, list[tuple[str, str]]]:
    """``text`` with each fenced code block replaced by a space, and the (info word, code) of each.

    A fence opens at three backticks, its code starts on the next line and runs to the
    next three backticks (or the end). Found with ``str.find``, so linear on any text.
    """
    prose: list[str] = []
    blocks: list[tuple[str, str]] = []
    at = 0
    while (start := text.find("```", at)) >= 0:
        newline = text.find("\n", start + 3)
        if newline < 0:
            break
        info = text[start + 3 : newline].strip("` \t").split()
        end = text.find("```", newline + 1)
        prose.append(text[at:start])
        blocks.append((info[0] if info else "", text[newline + 1 : len(text) if end < 0 else end]))
        at = len(text) if end < 0 else end + 3
    prose.append(text[at:])
    return " ".join(prose), blocks


def terms(data: Mapping[str, Any]) -> Terms:
    """The weighted terms of a failure record (plain data): what it is about."""
    return analyse(data).terms


@dataclass(frozen=True)
class Analysis:
    """What a failure record is about."""

    terms: Terms
    """Weighted terms (see the module's weights)."""
    words: list[str]
    """All the words of its text, in order (for near-copy shingles)."""
    services: list[str]
    """The services it lists or names, canonical names, sorted."""


def analyse(data: Mapping[str, Any]) -> Analysis:
    """A failure record's (plain data) weighted terms, words and services."""
    prose, code, listed = field_texts(data)
    tokens = {name: _WORD.findall(text) if text else [] for name, text in prose.items()}
    named = sorted(_services(listed, [*tokens["title"], *tokens["root_cause"], *tokens["description"]]))
    counts = _weighted(tokens, code, named)
    everything = [word for found in tokens.values() for word in found]
    everything.extend(_WORD.findall(code))
    return Analysis(counts, everything, named)


def words_of(prose: Mapping[str, str], code: str) -> list[str]:
    """All the words of a record's prose and code, in order (what near-copies are told by)."""
    return _WORD.findall("\n".join([*prose.values(), code]))


def service_term(name: str) -> str:
    """The term of a service (`CloudWatch Logs` -> `svc:cloudwatchlogs`)."""
    return "svc:" + re.sub(r"[^a-z0-9]", "", name.lower())


def _weighted(tokens: dict[str, list[str]], code: str, named: list[str]) -> Terms:
    # Every weight is a multiple of 1/2, so sums are exact in any order: each distinct token
    # is weighed once over all fields, then turned into its words.
    by_token: defaultdict[str, float] = defaultdict(float)
    counts: defaultdict[str, float] = defaultdict(float)
    for name, found_tokens in tokens.items():
        if not found_tokens:
            continue
        weight = FIELD_WEIGHTS[name]
        for token in found_tokens:
            by_token[token] += weight
        if name in ("title", "root_cause"):
            found = [word for token in found_tokens for word in _normal(token)]
            pair_weight = BIGRAM_WEIGHT * (weight / 3.0 if name == "root_cause" else 1.0)
            for a, b in itertools.pairwise(found):
                if a != b:
                    counts[f"{a}_{b}"] += pair_weight
    for token, weight in by_token.items():
        for word in _normal(token):
            counts[word] += weight
    for service in named:
        counts[service_term(service)] += SERVICE_WEIGHT
    for resource in resource_types(code):
        counts[f"res:{resource}"] += RESOURCE_WEIGHT
    for name in identifiers(code):
        counts[f"id:{name}"] += PROPERTY_WEIGHT
    return dict(counts)


def text_terms(text: str) -> Terms:
    """The terms of a free-text query, read as a failure's title and description."""
    return terms({"title": text, "description": text})
