"""Facets inferred from what a record says: the services of a failure, the platform and language of a case.

Browsing and counting group failures by AWS service, platform and language, but most
documents state none of them per failure. They can be read off the failure's own text
and code, the way a reviewer would:

- **services**: resource types in code (`aws.lambda.Function`, `aws.lambda_.Function`,
  `AWS::Lambda::Function`, `resource "aws_lambda_function"`, `new lambda.Function`,
  `lambda.NewFunction`), IAM actions (`s3:GetObject`) and service names in prose
  ("Lambda", "Amazon S3", "API Gateway"), all spelled through the one service table in
  ``kb.names``. A failure naming none keeps an empty list: the site shows the task's
  ``aws_services`` for it, marked as inherited (``effective_services``), rather than
  storing a copy.
- **platform** and **language** of a case, when its metadata gives none: from the fence
  languages of its failures' code and from syntax only one tool writes (`AWSTemplateFormatVersion`,
  `resource "aws_...`, `import * as pulumi`, `aws-cdk-lib`, `cdktf`).

An inferred value is marked with its confidence (``Failure.inferred['services']``,
``Case.inferred['platform' | 'language']``) and never replaces a stated one. The import
applies ``infer_failure`` and ``infer_case``; ``infer_kb`` (`kb infer`) fills an existing KB.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from kb.models import Case, Failure, Response, Task
from kb.names import NONE, SERVICE_NAMES, language_name, service_of_word
from kb.recurring.features import split_fences

__all__ = [
    "CODE_CONFIDENCE",
    "PROSE_CONFIDENCE",
    "Facets",
    "Inferred",
    "effective_services",
    "infer_case",
    "infer_failure",
    "infer_kb",
    "platform_of_code",
    "services_in_code",
    "services_in_prose",
]

CODE_CONFIDENCE = 0.9
"""A resource type or IAM action in the failure's code names the service."""
PROSE_CONFIDENCE = 0.7
"""Only the prose names the service (it may be mentioned in passing)."""
MAX_SERVICES = 6
"""A failure naming more services than this keeps the most mentioned: the rest are context."""
TEXT_CHARS = 20_000
"""Only the start of each field is read: enough for any real failure, bounded for pathological ones."""

# Resource types, one pattern per syntax; group 1 is the service word (or two, for Terraform).
_CODE_PATTERNS = (
    re.compile(r"\bAWS::([A-Za-z0-9]+)::[A-Za-z0-9]+"),  # CloudFormation
    re.compile(
        r"\baws_([a-z0-9]+(?:_[a-z0-9]+)?)_[a-z0-9_]+"
    ),  # Terraform: aws_lambda_function, aws_cloudwatch_log_group
    re.compile(r"\baws\.([a-z0-9]+)_?\.[A-Z][A-Za-z0-9]*"),  # Pulumi: aws.lambda.Function, aws.lambda_.Function
    re.compile(r"\bnew\s+(?:aws_|_)?([a-z][a-z0-9]*)\.[A-Z][A-Za-z0-9]*\s*\("),  # CDK: new lambda.Function(
    re.compile(r"\b(?:aws_|_)?([a-z][a-z0-9]*)\.(?:Cfn)?[A-Z][a-z][A-Za-z0-9]*\s*\("),  # CDK Python: lambda_.Function(
    re.compile(r"\b([a-z][a-z0-9]*)\.New[A-Z][A-Za-z0-9]*\("),  # Go: lambda.NewFunction(
    re.compile(r"[\"']([a-z][a-z0-9-]*):(?:[A-Z][A-Za-z0-9]*|\*)[*\"']"),  # IAM actions: "s3:GetObject"
)
_AMBIGUOUS_WORDS = frozenset({"config", "backup", "batch", "shield", "glue", "budgets", "events", "redis"})
"""Service spellings that are also everyday words: in code they count only as `AWS::X::`/`aws_x_`/`aws.x.`."""
_QUALIFIED = (0, 1, 2)
"""Indexes of the code patterns whose service word is qualified by an AWS prefix."""
_IAM_PREFIXES = {"logs": "CloudWatch Logs", "states": "Step Functions", "execute-api": "API Gateway"}
"""IAM action prefixes that are not the service's usual spelling."""


@cache
def _prose_pattern() -> re.Pattern[str]:
    """Service names as prose writes them: `Lambda`, `Amazon S3`, `API Gateway`, `AWS Config`."""
    names = sorted(SERVICE_NAMES, key=len, reverse=True)
    plain = [re.escape(n).replace(r"\ ", r"\s+") for n in names if n.lower() not in _AMBIGUOUS_WORDS]
    prefixed = [re.escape(n) for n in names if n.lower() in _AMBIGUOUS_WORDS]
    return re.compile(
        rf"(?<![\w.:/-])(?:(?:AWS|Amazon)\s+(?P<prefixed>{'|'.join(prefixed)})|(?P<plain>{'|'.join(plain)}))(?![\w])"
    )


