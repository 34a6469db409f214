"""Find and redact credentials in text before it leaves the knowledge base.

A focused rule set rather than a general detector library: we evaluated
`detect-secrets` 1.5 and it does not fit export, which needs the exact span of each
credential to redact it. It reports a private key by its `BEGIN ... PRIVATE KEY`
header only (redacting that leaves the key body in the output), a GitHub token by its
`ghp` prefix only, and its AWS secret key rule needs a quoted value, so
`AWS_SECRET_ACCESS_KEY: <key>` in YAML (how real records show it) goes unnoticed
except by its noisy entropy plugins, which flag ordinary identifiers.

Each rule here matches a whole credential. Placeholders stay unflagged where they
are told apart reliably (a key header with `...` instead of a body, `${{ secrets.X }}`,
`<your-token>`, `YOUR_PASSWORD`, `${DB_PASSWORD}`, `os.environ["X"]`), and so do the
documentation examples AWS publishes (`AKIAIOSFODNN7EXAMPLE`, a secret ending
`EXAMPLEKEY`): a value spelling `EXAMPLE` is never a generated key, and IaC write-ups
quote them all the time. Zero-width characters are dropped before scanning (an id split
by U+200B is still found); spans refer to the text as given.

``find_secrets(text)`` is the one entry point: `kb check` runs it on every record file,
`kb import` on every document it reads, `kb render` on the records it renders, and the
export on every string of every row.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Secret:
    """One credential found in a text: where it is and what kind it is."""

    start: int
    end: int
    kind: str
    """A short slug naming the kind of credential (`aws-access-key-id`, `private-key`, ...)."""

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


KIND_LABELS = {
    "aws-access-key-id": "AWS access key id",
    "aws-secret-access-key": "AWS secret access key",
    "private-key": "private key",
    "github-token": "GitHub token",
    "gitlab-token": "GitLab token",
    "slack-token": "Slack token",
    "slack-webhook": "Slack webhook URL",
    "stripe-key": "Stripe secret key",
    "google-api-key": "Google API key",
    "openai-key": "OpenAI API key",
    "anthropic-key": "Anthropic API key",
    "npm-token": "npm token",
    "pypi-token": "PyPI token",
    "jwt": "JSON Web Token",
    "aws-session-token": "AWS session token",
    "azure-key": "Azure storage or service bus key",
    "password": "password",
    "url-password": "password in a URL",
    "token": "API token or secret",
}

_NOT_ALNUM_AFTER = r"(?![A-Za-z0-9])"

# Prefixed tokens: the prefix makes them unambiguous, so the rule is the format itself.
# Each pattern starts with its prefix, which `re` searches for quickly; the character before
# a match is checked in code, since a leading look-behind makes `re` try every position
# (15x slower). A rule whose body can contain its own prefix checks the character before
# the prefix right after it (`sk-(?<![...]sk-)`), so a run of prefixes is tried once, not
# once per prefix (which is quadratic). Each rule runs only on a text holding one of its literal
# prefixes (`str` searches for a literal much faster than `re` does): most texts hold none.
_PREFIXED: list[tuple[str, tuple[str, ...], re.Pattern[str]]] = [
    (kind, prefixes, re.compile(rule))
    for kind, prefixes, rule in (
        (
            "aws-access-key-id",
            ("AKIA", "ASIA", "ABIA", "ACCA", "A3T"),
            r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}" + _NOT_ALNUM_AFTER,
        ),
        (
            "github-token",
            ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
            r"(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{50,})" + _NOT_ALNUM_AFTER,
        ),
        ("gitlab-token", ("glpat-",), r"glpat-[A-Za-z0-9_-]{20,}"),
        (
            "slack-token",
            ("xox", "xapp-"),
            r"(?:xox[abposre]-(?:[0-9]+-)+[A-Za-z0-9-]{8,}|xapp-\d-[A-Z0-9]+-\d+-[a-f0-9]{20,})",
        ),
        (
            "slack-webhook",
            ("hooks.slack.com",),
            r"https://hooks\.slack\.com/(?:services|workflows)/T[A-Z0-9]{6,}/[AB][A-Z0-9]{6,}/[A-Za-z0-9]{16,}",
        ),
        ("stripe-key", ("k_live_", "k_test_"), r"[sr]k_(?:live|test)_[A-Za-z0-9]{20,}" + _NOT_ALNUM_AFTER),
        ("google-api-key", ("AIza",), r"AIza[0-9A-Za-z_-]{35}" + _NOT_ALNUM_AFTER),
        ("anthropic-key", ("sk-ant-",), r"sk-ant-[a-z0-9]+-[A-Za-z0-9_-]{40,}"),
        (
            "openai-key",
            ("T3BlbkFJ",),
            r"sk-(?<![A-Za-z0-9_-]sk-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,}",
        ),
        ("npm-token", ("npm_",), r"npm_[A-Za-z0-9]{36}" + _NOT_ALNUM_AFTER),
        ("pypi-token", ("pypi-AgEI",), r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}"),
        ("jwt", ("eyJ",), r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{16,}"),
    )
]

# `name: value`, `name = "value"`, `"name": "value"`, `--name value`, `name => value`.
# Bounded and possessive, so matching it from every secret-ish word of a text is linear.
_ASSIGN = r"""[A-Za-z0-9_.-]{0,40}+["']?(?:\s*+(?:=>|:=|[:=])|\s)\s*+["']?"""

_AWS_SECRET = re.compile(
    r"(?i:secret[_.\- ]?(?:access[_.\- ]?)?key|(?<=aws)secret|(?<=aws[_.\- ])secret)"
    + _ASSIGN
    + r"(?P<value>(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=]))"
)
_AWS_SECRET_WORDS = ("secret",)
"""Where the rule can start, searched for in lowercased text: one literal a pass is the fast way."""

_GENERIC = re.compile(
    r"(?i:api[_.\-]?key|api[_.\-]?token|auth[_.\-]?token|access[_.\-]?token|secret[_.\-]?token|"
    r"client[_.\-]?secret|private[_.\-]?token|bearer)"
    + _ASSIGN
    + r"(?P<value>(?<![A-Za-z0-9_\-+/])[A-Za-z0-9_\-+/=]{20,}+)"
)
_GENERIC_WORDS = ("api", "auth", "access", "secret", "client", "private", "bearer")

# PEM and OpenSSH (`-----BEGIN OPENSSH PRIVATE KEY-----`), PGP (`... PRIVATE KEY BLOCK-----`),
# SSH2 (`---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----`).
_KEY_BEGIN = re.compile(r"-{4,5} ?BEGIN (?:[A-Z0-9]+ ){0,4}PRIVATE KEY(?: BLOCK)? ?-{4,5}")
_KEY_END = re.compile(r"-{4,5} ?END (?:[A-Z0-9]+ ){0,4}PRIVATE KEY(?: BLOCK)? ?-{4,5}")
_KEY_BODY = re.compile(r"(?:[A-Za-z0-9+/=\s]|\\n|\\r)+")
_KEY_HEADER_LINE = re.compile(r"^[A-Za-z-]+: .*$", re.MULTILINE)
_PUTTY = re.compile(r"PuTTY-User-Key-File-\d+: .*?(?:Private-MAC: [0-9a-fA-F]+|\Z)", re.DOTALL)
MIN_KEY_BODY = 64
"""Base64 characters a key block needs to count as a key (a header followed by `...` is a placeholder)."""
MAX_KEY_BLOCK = 64 * 1024

_PLACEHOLDER_WORDS = ("example", "your", "xxxx", "placeholder", "changeme", "dummy", "redacted", "replace")

_SESSION_TOKEN = re.compile(
    r"(?i:session[_.\- ]?token|security[_.\- ]?token)" + _ASSIGN + r"(?P<value>(?<![A-Za-z0-9/+])[A-Za-z0-9/+=]{40,}+)"
)
_SESSION_WORDS = ("session", "security")

_AZURE_KEY = re.compile(r"(?i:AccountKey|SharedAccessKey)=(?P<value>[A-Za-z0-9+/]{20,}+={0,2})")
_AZURE_WORDS = ("accountkey", "sharedaccesskey")

_PASSWORD = re.compile(
    r"(?<![:/])(?i:password|passwd|pwd|secret)[A-Za-z0-9_.-]{0,40}+[\"']?[ \t]*+(?:=>|:=|[:=])[ \t]*+[\"']?"
    r"(?P<value>(?<![^\s\"'=:])[^\s\"'`,;)\]}]{8,200}+)"
)
"""A password written out: an operator (not just a space: "Secrets Manager" is prose) and a value."""
_PASSWORD_WORDS = ("pass", "pwd", "secret")
_PASSWORD_PLACEHOLDER = re.compile(
    r"[${}<>%]|^(?:\*+|x+|\.+)$|(?i:example|your|changeme|placeholder|dummy|redacted|replace|password|passwd|"
    r"secret|sample|test|fake|todo|tbd|none|null|undefined|true|false|required|string|value|generate|random)|"
    r"[(\[]|^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$|^[A-Za-z][\w.-]*(?:/[\w.-]+)+$|^[0-9a-f-]+$|^[0-9A-F-]+$|^[A-Z0-9_]+$|^[a-z_]+$|^[a-z]+(?:[-_][a-z]+)+$"
)
"""A password value that names where the password comes from, or says it is made up, is not one."""

_URL_PASSWORD = re.compile(r"://(?P<user>[^\s:/@]{1,64}+):(?P<value>[^\s/@]{1,128}+)@")

_AWS_KEY_ID = re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])")
_BASE64_40 = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
NEAR_KEY_ID = 300
"""Characters after an access key id in which a 40-character base64 string is its secret key."""

