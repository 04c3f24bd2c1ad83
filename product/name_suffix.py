"""The name suffix every physical name carries: its shape, its length cap, and the names a launch may not take.

CDK-free (the launch helper imports it). Two audiences, two rules:
- every deployment (stage stacks, the direct `PaymentStack-<suffix>`, catalog launches) builds the same
  physical names, so the shape and the length cap (`NAME_SUFFIX_PATTERN`) apply to all of them;
- a catalog launch must not take a pipeline stage's name (`CATALOG_NAME_SUFFIX_PATTERN`): the stages are
  named `dev`, `staging` and `prod` and may share the account, so a launch named like one would collide with
  (or, once retained data is involved, adopt the names of) that stage's tables, buckets and functions.

`NAME_SUFFIX_MAX_LENGTH` is the longest suffix for which every physical name of the product fits its
service's limit in every region of cdk.json `availabilityZones` with a 12-digit account id (the binding name
is the S3 bucket `payment-access-logs-<suffix>-<account>-<region>`: 63 characters in `eu-central-1`);
tests/unit/test_name_suffix.py derives that bound from the synthesized product template and fails when it
moves, so a longer name or a longer region shows up there.
"""

from __future__ import annotations

import re

NAME_SUFFIX_MAX_LENGTH = 17
STAGE_NAMES = ("dev", "staging", "prod")  # the pipeline's stages; equal to product.profiles.ENVIRONMENT_NAMES
_BODY = f"[a-z][a-z0-9-]{{1,{NAME_SUFFIX_MAX_LENGTH - 1}}}"
NAME_SUFFIX_PATTERN = f"^{_BODY}$"
CATALOG_NAME_SUFFIX_PATTERN = f"^(?!(?:{'|'.join(STAGE_NAMES)})$){_BODY}$"
NAME_SUFFIX_RULE = (
    f"a lower-case letter, then 1-{NAME_SUFFIX_MAX_LENGTH - 1} lower-case letters, digits or '-' "
    f"(at most {NAME_SUFFIX_MAX_LENGTH} characters, so every bucket, function and role name fits its limit)"
)
CATALOG_NAME_SUFFIX_RULE = f"{NAME_SUFFIX_RULE}, and not a pipeline stage's name ({', '.join(STAGE_NAMES)})"


def suffix_problem(suffix: str, *, catalog_launch: bool) -> str | None:
    """What is wrong with `suffix` (None if nothing): a catalog launch also may not take a stage's name."""
    if catalog_launch and suffix in STAGE_NAMES:
        return (
            f"name suffix {suffix!r} is the name of a pipeline stage, whose stack owns the physical names "
            f"ending in -{suffix} in its account; choose another, e.g. team-a-{suffix}"
        )
    if not re.fullmatch(NAME_SUFFIX_PATTERN, suffix):
        return f"name suffix {suffix!r} must match {NAME_SUFFIX_PATTERN}: {NAME_SUFFIX_RULE}"
    return None