def _service(word: str) -> str | None:
    word = word.lower()
    return _IAM_PREFIXES.get(word) or service_of_word(word)


def services_in_code(code: str) -> list[str]:
    """Services whose resource types or IAM actions appear in ``code``, most mentioned first."""
    counts: Counter[str] = Counter()
    text = code[:TEXT_CHARS]
    for index, pattern in enumerate(_CODE_PATTERNS):
        for match in pattern.finditer(text):
            word = match[1]
            if index not in _QUALIFIED and word.lower() in _AMBIGUOUS_WORDS:
                continue
            parts = word.split("_")
            found = _service("".join(parts)) if len(parts) > 1 else None
            found = found or _service(parts[0])
            if found:
                counts[found] += 1
    return [name for name, _ in counts.most_common()]


def services_in_prose(text: str) -> list[str]:
    """Services named in prose (code fences left out: ``services_in_code`` reads them), most mentioned first."""
    counts: Counter[str] = Counter()
    for match in _prose_pattern().finditer(split_fences(text[:TEXT_CHARS])[0]):
        name = match["prefixed"] or " ".join(match["plain"].split())
        canonical = _canonical(name)
        if canonical:
            counts[canonical] += 1
    return [name for name, _ in counts.most_common()]


@cache
def _canonical(name: str) -> str | None:
    lowered = name.lower()
    return next((n for n in SERVICE_NAMES if n.lower() == lowered), None)


def _fenced(text: str | None) -> list[tuple[str, str]]:
    """The (info word, code) of each fenced block in Markdown text."""
    return split_fences((text or "")[:TEXT_CHARS])[1]


def _codes(failure: Failure) -> list[tuple[str, str]]:
    """Every snippet of a failure, with its language word: the responses' code and the fences in its prose."""
    out: list[tuple[str, str]] = []
    for response in (failure.model_response, failure.ideal_response):
        if response is not None:
            out.extend(_response_codes(response))
    for text in (failure.description, failure.root_cause, failure.location):
        out.extend(_fenced(text))
    return out


def _response_codes(response: Response) -> list[tuple[str, str]]:
    found = [(response.language or "", response.code)] if response.code and response.code.strip() else []
    return found + _fenced(response.text)


def _prose(failure: Failure) -> str:
    parts = [failure.title, failure.description, failure.location, failure.error, failure.root_cause]
    for response in (failure.model_response, failure.ideal_response):
        if response is not None:
            parts.append(response.text)
    return "\n\n".join(p[:TEXT_CHARS] for p in parts if p)


def infer_failure(failure: Failure) -> Failure:
    """The failure with the services its own text and code name, when it states none; else itself."""
    if failure.services or "services" in failure.inferred or not failure.is_failure:
        return failure
    in_code: list[str] = []
    for _, code in _codes(failure):
        in_code.extend(services_in_code(code))
    in_prose = services_in_prose(_prose(failure))
    ranked = Counter(in_code + in_prose)
    if not ranked:
        return failure
    first = {name: i for i, name in reversed(list(enumerate(in_prose + in_code)))}
    names = sorted(ranked, key=lambda n: (-ranked[n], first[n]))[:MAX_SERVICES]
    confidence = CODE_CONFIDENCE if in_code else PROSE_CONFIDENCE
    return failure.model_copy(update={"services": names, "inferred": {**failure.inferred, "services": confidence}})


def effective_services(failure: Failure, task: Task | None) -> tuple[list[str], bool]:
    """The services a failure involves for browsing, and whether they are inherited from the task.

    A failure's own (stated or inferred) services win; a failure naming none inherits the
    task's ``aws_services``.
    """
    if failure.services:
        return list(failure.services), False
    inherited = list(task.aws_services) if task else []
    return inherited, bool(inherited)