_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e]")
"""Invisible characters that can split a credential: dropped before scanning."""


_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+|[^A-Za-z0-9]+")


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _mixed(value: str) -> bool:
    """Upper and lower case letters, and digits or base64 symbols."""
    return (
        any(c.islower() for c in value)
        and any(c.isupper() for c in value)
        and any(c.isdigit() or c in "+/=_-" for c in value)
    )


def _looks_random(value: str) -> bool:
    """Characters of mixed kinds in no pattern: a key, not a name.

    A name like `someVeryLongVariableName123` reads as a few words (4.5 characters a
    word); random characters break into pieces of under 3 (measured: 99% of random
    20-character tokens, 99.8% of 40-character ones).
    """
    if not _mixed(value) or _entropy(value) < 3.5:
        return False
    return len(value) / len(_WORDS.findall(value)) < 3.0


def _is_placeholder(value: str) -> bool:
    lowered = value.lower()
    return any(word in lowered for word in _PLACEHOLDER_WORDS) or len(set(value)) < 6


def _private_keys(text: str) -> list[Secret]:
    found: list[Secret] = []
    begins = list(_KEY_BEGIN.finditer(text))
    for n, begin in enumerate(begins):
        if found and begin.start() < found[-1].end:
            continue
        limit = begin.end() + MAX_KEY_BLOCK  # a key block ends before the next one begins: linear on any text
        window = text[begin.end() : min(limit, begins[n + 1].start()) if n + 1 < len(begins) else limit]
        end = _KEY_END.search(window)
        if end is not None:
            body, stop = window[: end.start()], begin.end() + end.end()
        else:
            run = _KEY_BODY.match(window)
            body = run.group(0) if run else ""
            stop = begin.end() + len(body.rstrip())
        base64 = re.sub(r"\\[nr]|\s", "", _KEY_HEADER_LINE.sub("", body))
        if len(re.findall(r"[A-Za-z0-9+/]", base64)) >= MIN_KEY_BODY:
            found.append(Secret(begin.start(), stop, "private-key"))
    found.extend(Secret(m.start(), m.end(), "private-key") for m in _PUTTY.finditer(text))
    return found


