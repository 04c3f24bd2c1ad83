"""Catalog settings from `cdk.json` context key `catalog`: where the catalog lives, who may launch, sharing.

Every key is optional; errors name the key, e.g. `catalog.shareWithAccounts[1]='12' is not ...`.

    "catalog": {
      "account": "111111111111",            # default: toolingAccount
      "region": "us-east-1",                # default: toolingRegion
      "portfolioName": "Payment Platform",
      "providerName": "Payment Platform Team",
      "productName": "Payment Processing",
      "productOwner": "Payment Platform Team",
      "supportEmail": "payments-platform@example.com",
      "principals": ["arn:aws:iam::111111111111:role/PaymentAppDevelopers",  # IAM principal
                     "arn:aws:iam:::role/payment-app-*"],                       # IAM_PATTERN (any account)
      "shareWithAccounts": ["222222222222"],
      "shareWithOrganization": {"organizationId": "o-abc123defg", "organizationalUnits": ["ou-ab12-cdef3456"]},
      "tagOptions": {"cost-center": ["CC-1001"], "owner": ["payments-team"], "data-classification": ["confidential"]}
    }
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from product.errors import ConfigurationError
from product.options import EMAIL_PATTERN

CONTEXT_KEY = "catalog"
REQUIRED_TAG_OPTIONS = ("cost-center", "owner", "data-classification")
DEFAULT_TAG_OPTIONS = {
    "cost-center": ("payments",),
    "owner": ("payment-platform-team",),
    "data-classification": ("confidential", "restricted"),
}
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12})?:(role|user|group)/[\w+=,.@/*-]+$")
_ORGANIZATION = re.compile(r"^o-[a-z0-9]{10,32}$")
_OU = re.compile(r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$")
_EMAIL = re.compile(EMAIL_PATTERN)


@dataclass(frozen=True)
class OrganizationShare:
    """Share with the whole organization, or with the listed organizational units."""

    organization_id: str
    organizational_units: tuple[str, ...] = ()


@dataclass(frozen=True)
class CatalogSettings:
    """Everything the catalog stack needs from configuration."""

    account: str
    region: str
    portfolio_name: str = "Payment Platform"
    provider_name: str = "Payment Platform Team"
    product_name: str = "Payment Processing"
    product_owner: str = "Payment Platform Team"
    support_email: str | None = None
    principals: tuple[str, ...] = ()
    share_with_accounts: tuple[str, ...] = ()
    share_with_organization: OrganizationShare | None = None
    tag_options: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_TAG_OPTIONS))

    @property
    def shared(self) -> bool:
        return bool(self.share_with_accounts or self.share_with_organization)

    @classmethod
    def from_context(cls, context: Mapping[str, Any], *, default_account: str, default_region: str) -> CatalogSettings:
        raw = context.get(CONTEXT_KEY) or {}
        if not isinstance(raw, Mapping):
            raise ConfigurationError(f"context {CONTEXT_KEY!r} must be an object of catalog settings")
        known = {
            "account",
            "region",
            "portfolioName",
            "providerName",
            "productName",
            "productOwner",
            "supportEmail",
            "principals",
            "shareWithAccounts",
            "shareWithOrganization",
            "tagOptions",
        }
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigurationError(
                f"unknown key(s) {', '.join(f'catalog.{k}' for k in unknown)}; known: {', '.join(sorted(known))}"
            )
        account = _matching(raw.get("account", default_account), _ACCOUNT, "catalog.account", "a 12-digit account id")
        region = _matching(raw.get("region", default_region), _REGION, "catalog.region", "a region such as us-east-1")
        limits = {"portfolioName": 100, "providerName": 50, "productName": 100, "productOwner": 100}
        texts = {key: _text(raw[key], f"catalog.{key}", limit) for key, limit in limits.items() if key in raw}
        support = raw.get("supportEmail") or None
        if support is not None:
            _matching(support, _EMAIL, "catalog.supportEmail", "an e-mail address")
        principals = tuple(
            _matching(arn, _PRINCIPAL, f"catalog.principals[{i}]", "an IAM role, user or group ARN")
            for i, arn in enumerate(_list(raw.get("principals", []), "catalog.principals"))
        )
        accounts = tuple(
            _matching(a, _ACCOUNT, f"catalog.shareWithAccounts[{i}]", "a 12-digit account id")
            for i, a in enumerate(_list(raw.get("shareWithAccounts", []), "catalog.shareWithAccounts"))
        )
        if account in accounts:
            raise ConfigurationError(f"catalog.shareWithAccounts lists the catalog's own account {account}")
        return cls(
            account=account,
            region=region,
            portfolio_name=texts.get("portfolioName", cls.portfolio_name),
            provider_name=texts.get("providerName", cls.provider_name),
            product_name=texts.get("productName", cls.product_name),
            product_owner=texts.get("productOwner", cls.product_owner),
            support_email=support,
            principals=principals,
            share_with_accounts=accounts,
            share_with_organization=_organization(raw.get("shareWithOrganization")),
            tag_options=_tag_options(raw.get("tagOptions", DEFAULT_TAG_OPTIONS)),
        )


def principal_type(arn: str) -> str:
    """Service Catalog's principal type: IAM_PATTERN for an ARN without account or with wildcards."""
    return "IAM_PATTERN" if ":iam:::" in arn or "*" in arn else "IAM"


