"""The pipeline's source settings from cdk.json context: a missing or malformed key fails synth, saying how."""

from __future__ import annotations

from typing import Any

import pytest

import pipeline_app
from pipeline.settings import PIPELINE_CONTEXT_KEYS, PipelineSettings
from product.errors import ConfigurationError

VALID: dict[str, Any] = {
    "sourceRepository": "acme/payment-platform",
    "sourceBranch": "main",
    "codestarConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/"
    "0123abcd-4567-89ef-0123-456789abcdef",
    "approverEmails": ["lead@example.com"],
}


def _context(**overrides: object) -> dict[str, object]:
    return {**VALID, **overrides}


def test_valid_context() -> None:
    settings = PipelineSettings.from_context(_context(pipelineNotificationEmail="ops@example.com"))
    assert settings.repository == "acme/payment-platform"
    assert settings.branch == "main"
    assert settings.approver_emails == ("lead@example.com",)
    assert settings.notification_email == "ops@example.com"


def test_cdk_json_example_values_parse(cdk_context: dict[str, Any]) -> None:
    settings = PipelineSettings.from_context(cdk_context)
    assert settings.connection_arn.startswith("arn:aws:codeconnections:")
    assert settings.notification_email is None  # "" in cdk.json means none


@pytest.mark.parametrize("key", sorted(PIPELINE_CONTEXT_KEYS))
@pytest.mark.parametrize("missing", [None, "", []])
def test_missing_key_is_named_with_how_to_set_it(key: str, missing: object) -> None:
    context = _context()
    if missing is None:
        del context[key]
    else:
        context[key] = missing
    with pytest.raises(ConfigurationError, match=rf"missing cdk\.json context key '{key}': .*-c {key}="):
        PipelineSettings.from_context(context)


def test_missing_connection_arn_says_where_to_create_one() -> None:
    context = _context()
    del context["codestarConnectionArn"]
    with pytest.raises(ConfigurationError, match=r"codestarConnectionArn.*Developer Tools > Settings > Connections"):
        PipelineSettings.from_context(context)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sourceRepository": "payment-platform"}, "sourceRepository='payment-platform' must be owner/name"),
        ({"sourceRepository": "acme/pay/ments"}, "must be owner/name"),
        ({"sourceBranch": "feature..x"}, "sourceBranch='feature..x' is not a valid git branch name"),
        ({"sourceBranch": "has space"}, "is not a valid git branch name"),
        ({"sourceBranch": "ends/"}, "is not a valid git branch name"),
        ({"codestarConnectionArn": "arn:aws:codeconnections:us-east-1:123:connection/x"}, "is not a connection ARN"),
        ({"codestarConnectionArn": "arn:aws:s3:::bucket"}, "is not a connection ARN"),
        ({"approverEmails": ["not-an-address"]}, r"'approverEmails': 'not-an-address' is not an e-mail address"),
        ({"approverEmails": {"a": "b"}}, "'approverEmails' must be a list of e-mail addresses"),
        ({"pipelineNotificationEmail": "ops"}, "'pipelineNotificationEmail'='ops' is not an e-mail address"),
    ],
)
def test_malformed_values_are_rejected(change: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        PipelineSettings.from_context(_context(**change))


def test_accepts_legacy_codestar_arns_and_cli_strings() -> None:
    legacy = "arn:aws:codestar-connections:eu-west-1:123456789012:connection/0123abcd-4567-89ef-0123-456789abcdef"
    settings = PipelineSettings.from_context(
        _context(codestarConnectionArn=legacy, approverEmails="a@example.com, b@example.com", sourceBranch="release/2")
    )
    assert settings.connection_arn == legacy
    assert settings.approver_emails == ("a@example.com", "b@example.com")
    assert settings.branch == "release/2"


def test_synth_stops_with_the_missing_key(monkeypatch: pytest.MonkeyPatch, cdk_context: dict[str, Any]) -> None:
    """`cdk synth` (pipeline_app.main) exits with the message before building anything."""
    context = {k: v for k, v in cdk_context.items() if k != "codestarConnectionArn"}
    monkeypatch.setattr(pipeline_app, "cdk_json_context", lambda: context)
    monkeypatch.setattr(pipeline_app, "build_app", lambda *_: pytest.fail("built the app"))
    with pytest.raises(SystemExit, match=r"configuration error: missing cdk\.json context key 'codestarConnectionArn'"):
        pipeline_app.main()