def _gate(prefixes: tuple[str, ...]) -> Callable[[str], bool]:
    """Whether a text holds one of ``prefixes``: one `in` for a single literal, else one `re` scan.

    Grouped on their common leading text (`A(?:KIA|SIA|...)`), which `re` searches for as fast as
    `str` does one literal: one pass instead of one per prefix (most texts hold none).
    """
    if len(prefixes) == 1:
        [prefix] = prefixes
        return lambda text: prefix in text
    lead = prefixes[0]
    while not all(prefix.startswith(lead) for prefix in prefixes):
        lead = lead[:-1]
    rest = "|".join(re.escape(prefix[len(lead) :]) for prefix in prefixes)
    search = re.compile(f"{re.escape(lead)}(?:{rest})").search
    return lambda text: search(text) is not None


_PREFIX_GATES = [_gate(prefixes) for _, prefixes, _ in _PREFIXED]
_KEY_GATE = _gate(("PRIVATE KEY", "PuTTY"))
_KEY_ID_GATE = _gate(("AKIA", "ASIA"))


def _prefixed(text: str) -> list[Secret]:
    found = []
    for (kind, _, pattern), gate in zip(_PREFIXED, _PREFIX_GATES, strict=True):
        if not gate(text):
            continue
        for match in pattern.finditer(text):
            start = match.start()
            if (start == 0 or not text[start - 1].isascii() or not text[start - 1].isalnum()) and (
                "EXAMPLE" not in match.group(0)
            ):
                found.append(Secret(start, match.end(), kind))
    return found


