"""The product's versions: named, the published ones locked, their templates committed as snapshots.

The last entry is the current version, built from today's code. Every earlier entry must be published,
and is served from its snapshot in `versions/`. How a platform team publishes:

1. Develop on a draft: `ProductVersion("v2", "...")` as the last entry. Every synth rewrites its snapshot
   (`versions/*.v2.product.template.json`), so the template diff shows up in review.
2. Publish: set `published=True` (locks it), run `make synth`, commit the snapshot with the change. From
   then on, synth fails if the code would change v2's template (aws-cdk `TemplateChangedForLockedVersion`).
3. Next change: append `ProductVersion("v3", "...")` as the new draft; v2 stays available from its snapshot.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from product.errors import ConfigurationError

SNAPSHOT_DIRECTORY = Path(__file__).resolve().parent / "versions"
_VERSION_NAME = re.compile(r"^v\d+(\.\d+){0,2}$")


@dataclass(frozen=True)
class ProductVersion:
    """One Service Catalog provisioning artifact of the product."""

    name: str
    description: str
    published: bool = False  # published = locked: its snapshot may never change again


# Oldest first; the last entry is the current version.
VERSIONS: tuple[ProductVersion, ...] = (
    ProductVersion(
        "v1",
        "Payment API (API Gateway + Lambda behind a CodeDeploy alias), DynamoDB, audit S3, SNS/SQS/EventBridge, "
        "WAF, monitoring, reconciliation fleet; profile, name suffix and account-singleton opt-ins at launch",
    ),
)


def validate(versions: Sequence[ProductVersion]) -> ProductVersion:
    """Check the version list and return the current (last) version."""
    if not versions:
        raise ConfigurationError("the product needs at least one version in product/catalog/versions.py")
    names = [v.name for v in versions]
    for version in versions:
        if not _VERSION_NAME.match(version.name):
            raise ConfigurationError(f"product version name {version.name!r} must look like v1, v2 or v2.1")
        if not version.description.strip():
            raise ConfigurationError(f"product version {version.name} needs a description")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigurationError(f"product version names must be unique, repeated: {', '.join(duplicates)}")
    drafts = [v.name for v in versions[:-1] if not v.published]
    if drafts:
        raise ConfigurationError(
            f"only the current (last) version may be a draft; publish or remove: {', '.join(drafts)}"
        )
    return versions[-1]