# Syntax only one tool writes, strongest first: (pattern, platform).
_PLATFORM_SIGNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bcdktf\b|\bTerraformStack\b|@cdktf/"), "cdktf"),
    (
        re.compile(
            r"aws-cdk-lib|\bfrom aws_cdk\b|\bimport aws_cdk\b|software\.amazon\.awscdk|aws-cdk-go|"
            r"\bcdk\.(?:Stack|App|RemovalPolicy|Duration|CfnOutput|Tags)\b|\bRemovalPolicy\.(?:DESTROY|RETAIN)\b|"
            r"\bnew\s+\w+\.\w+\(\s*this\s*,|\(\s*self\s*,\s*[\"']\w+[\"']"
        ),
        "cdk",
    ),
    (
        re.compile(
            r"@pulumi/|\bimport pulumi\b|\bpulumi\.(?:export|Config|ResourceOptions|Output|interpolate|all)\b|pulumi-aws|"
            r"\bnew\s+aws\.\w+\.[A-Z]|\baws\.\w+\.[A-Z]\w*\(\s*[\"']|\bpulumi\.String\("
        ),
        "pulumi",
    ),
    (
        re.compile(
            r"AWSTemplateFormatVersion|^[ \t]*[\"']?Type[\"']?:[ \t]*['\"]?AWS::|!(?:Ref|GetAtt|Sub|If|Join)\b|Fn::",
            re.MULTILINE,
        ),
        "cfn",
    ),
    (
        re.compile(
            r"^[ \t]*(?:resource|provider|variable|module|data)[ \t]+\"[A-Za-z0-9_-]+\"|\$\{aws_\w+\.|\baws_\w+\.\w+\.(?:id|arn|name)\b",
            re.MULTILINE,
        ),
        "tf",
    ),
)
_PLATFORM_WORDS = re.compile(r"\b(CDKTF|CDK for Terraform|CDK|Pulumi|Terraform|CloudFormation)\b")
_PLATFORM_OF_WORD = {
    "cdktf": "cdktf",
    "cdk for terraform": "cdktf",
    "cdk": "cdk",
    "pulumi": "pulumi",
    "terraform": "tf",
    "cloudformation": "cfn",
}
_LANGUAGE_SIGNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"^[ \t]*import[ \t][^\n]*?[ \t]from[ \t]+['\"]|:[ \t]*(?:string|number|boolean)\b|\bconst[ \t]+\w+[ \t]*[:=]",
            re.MULTILINE,
        ),
        "ts",
    ),
    (
        re.compile(
            r"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+import[ \t]|def[ \t]+\w+\(|import[ \t]+\w+(?:\.\w+)*[ \t]*$)",
            re.MULTILINE,
        ),
        "py",
    ),
    (re.compile(r"^[ \t]*package[ \t]+\w+[ \t]*$|\bfunc[ \t]+\w+\(", re.MULTILINE), "go"),
    (re.compile(r"\bpublic\s+(?:final\s+)?class\s+\w+|\bimport\s+software\.amazon\."), "java"),
)
_PROGRAM_LANGUAGES = frozenset({"ts", "js", "py", "go", "java", "cs", "hcl", "yaml", "json"})
"""The languages an IaC program is written in (other fence words say nothing of it: bash, text, diff)."""


@dataclass(frozen=True)
class Guess:
    value: str
    confidence: float


def platform_of_code(codes: Sequence[tuple[str, str]], prose: str = "") -> Guess | None:
    """The IaC tool the snippets are written for, by the syntax only it writes; else the tool the prose names most."""
    votes: Counter[str] = Counter()
    for word, code in codes:
        if word.lower() in ("hcl", "terraform", "tf"):
            votes["tf"] += 1
            continue
        for pattern, platform in _PLATFORM_SIGNS:
            if pattern.search(code[:TEXT_CHARS]):
                votes[platform] += 1
                break
    if votes:
        (best, count), total = votes.most_common(1)[0], sum(votes.values())
        return Guess(best, round(0.5 + 0.4 * count / total, 2))
    named = Counter(_PLATFORM_OF_WORD[m[1].lower()] for m in _PLATFORM_WORDS.finditer(prose[: 4 * TEXT_CHARS]))
    if not named:
        return None
    (best, count), total = named.most_common(1)[0], sum(named.values())
    return Guess(best, round(0.3 + 0.3 * count / total, 2))


_LANGUAGE_WORDS = re.compile(r"\b(TypeScript|Python|Golang|Java|JavaScript|HCL|YAML|JSON)\b")
_PLATFORM_LANGUAGE = {"tf": "hcl", "cfn": "yaml"}
"""The language a platform's programs are written in when the code does not say (CloudFormation: mostly YAML)."""


def language_of_code(codes: Sequence[tuple[str, str]], platform: str | None, prose: str = "") -> Guess | None:
    """The program's language: the snippets' fence words, else their syntax, else what the prose names."""
    votes: Counter[str] = Counter()
    for word, code in codes:
        name = language_name(word)
        if name not in _PROGRAM_LANGUAGES:
            name = next((lang for pattern, lang in _LANGUAGE_SIGNS if pattern.search(code[:TEXT_CHARS])), None)
        if name is not None:
            votes[name] += 1
    if platform in ("cdk", "cdktf", "pulumi"):  # a data file beside the program is not its language
        for data in ("json", "yaml"):
            if len(votes) > 1:
                votes.pop(data, None)
    if votes:
        (best, count), total = votes.most_common(1)[0], sum(votes.values())
        return Guess(best, round(0.4 + 0.5 * count / total, 2))
    if platform in _PLATFORM_LANGUAGE:
        return Guess(_PLATFORM_LANGUAGE[platform], 0.5)
    named = Counter(language_name(m[1]) or "" for m in _LANGUAGE_WORDS.finditer(prose[: 4 * TEXT_CHARS]))
    if not named:
        return None
    (best, count), total = named.most_common(1)[0], sum(named.values())
    return Guess(best, round(0.3 + 0.3 * count / total, 2))