_NAME_GROUPS = [
    re.compile(group)
    for group in ("se(?:cret|ssion|curity)", "a(?:pi|uth|cc(?:ess|ountkey))", "p(?:ass|wd|rivate)", "client", "bearer")
]
"""Every secret-ish name the rules start from but `sharedaccesskey` (found from `access`), grouped on a
common leading text: `re` searches for that as fast as `str` searches for one literal, so a group costs one
pass over the text, not one per name. No name of a group occurs inside another or overlaps itself, so the
group's matches left to right are exactly each name's occurrences (as `str.find` finds them)."""


class _Words:
    """Where each secret-ish name starts in a lowercased text, found once for every rule that starts from it."""

    def __init__(self, lowered: str) -> None:
        self._starts: dict[str, list[int]] = {}
        for group in _NAME_GROUPS:
            for match in group.finditer(lowered):
                self._starts.setdefault(match.group(), []).append(match.start())
        access = self._starts.get("access", ())
        self._starts["sharedaccesskey"] = [at - 6 for at in access if at >= 6 and lowered.startswith("shared", at - 6)]

    def starts(self, word: str) -> list[int]:
        """Left to right, not overlapping (as `re.finditer` finds a literal)."""
        return self._starts.get(word, [])


def _assigned(
    text: str,
    words: _Words | None,
    names: tuple[str, ...],
    rule: re.Pattern[str],
    kind: str,
    accept: Callable[[str], bool],
) -> list[Secret]:
    """Values assigned to a secret-ish name: find the names in lowercase text, then match the rule there."""
    if words is None:  # lowercasing changed offsets (rare non-ASCII letters): scan the slow way
        matches = list(rule.finditer(text))
    else:
        starts = sorted({start for name in names for start in words.starts(name)})
        matches = [m for start in starts if (m := rule.match(text, start))]
    found = []
    for match in matches:
        value = match.group("value")
        if accept(value):
            found.append(Secret(match.start("value"), match.end("value"), kind))
    return found


def _aws_secret(value: str) -> bool:
    return _mixed(value) and len(set(value)) >= 12 and "EXAMPLE" not in value


