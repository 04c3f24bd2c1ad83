"""Stack outputs: every output present and well-formed."""

from __future__ import annotations

from product.contract import Output
from tests.smoke.support import params_from_target
from tests.smoke.target import Target, env_var_name


def _outputs(target: Target) -> list[tuple[str, str]]:
    """Every output the stack has: a conditional one (EdgeUrl of a launch without Shield) only when it holds."""
    return [
        (output_id, output_id)
        for output_id, output in target.template.get("Outputs", {}).items()
        if target.condition_holds(output.get("Condition"))
    ]


def _assert_well_formed(output_id: str, value: str, target: Target) -> None:
    assert "not-emulated" not in value, f"{output_id}={value!r} refers to a resource that was not created"
    if output_id.endswith("Arn"):
        assert value.startswith(f"arn:{target.partition}:"), f"{output_id}={value!r} is not an ARN"
        assert f":{target.account}:" in value or value.split(":")[4] == "", f"{value} is not in {target.account}"
    elif output_id.endswith("Url"):
        assert value.startswith(("https://", "http://127.", "http://localhost")), f"{output_id}={value!r}"
        if value.startswith("http://"):
            assert target.not_emulated.active, f"{output_id} is plain HTTP outside the emulator: {value}"
    elif output_id == Output.ENVIRONMENT:
        assert value == target.stage, f"Environment output {value!r} is not the stage {target.stage!r}"
    else:
        assert value.strip() == value and " " not in value, f"{output_id}={value!r} is not a resource name"


@params_from_target("output_id", _outputs)
def test_output_present(output_id: str, target: Target, subject, note) -> None:
    """Output present, non-empty and well-formed"""
    for logical_id in sorted(target.output_references(output_id)):
        subject(logical_id)
    value = target.outputs.get(output_id, "")
    note(f"output {output_id} = {value} ({target.output_sources.get(output_id, 'missing')})")
    assert value, f"output {output_id} is missing (neither DescribeStacks nor {env_var_name(output_id)} has it)"
    stack_value = target.stack_outputs.get(output_id)
    served = target.not_emulated.served_outputs.get(output_id)
    if served is not None and stack_value == served["output"] and value == served["served_at"]:
        # The emulator's file says the rehearsal's local gateway serves this output's URL (as AWS_ENDPOINT_URL
        # stands in for AWS's endpoints): the deployed value is checked too.
        note(f"served locally at {value}, standing in for the stack's {stack_value}")
        _assert_well_formed(output_id, stack_value, target)
    else:
        assert stack_value is None or stack_value == value, (
            f"{env_var_name(output_id)}={value!r} differs from the stack's output {stack_value!r}: stale variables?"
        )
    _assert_well_formed(output_id, value, target)
