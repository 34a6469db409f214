"""Credential scanning and redaction, with keys made up for these tests (none is real)."""

from __future__ import annotations

import random
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.secrets import find_secrets, redact

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


def test_aws_documented_example_keys_are_flagged_too() -> None:
    text = "AWS_ACCESS_KEY_ID: AKIAIOSFODNN7EXAMPLE\nAWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    assert kinds(text) == ["aws-access-key-id", "aws-secret-access-key"]


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
