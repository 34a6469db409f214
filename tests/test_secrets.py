"""Credential scanning and redaction, with keys made up for these tests (none is real)."""

from __future__ import annotations

import itertools
import random
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb import secrets
from kb.secrets import Secret, find_secrets, redact

B64 = string.ascii_letters + string.digits + "+/"
UPPER_DIGITS = string.ascii_uppercase + string.digits


def made_up(alphabet: str, length: int, seed: int) -> str:
    """A random-looking value with at least one upper, one lower and one digit when the alphabet has them."""
    rng = random.Random(seed)
    while True:
        value = "".join(rng.choice(alphabet) for _ in range(length))
        kinds = [any(c.islower() for c in value), any(c.isupper() for c in value), any(c.isdigit() for c in value)]
        if all(kinds) or not any(c.islower() for c in alphabet):
            return value


KEY_ID = "AKIA" + made_up(UPPER_DIGITS, 16, 1)
SESSION_KEY_ID = "ASIA" + made_up(UPPER_DIGITS, 16, 2)
SECRET_KEY = made_up(B64, 40, 3)
PEM_BODY = "\n".join(made_up(B64, 64, 10 + i) for i in range(5))
PRIVATE_KEY = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----"
GITHUB = "ghp_" + made_up(string.ascii_letters + string.digits, 36, 4)
SLACK = "xoxb-" + "123456789012-1234567890123-" + made_up(string.ascii_letters + string.digits, 24, 5)
API_TOKEN = made_up(string.ascii_letters + string.digits, 32, 6)


def kinds(text: str) -> list[str]:
    return [s.kind for s in find_secrets(text)]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        (f"aws_access_key_id = {KEY_ID}", "aws-access-key-id", KEY_ID),
        (f'"AccessKeyId": "{SESSION_KEY_ID}",', "aws-access-key-id", SESSION_KEY_ID),
        (f"  AWS_SECRET_ACCESS_KEY: {SECRET_KEY}", "aws-secret-access-key", SECRET_KEY),
        (f'secretAccessKey: "{SECRET_KEY}"', "aws-secret-access-key", SECRET_KEY),
        (f"aws configure set aws_secret_access_key {SECRET_KEY}", "aws-secret-access-key", SECRET_KEY),
        (f'"SecretAccessKey": "{SECRET_KEY}"', "aws-secret-access-key", SECRET_KEY),
        (f"token = '{GITHUB}'", "github-token", GITHUB),
        (f"SLACK_BOT_TOKEN={SLACK}", "slack-token", SLACK),
        (f'apiKeyValue: "{API_TOKEN}"', "token", API_TOKEN),
        (f"Authorization: Bearer {API_TOKEN}", "token", API_TOKEN),
    ],
)
def test_finds_each_kind_and_its_exact_span(text: str, kind: str, value: str) -> None:
    [secret] = find_secrets(text)
    assert secret.kind == kind
    assert text[secret.start : secret.end] == value


def test_aws_documented_example_keys_are_not_credentials() -> None:
    text = "AWS_ACCESS_KEY_ID: AKIAIOSFODNN7EXAMPLE\nAWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    assert find_secrets(text) == []


