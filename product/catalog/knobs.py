"""The knob table as a CloudFormation mapping, and the launch-time profile that reads it.

`profile_mapping_rows` turns `product.profiles.PROFILES` into mapping rows (one per environment, one
column per knob), walking the dataclasses so a knob added to the table reaches the catalog without a
change here. `launch_profile` builds an `EnvironmentProfile` whose knobs are `Fn::FindInMap` tokens keyed
by the profile launch parameter; `PaymentService` takes it like any other profile.

A few knobs cannot be CloudFormation values and are decided here, from the same table:
- `removal`: a DeletionPolicy cannot be a token, so launched data is always retained (`LAUNCH_REMOVAL`).
- `nat_gateways`: `ec2.Vpc` needs a number, so the product builds the table's largest count and makes
  each gateway beyond the first conditional on the mapping's `natGateway<i>` column.
- anything else that is not a number or plain string (e.g. the fleet's instance type, which the launch
  template parses) must be the same in every profile; synth fails naming the knob otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import TYPE_CHECKING, Any

from aws_cdk import CfnMapping, IResolvable, Token
from constructs import Construct

from product.errors import ConfigurationError
from product.profiles import PROFILES, EnvironmentProfile, RemovalMode

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# A DeletionPolicy cannot come from a parameter or mapping: launched products keep their data.
LAUNCH_REMOVAL: RemovalMode = "retain"
# Knobs that must stay concrete (not tokens); each has a launch policy below or must agree across profiles.
CONCRETE_KNOBS = ("name", "removal", "nat_gateways", "fleet.instance_type")
LABEL_COLUMN = "environmentLabel"
DELETION_PROTECTION_COLUMN = "deletionProtection"


def column_name(knob: str) -> str:
    """Mapping column of a knob path: 'fleet.min' -> 'fleetMin', 'payment_memory_mb' -> 'paymentMemoryMb'."""
    words = knob.replace(".", "_").split("_")
    return words[0] + "".join(word.capitalize() for word in words[1:])


def nat_gateway_column(index: int) -> str:
    """Column saying whether the profile has a NAT gateway number `index` (1-based)."""
    return f"natGateway{index}"


def _knobs(instance: DataclassInstance, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(knob path, value) of every leaf field, nested dataclasses flattened with '.'."""
    for field in fields(instance):
        value = getattr(instance, field.name)
        path = f"{prefix}{field.name}"
        if is_dataclass(value) and not isinstance(value, type):
            yield from _knobs(value, f"{path}.")
        else:
            yield path, value


def max_nat_gateways(profiles: Mapping[str, EnvironmentProfile] = PROFILES) -> int:
    return max(profile.nat_gateways for profile in profiles.values())


def _launch_invariant(knob: str, profiles: Mapping[str, EnvironmentProfile]) -> object:
    values = {name: dict(_knobs(profile))[knob] for name, profile in profiles.items()}
    if len(set(values.values())) != 1:
        raise ConfigurationError(
            f"knob {knob!r} differs between profiles {values} but cannot vary at launch (the construct needs "
            "a concrete value): give it a launch policy in product/catalog/knobs.py or make it equal"
        )
    return next(iter(values.values()))


def _mapping_value(value: str | int | float) -> str:
    """CloudFormation mapping values are strings; numbers as the stage templates render them (1.0 -> '1')."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def profile_mapping_rows(profiles: Mapping[str, EnvironmentProfile] = PROFILES) -> dict[str, dict[str, str]]:
    """One mapping row per environment: every token-capable knob, plus derived columns."""
    nat_max = max_nat_gateways(profiles)
    rows: dict[str, dict[str, str]] = {}
    for name, profile in profiles.items():
        row: dict[str, str] = {}
        for knob, value in _knobs(profile):
            if knob in CONCRETE_KNOBS:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ConfigurationError(f"knob {knob!r}={value!r} cannot be a CloudFormation mapping value")
            row[column_name(knob)] = _mapping_value(value)
        row[LABEL_COLUMN] = profile.environment_label
        row[DELETION_PROTECTION_COLUMN] = "true" if profile.deletion_protection else "false"
        for index in range(2, nat_max + 1):
            row[nat_gateway_column(index)] = "true" if profile.nat_gateways >= index else "false"
        rows[name] = row
    return rows


@dataclass(frozen=True)
class LaunchTimeProfile(EnvironmentProfile):
    """A profile whose name and derived values are tokens too (they come from the mapping)."""

    label: str = ""
    protection: IResolvable | bool = False

    @property
    def environment_label(self) -> str:
        return self.label

    @property
    def deletion_protection(self) -> IResolvable | bool:  # type: ignore[override]  # a mapping token, not a bool
        return self.protection


def launch_profile(
    mapping: CfnMapping, profile_name: str, profiles: Mapping[str, EnvironmentProfile] = PROFILES
) -> LaunchTimeProfile:
    """A profile for `PaymentService` whose knobs resolve at launch: `Fn::FindInMap(mapping, profile, column)`."""
    template = next(iter(profiles.values()))

    def token_for(knob: str, example: object) -> object:
        if knob == "name":
            return profile_name
        if knob == "removal":
            return LAUNCH_REMOVAL
        if knob == "nat_gateways":
            return max_nat_gateways(profiles)  # the extra gateways carry conditions (PaymentProductStack)
        if knob in CONCRETE_KNOBS:
            return _launch_invariant(knob, profiles)
        value = mapping.find_in_map(profile_name, column_name(knob))
        return value if isinstance(example, str) else Token.as_number(value)

    def build(instance: Any, prefix: str = "") -> Any:
        changes = {}
        for field in fields(instance):
            value = getattr(instance, field.name)
            knob = f"{prefix}{field.name}"
            changes[field.name] = build(value, f"{knob}.") if is_dataclass(value) else token_for(knob, value)
        return replace(instance, **changes)

    base = build(template)
    return LaunchTimeProfile(
        **{field.name: getattr(base, field.name) for field in fields(base)},
        label=mapping.find_in_map(profile_name, LABEL_COLUMN),
        protection=Token.as_any(mapping.find_in_map(profile_name, DELETION_PROTECTION_COLUMN)),
    )


def profile_mapping(scope: Construct, construct_id: str = "EnvironmentProfiles") -> CfnMapping:
    """The CloudFormation mapping generated from the knob table."""
    return CfnMapping(scope, construct_id, mapping=profile_mapping_rows())