def infer_case(case: Case, failures: Iterable[Failure]) -> Case:
    """The case with the platform and language its failures' code shows, where its task states none."""
    task = case.task or Task()
    if task.platform and task.language:
        return case
    codes = [code for failure in failures for code in _codes(failure)]
    update: dict[str, str] = {}
    inferred = dict(case.inferred)
    platform = task.platform
    prose = "\n".join([case.title, case.intro, *(_prose(f) for f in failures)])
    if not platform and "platform" not in inferred:
        guess = platform_of_code(codes, prose)
        if guess is not None:
            update["platform"], inferred["platform"] = guess.value, guess.confidence
            platform = guess.value
    if not task.language and "language" not in inferred:
        guess = language_of_code(codes, platform, prose)
        if guess is not None:
            update["language"], inferred["language"] = guess.value, guess.confidence
    if not update:
        return case
    return case.model_copy(update={"task": task.model_copy(update=update), "inferred": inferred})


@dataclass(frozen=True)
class Facets:
    """The facets of one failure as the site and counts show them, and which were inferred."""

    services: list[str]
    services_from: str
    """`record` (stated), `inferred` (from its text and code), `task` (inherited), or `none`."""
    platform: str
    language: str
    inferred: frozenset[str] = frozenset()
    """Which of `platform`, `language` were inferred rather than stated."""


def facets_of(failure: Failure, case: Case) -> Facets:
    """What the explorer shows for a failure: its services (or the task's), the case's platform and language."""
    from kb.names import normalise_language, normalise_platform, normalise_services

    task = case.task
    services, inherited = effective_services(failure, task)
    source = "task" if inherited else ("inferred" if "services" in failure.inferred else "record")
    return Facets(
        services=normalise_services(services),
        services_from=source if services else NONE,
        platform=normalise_platform(task.platform if task else None),
        language=normalise_language(task.language if task else None),
        inferred=frozenset(k for k in ("platform", "language") if k in case.inferred),
    )


@dataclass
class Inferred:
    """What `kb infer` did."""

    failures: list[Path] = field(default_factory=list)
    """Failure records given services."""
    cases: list[Path] = field(default_factory=list)
    """Case records given a platform or language."""
    skipped: list[Path] = field(default_factory=list)
    """Hand-edited records that already hold an `inferred` key: left for their author."""
    by_service: dict[str, int] = field(default_factory=dict)


def _append_keys(text: str, record: Failure | Case, keys: Sequence[str]) -> str | None:
    """A hand-edited record's text with ``keys`` (of ``record``) appended, or None when one is already there."""
    import yaml

    from kb.store import record_data

    if any(re.search(rf"^{key}:", text, re.MULTILINE) for key in (*keys, "inferred")):
        return None
    data = record_data(record)
    tail = "" if text.endswith("\n") else "\n"
    block = yaml.safe_dump({key: data[key] for key in (*keys, "inferred")}, sort_keys=False, allow_unicode=True)
    return f"{text}{tail}{block}"


def infer_kb(root: Path | str, *, dry_run: bool = False) -> Inferred:
    """Infer the services of each failure that names none and the platform/language of each case without them.

    A record kb wrote (its text is what kb would write) is rewritten whole; a hand-edited
    one keeps every byte and gets the new keys appended (or is skipped when it already
    holds a `services`/`task`/`inferred` key). ``dry_run`` writes nothing.
    """
    from kb.atomic import write_text
    from kb.store import dump_record, load_kb

    kb = load_kb(root)
    result = Inferred()
    counts: Counter[str] = Counter()

    def write(path: Path, before: Failure | Case, after: Failure | Case, keys: Sequence[str]) -> bool:
        text = path.read_text(encoding="utf-8")
        new = dump_record(after) if text == dump_record(before) else _append_keys(text, after, keys)
        if new is None:
            result.skipped.append(path)
            return False
        if not dry_run:
            write_text(path, new)
        return True

    for case in kb.cases:
        failures = []
        for loaded in case.failures:
            failure = loaded.failure
            updated = infer_failure(failure) if failure.status.value != "draft" else failure
            failures.append(updated)
            if updated is not failure and write(loaded.path, failure, updated, ("services",)):
                result.failures.append(loaded.path)
                counts.update(updated.services)
        updated_case = infer_case(case.case, failures)
        if updated_case is not case.case:
            path = case.path / "case.yaml"
            if write(path, case.case, updated_case, ("task",)):
                result.cases.append(path)
    result.by_service = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return result