SSH2_BODY = "\n".join(made_up(B64, 70, 20 + i) for i in range(4))
LEAKS = {
    "secret key as the second argument": (
        f'new BasicAWSCredentials("{KEY_ID}", "{SECRET_KEY}")',
        ["aws-access-key-id", "aws-secret-access-key"],
    ),
    "secret key near its key id, unnamed": (
        f"keys: {KEY_ID} / {SECRET_KEY}",
        ["aws-access-key-id", "aws-secret-access-key"],
    ),
    "password assignment": ('db_password = "Zq8#mLp2vR"', ["password"]),
    "passwd in YAML": ("passwd: k3Yv9!rTq2", ["password"]),
    "secret assignment": ("client_secret: 'x7Gh2kLm9Pq4'", ["password"]),
    "password in a URL": ("DATABASE_URL=postgres://app:Zq8mLp2vRt@db.internal:5432/app", ["url-password"]),
    "session token": (f"aws_session_token = {made_up(B64, 300, 7)}", ["aws-session-token"]),
    "zero-width space in a key id": (KEY_ID[:8] + "\u200b" + KEY_ID[8:], ["aws-access-key-id"]),
    "SSH2 private key": (
        f"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nComment: k\n{SSH2_BODY}\n---- END SSH2 ENCRYPTED PRIVATE KEY ----",
        ["private-key"],
    ),
    "OpenSSH private key": (
        f"-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}\n-----END OPENSSH PRIVATE KEY-----",
        ["private-key"],
    ),
    "PGP private key": (
        f"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{PEM_BODY}\n-----END PGP PRIVATE KEY BLOCK-----",
        ["private-key"],
    ),
    "token over 200 characters": (f"api_token: {made_up(B64, 260, 8)}", ["token"]),
    "Azure account key": (
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={made_up(B64, 86, 9)}==;EndpointSuffix=core",
        ["azure-key"],
    ),
    "Stripe test key": ("sk_test_" + made_up(string.ascii_letters + string.digits, 24, 11), ["stripe-key"]),
}


@pytest.mark.parametrize("name", sorted(LEAKS))
def test_each_leak_of_issue_18_is_found_and_redacted(name: str) -> None:
    text, expected = LEAKS[name]
    found = find_secrets(text)
    assert [s.kind for s in found] == expected
    cleaned = redact(text)
    for secret in found:
        assert text[secret.start : secret.end] not in cleaned
    assert "\u200b" not in cleaned or name != "zero-width space in a key id"


@pytest.mark.parametrize(
    "text",
    [
        "password: YOUR_PASSWORD",
        "password = ${DB_PASSWORD}",
        'password: "<secret>"',
        "password: '{{resolve:secretsmanager:db}}'",
        "password = random_password.db.result",
        'password: os.environ["DB_PASSWORD"]',
        "MasterUserPassword: !Ref DBPassword",
        "password: changeme123",
        "Store the DB password in Secrets Manager.",
        "DatabaseSecretArn:\n    Description: ARN of the secret",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-credentials-AbC123",
        "secretName: 'app/database/master'",
        "postgres://user:password@localhost/db",
        "postgres://${USER}:${PASS}@host/db",
    ],
)
def test_password_placeholders_and_references_are_not_flagged(text: str) -> None:
    assert find_secrets(text) == []


def test_private_key_block_is_found_whole_so_redaction_removes_the_body() -> None:
    text = f'key = """\n{PRIVATE_KEY}\n"""'
    [secret] = find_secrets(text)
    assert secret.kind == "private-key"
    assert text[secret.start : secret.end] == PRIVATE_KEY
    cleaned = redact(text)
    assert cleaned == 'key = """\n[REDACTED:private-key]\n"""'
    assert PEM_BODY.splitlines()[2] not in cleaned


def test_private_key_in_a_json_string_with_escaped_newlines_and_no_end_line() -> None:
    body = PEM_BODY.replace("\n", "\\n")
    text = f'{{"private_key": "-----BEGIN PRIVATE KEY-----\\n{body}", "public_key": "x"}}'
    [secret] = find_secrets(text)
    assert secret.kind == "private-key"
    assert body[-20:] not in redact(text)
    assert redact(text).endswith('", "public_key": "x"}')


@pytest.mark.parametrize(
    "text",
    [
        # A key header with no key in it (how real records show the shape of a value).
        '--secret-string \'{"private_key": "-----BEGIN RSA PRIVATE KEY-----\\n...", "public_key": "..."}\'',
        "aws-secret-access-key: ${{ secrets.AWS_SECRET_ACCESS_KEY }}",
        "apiKey: config.requireSecret('apiKey')",
        "accessToken: someVeryLongVariableName123",
        "secret_key_sha1: da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "api_key: <your-api-key-goes-here-1234567>",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
        f"resource ID {KEY_ID.lower()} in lowercase is no key id",
        "const bucketName = `AKIA-style-${environmentSuffix}`;",
        "AKIA" + "Q" * 15,  # too short
    ],
)
def test_placeholders_and_ordinary_code_are_not_flagged(text: str) -> None:
    assert find_secrets(text) == []