def _session_token(value: str) -> bool:
    return _mixed(value) and len(set(value)) >= 16 and not _is_placeholder(value)


def _password(value: str) -> bool:
    """Letters and digits or symbols, and not a placeholder, a reference or a word."""
    has_letter = any(c.isalpha() for c in value)
    has_other = any(not c.isalpha() for c in value)
    return has_letter and has_other and len(set(value)) >= 5 and not _PASSWORD_PLACEHOLDER.search(value)


def _url_passwords(text: str) -> list[Secret]:
    found = []
    for match in _URL_PASSWORD.finditer(text):
        value = match.group("value")
        if not _PASSWORD_PLACEHOLDER.search(value) and value.lower() not in ("pass", "pw", "pwd"):
            found.append(Secret(match.start("value"), match.end("value"), "url-password"))
    return found


def _secrets_near_key_ids(text: str) -> list[Secret]:
    """A secret key next to its key id (`new BasicAWSCredentials("AKIA...", "<secret>")`), named or not."""
    found = []
    for key_id in _AWS_KEY_ID.finditer(text):
        window_end = min(len(text), key_id.end() + NEAR_KEY_ID)
        for match in _BASE64_40.finditer(text, key_id.end(), window_end):
            if _aws_secret(match.group(0)):
                found.append(Secret(match.start(), match.end(), "aws-secret-access-key"))
                break
    return found


def _token(value: str) -> bool:
    return _looks_random(value) and not _is_placeholder(value)


def find_secrets(text: str) -> list[Secret]:
    """Every credential in ``text``, in order, without overlaps (the earliest, longest match wins).

    Each ``Secret`` spans the credential in ``text`` as given (zero-width characters inside included).
    """
    if text.isascii() or not _ZERO_WIDTH.search(text):  # (`isascii` costs nothing: `str` knows it)
        return _find(text)
    origin = [n for n, c in enumerate(text) if not _ZERO_WIDTH.match(c)]
    return [Secret(origin[s.start], origin[s.end - 1] + 1, s.kind) for s in _find(_ZERO_WIDTH.sub("", text))]


def _find(text: str) -> list[Secret]:
    lowered = text.lower()
    words = _Words(lowered) if len(lowered) == len(text) else None
    candidates = (_private_keys(text) if _KEY_GATE(text) else []) + _prefixed(text)
    candidates += _assigned(text, words, _AWS_SECRET_WORDS, _AWS_SECRET, "aws-secret-access-key", _aws_secret)
    candidates += _assigned(text, words, _GENERIC_WORDS, _GENERIC, "token", _token)
    candidates += _assigned(text, words, _SESSION_WORDS, _SESSION_TOKEN, "aws-session-token", _session_token)
    candidates += _assigned(text, words, _AZURE_WORDS, _AZURE_KEY, "azure-key", lambda v: len(set(v)) >= 12)
    candidates += _assigned(text, words, _PASSWORD_WORDS, _PASSWORD, "password", _password)
    if "://" in text:
        candidates += _url_passwords(text)
    if _KEY_ID_GATE(text):
        candidates += _secrets_near_key_ids(text)
    chosen: list[Secret] = []
    for secret in sorted(candidates, key=lambda s: (s.start, -s.end)):
        if chosen and secret.start < chosen[-1].end:
            continue
        chosen.append(secret)
    return chosen


def placeholder(kind: str) -> str:
    return f"[REDACTED:{kind}]"


def redact(text: str, secrets: list[Secret] | None = None) -> str:
    """``text`` with each credential replaced by `[REDACTED:<kind>]`."""
    if secrets is None:
        secrets = find_secrets(text)
    parts: list[str] = []
    last = 0
    for secret in sorted(secrets):
        parts.append(text[last : secret.start])
        parts.append(placeholder(secret.kind))
        last = secret.end
    parts.append(text[last:])
    return "".join(parts)
