"""Catalog settings from cdk.json context `catalog`: defaults, the example keys, and errors naming the bad key."""

from __future__ import annotations

from typing import Any

import pytest

from product.catalog.settings import DEFAULT_TAG_OPTIONS, CatalogSettings, OrganizationShare, principal_type
from product.errors import ConfigurationError


def _parse(**catalog: Any) -> CatalogSettings:
    return CatalogSettings.from_context(
        {"catalog": catalog}, default_account="111111111111", default_region="us-east-1"
    )


def test_defaults_to_the_tooling_account_and_region_and_shares_nothing() -> None:
    settings = CatalogSettings.from_context({}, default_account="333333333333", default_region="eu-west-1")
    assert (settings.account, settings.region) == ("333333333333", "eu-west-1")
    assert settings.principals == () and not settings.shared
    assert dict(settings.tag_options) == DEFAULT_TAG_OPTIONS


def test_the_example_in_cdk_json_parses(cdk_context: dict[str, Any]) -> None:
    settings = CatalogSettings.from_context(cdk_context, default_account="111111111111", default_region="us-east-1")
    assert settings.principals and settings.support_email
    assert {"cost-center", "owner", "data-classification"} <= set(settings.tag_options)


def test_sharing_with_accounts_and_organizational_units() -> None:
    settings = _parse(
        shareWithAccounts=["222222222222"],
        shareWithOrganization={"organizationId": "o-abc123defg", "organizationalUnits": ["ou-ab12-cdef3456"]},
    )
    assert settings.share_with_accounts == ("222222222222",)
    assert settings.share_with_organization == OrganizationShare("o-abc123defg", ("ou-ab12-cdef3456",))
    assert settings.shared


def test_principal_types() -> None:
    assert principal_type("arn:aws:iam::111111111111:role/PaymentAppDevelopers") == "IAM"
    assert principal_type("arn:aws:iam:::role/payment-app-*") == "IAM_PATTERN"


@pytest.mark.parametrize(
    ("catalog", "message"),
    [
        ({"account": "12"}, r"catalog.account='12' is not a 12-digit account id"),
        ({"region": "moon-1"}, r"catalog.region='moon-1' is not a region"),
        (
            {"principals": ["arn:aws:iam::111111111111:role/ok", "PaymentAppDevelopers"]},
            r"catalog.principals\[1\]='PaymentAppDevelopers' is not an IAM role, user or group ARN",
        ),
        ({"principals": "arn:aws:iam::111111111111:role/x"}, r"catalog.principals must be a list"),
        ({"shareWithAccounts": ["222222222222", "22"]}, r"catalog.shareWithAccounts\[1\]='22' is not a 12-digit"),
        ({"shareWithAccounts": ["111111111111"]}, r"lists the catalog's own account"),
        ({"shareWithOrganization": {"organizationId": "org-1"}}, r"catalog.shareWithOrganization.organizationId"),
        (
            {"shareWithOrganization": {"organizationId": "o-abc123defg", "organizationalUnits": ["ou-1"]}},
            r"organizationalUnits\[0\]='ou-1' is not an OU id",
        ),
        ({"shareWithOrganization": {"organizationId": "o-abc123defg", "units": []}}, r"unknown key\(s\) in catalog"),
        ({"shareWithOrganization": "o-abc123defg"}, r"catalog.shareWithOrganization must be"),
        ({"tagOptions": {"owner": ["x"]}}, r"catalog.tagOptions needs the keys .*missing: cost-center, data-class"),
        ({"tagOptions": {**DEFAULT_TAG_OPTIONS, "owner": []}}, r"catalog.tagOptions.owner=\[\] must list"),
        ({"tagOptions": {**DEFAULT_TAG_OPTIONS, "owner": ["x" * 257]}}, r"catalog.tagOptions.owner=.* must list"),
        ({"supportEmail": "payments"}, r"catalog.supportEmail='payments' is not an e-mail address"),
        ({"providerName": "x" * 51}, r"catalog.providerName=.* at most 50 characters"),
        ({"portfolio": "Payments"}, r"unknown key\(s\) catalog.portfolio; known: "),
    ],
)
def test_bad_catalog_settings_name_the_key(catalog: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        _parse(**catalog)


def test_catalog_context_must_be_an_object() -> None:
    with pytest.raises(ConfigurationError, match="context 'catalog' must be an object"):
        CatalogSettings.from_context({"catalog": ["x"]}, default_account="111111111111", default_region="us-east-1")