def test_key_id_inside_a_longer_word_is_not_a_key_id() -> None:
    assert find_secrets("X" + KEY_ID) == []
    assert find_secrets(KEY_ID + "9") == []


def test_redact_replaces_every_secret_and_keeps_the_rest() -> None:
    text = f"id={KEY_ID}\nsecret_access_key={SECRET_KEY}\nregion=eu-west-1\n"
    assert redact(text) == (
        "id=[REDACTED:aws-access-key-id]\nsecret_access_key=[REDACTED:aws-secret-access-key]\nregion=eu-west-1\n"
    )


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["AKIA", "ASIA"]), st.text(alphabet=UPPER_DIGITS, min_size=16, max_size=16))
def test_any_key_id_is_found_in_prose(prefix: str, rest: str) -> None:
    key = prefix + rest
    text = f"The stack hard-coded {key} in its provider block."
    assert [(s.kind, text[s.start : s.end]) for s in find_secrets(text)] == [("aws-access-key-id", key)]
    assert key not in redact(text)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**9))
def test_random_secret_keys_are_found(seed: int) -> None:
    key = made_up(B64, 40, seed)
    text = f"aws_secret_access_key = {key}"
    assert [text[s.start : s.end] for s in find_secrets(text)] == [key]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # names that overlap (`pass` then `secret`, `access` inside `sharedaccesskey`) are each a start
        (f"bypassecret: {API_TOKEN}x1", [("password", f"{API_TOKEN}x1")]),
        (f"SharedAccessKey={SECRET_KEY}", [("azure-key", SECRET_KEY)]),
        (f"accesssession_token = {SECRET_KEY}=", [("aws-session-token", f"{SECRET_KEY}=")]),
        # a text whose lowercasing changes its length (`İ`) is scanned the slow way, with the same spans
        (f"İ aws_secret_access_key: {SECRET_KEY}", [("aws-secret-access-key", SECRET_KEY)]),
        # non-ASCII text with and without a zero-width character inside a key id
        (f"ünïcode {KEY_ID[:6]}\u200b{KEY_ID[6:]} ✅", [("aws-access-key-id", f"{KEY_ID[:6]}\u200b{KEY_ID[6:]}")]),
        (f"✅ {GITHUB}", [("github-token", GITHUB)]),
        # a prefix alone, or a rule's words without a value, is nothing
        ("AKIA ghp_ xoxb- sk_live_ eyJ secret password: ", []),
    ],
)
def test_prefilters_find_exactly_what_the_rules_find(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(s.kind, text[s.start : s.end]) for s in find_secrets(text)] == expected


# Texts built from the pieces the scanner's prefilters and rules look at, to check what must hold of
# any result: the prefilters (grouped name and prefix searches) may only skip work, never a credential.
FRAGMENTS = [
    *("secret", "SECRET", "Secret", "session", "Security", "api", "API", "auth", "access", "Access", "client"),
    *("private", "Bearer", "pass", "PASS", "pwd", "passwd", "password", "AccountKey", "SharedAccessKey", "shared"),
    *("_", "-", ".", " ", ":", "=", ": ", " = ", "=>", '"', "'", "\n", "://", "@", "key", "_key", "token", "aws_"),
    *("AKIA", "ASIA", "ABIA", "ACCA", "A3T", "AIza", "ghp_", "gho_", "github_pat_", "glpat-", "xoxb-", "xapp-"),
    *("sk_live_", "rk_test_", "sk-ant-", "sk-", "T3BlbkFJ", "npm_", "pypi-AgEIcHlwaS5vcmc", "eyJ", "EXAMPLE"),
    *("-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----", "PuTTY-User-Key-File-2: ", "Private-MAC: 0f"),
    *("https://hooks.slack.com/services/", "postgres://app:", "\u200b", "\u00ad", "İ", "ſ", "\u212a", "ı", "é", "✅"),
]
PIECES = st.one_of(
    st.sampled_from(FRAGMENTS),
    st.sampled_from([8, 16, 20, 36, 40, 64]).flatmap(lambda n: st.text(alphabet=B64, min_size=n, max_size=n)),
    st.integers(min_value=0, max_value=10**6).map(lambda seed: made_up(B64, 40, seed)),
)
TEXTS = st.lists(PIECES, min_size=1, max_size=16).map("".join)