def _matching(value: object, pattern: re.Pattern[str], key: str, what: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise ConfigurationError(f"{key}={value!r} is not {what}")
    return value


def _text(value: object, key: str, limit: int) -> str:
    if not isinstance(value, str) or not 0 < len(value.strip()) <= limit:
        raise ConfigurationError(f"{key}={value!r} must be a non-empty string of at most {limit} characters")
    return value


def _list(value: object, key: str) -> list[object]:
    if not isinstance(value, list):
        raise ConfigurationError(f"{key} must be a list, got {value!r}")
    return value


def _organization(value: object) -> OrganizationShare | None:
    if value in (None, {}, ""):
        return None
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            'catalog.shareWithOrganization must be {"organizationId": "o-...", "organizationalUnits": [...]} or null'
        )
    unknown = sorted(set(value) - {"organizationId", "organizationalUnits"})
    if unknown:
        raise ConfigurationError(f"unknown key(s) in catalog.shareWithOrganization: {', '.join(unknown)}")
    organization = _matching(
        value.get("organizationId"),
        _ORGANIZATION,
        "catalog.shareWithOrganization.organizationId",
        "an organization id such as o-abc123defg",
    )
    where = "catalog.shareWithOrganization.organizationalUnits"
    units = tuple(
        _matching(ou, _OU, f"{where}[{i}]", "an OU id such as ou-ab12-cdef3456")
        for i, ou in enumerate(_list(value.get("organizationalUnits", []), where))
    )
    return OrganizationShare(organization, units)


def _tag_options(value: object) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise ConfigurationError("catalog.tagOptions must map a tag key to its allowed values")
    missing = [key for key in REQUIRED_TAG_OPTIONS if key not in value]
    if missing:
        raise ConfigurationError(
            f"catalog.tagOptions needs the keys {', '.join(REQUIRED_TAG_OPTIONS)}; missing: {', '.join(missing)}"
        )
    options: dict[str, tuple[str, ...]] = {}
    for key, values in value.items():
        where = f"catalog.tagOptions.{key}"
        if not isinstance(key, str) or not 0 < len(key) <= 128:
            raise ConfigurationError(f"{where}: a tag key is 1-128 characters")
        items = _list(list(values) if isinstance(values, tuple) else values, where)
        if not items or not all(isinstance(v, str) and 0 < len(v) <= 256 for v in items):
            raise ConfigurationError(f"{where}={values!r} must list 1-256-character values, at least one")
        options[key] = tuple(v for v in items if isinstance(v, str))  # all are, as checked above
    return options