_VALUE_RULES = {
    "aws-secret-access-key": [secrets._AWS_SECRET],
    "token": [secrets._GENERIC],
    "aws-session-token": [secrets._SESSION_TOKEN],
    "azure-key": [secrets._AZURE_KEY],
    "password": [secrets._PASSWORD],
    "url-password": [secrets._URL_PASSWORD],
}
_PREFIX_RULES = {kind: pattern for kind, _, pattern in secrets._PREFIXED}


def matches_its_rule(text: str, found: Secret) -> bool:
    """Whether the span is what one of the rules of its kind matches in ``text``."""
    span = (found.start, found.end)
    if found.kind in _PREFIX_RULES:
        return _PREFIX_RULES[found.kind].fullmatch(text[found.start : found.end]) is not None
    if found.kind == "private-key":
        return any(rule.match(text, found.start) for rule in (secrets._KEY_BEGIN, secrets._PUTTY))
    if found.kind == "aws-secret-access-key" and secrets._BASE64_40.fullmatch(text, *span):
        return True
    return any(
        (m := rule.match(text, at)) is not None and m.span("value") == span
        for rule in _VALUE_RULES[found.kind]
        for at in range(found.start + 1)
    )


@settings(max_examples=500, deadline=None)
@given(TEXTS)
def test_found_spans_are_in_order_apart_and_each_matches_its_rule(text: str) -> None:
    found = find_secrets(text)
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))
    assert all(0 <= s.start < s.end <= len(text) for s in found)
    plain = secrets._ZERO_WIDTH.sub("", text)
    spans = find_secrets(plain)
    for secret in spans:
        assert matches_its_rule(plain, secret), (secret, plain[secret.start : secret.end])
    # spans refer to the text as given: dropping its zero-width characters gives the scan of the plain text
    assert [(secrets._ZERO_WIDTH.sub("", text[s.start : s.end]), s.kind) for s in found] == [
        (plain[s.start : s.end], s.kind) for s in spans
    ]


@settings(max_examples=300, deadline=None)
@given(TEXTS, TEXTS)
def test_a_key_on_its_own_line_is_redacted_whatever_the_lines_around_it_hold(before: str, after: str) -> None:
    line = f"aws_secret_access_key = {SECRET_KEY}"
    text = f"{before}\n{line}\n{after}"
    at = len(before) + len(line) - len(SECRET_KEY) + 1
    assert any(s.start <= at and at + len(SECRET_KEY) <= s.end for s in find_secrets(text))
    assert f"= {SECRET_KEY}" not in redact(text)


@pytest.mark.parametrize(
    "name",
    [
        *("aws_secret_access_key", "SecretAccessKey", "session_token", "SecurityToken", "api_key", "ApiToken"),
        *("auth_token", "ACCESS_TOKEN", "clientSecret", "private_token", "Bearer", "AccountKey", "SharedAccessKey"),
        *("db_password", "PASSWD", "pwd"),
    ],
)
@pytest.mark.parametrize("before", ["", "ascii text, ", "ünïcode ✅ ", "İ "])
def test_every_name_a_rule_starts_from_is_found_in_any_text(name: str, before: str) -> None:
    value = "Zq8#mLp2vRt7" if name.lower().startswith(("db_pass", "passwd", "pwd")) else SECRET_KEY
    text = f"{before}{name}={value}"
    assert [text[s.start : s.end] for s in find_secrets(text)] == [value]
