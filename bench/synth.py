"""Synth cost of the full app against the fastest empty CDK app, and where the full app's time goes.

    .venv/bin/python -m bench.synth [--rounds 7] [--compare ../main] [--no-breakdown] [--suite]

1. Ratio. Each sample is a fresh `python` process with the environment and context the CDK CLI gives an
   app under `cdk synth` (CDK_OUTDIR, CDK_CONTEXT_JSON with path/asset metadata and version reporting).
   The floor is an empty app run the same way: `App(builtin_cloud_formation_validation=False)` with the
   feature flags of cdk.json and one empty `Stack`, as the full app runs (cfn-lint is the template gate).
   Rounds alternate the order (empty-full, full-empty, ...) so drift on a shared machine hits both
   sides alike; each round gives one ratio, and the figure is the median ratio with its spread. Wall
   time is the target; CPU time (user + system of the process and its jsii node child) is printed too,
   as it does not count the time spent waiting for a CPU.
2. Breakdown (one instrumented process; instrumentation inflates, read the shares): wall time of each
   phase and each stack's construction and stage synthesis, jsii round-trips per phase, and the node
   side's CPU profile attributed to the nag packs, the product stack and its version history, tree.json,
   template serialization, asset staging, module loading and waiting for Python.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 4.0
# What `cdk synth` (CLI 2.1148) passes an app besides cdk.json's context.
CLI_CONTEXT = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
    "aws:cdk:bundling-stacks": ["**"],
}
EMPTY_APP = """
import json, sys
import aws_cdk as cdk
context = json.loads(open("cdk.json").read())["context"]
app = cdk.App(context=context, builtin_cloud_formation_validation=False)
cdk.Stack(app, "Empty")
app.synth()
"""


def _cli_environment(outdir: str) -> dict[str, str]:
    env = {**os.environ, "CDK_OUTDIR": outdir, "CDK_CONTEXT_JSON": json.dumps(CLI_CONTEXT)}
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    env.setdefault("CDK_DEFAULT_REGION", "us-east-1")
    env.pop("CDK_DEFAULT_ACCOUNT", None)
    return env


def _timed(command: list[str], outdir: str, cwd: Path = ROOT) -> tuple[float, float]:
    """Wall and CPU seconds (the process and its children: the jsii node runtime) of one fresh process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=_cli_environment(outdir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}): {process.stderr.read().decode()}")
    return wall, usage.ru_utime + usage.ru_stime


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def bench_ratio(rounds: int, compare: Path | None) -> None:
    python = sys.executable
    sides: dict[str, tuple[list[str], Path]] = {
        "empty": ([python, "-c", EMPTY_APP], ROOT),
        "full": ([python, "pipeline_app.py"], ROOT),
    }
    if compare:
        sides["compare"] = ([python, "pipeline_app.py"], compare)
    wall: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, list[float]] = defaultdict(list)
    print(f"1. Full app / empty app (validation off, cdk.json flags), {rounds} interleaved rounds")
    if compare:
        print(f"   compare = the full app of {compare}, run the same way in the same rounds")
    print(f"   load average before: {_load()} on {os.cpu_count()} CPU(s)")
    names = list(sides)
    print("   round " + " ".join(f"{name + ' wall':>13} {name + ' CPU':>12}" for name in names))
    with tempfile.TemporaryDirectory() as tmp:
        for name, (command, cwd) in sides.items():  # file-system and jsii package caches; not counted
            _timed(command, f"{tmp}/warm-{name}", cwd)
        for round_number in range(rounds):
            shift = round_number % len(names)  # the order rotates, so drift hits every side alike
            for name in names[shift:] + names[:shift]:
                command, cwd = sides[name]
                seconds, cpu_seconds = _timed(command, f"{tmp}/{name}{round_number}", cwd)
                wall[name].append(seconds)
                cpu[name].append(cpu_seconds)
            print(f"   {round_number + 1:>5} " + " ".join(f"{wall[n][-1]:12.2f}s {cpu[n][-1]:11.2f}s" for n in names))
    for label, samples in (("wall", wall), ("CPU", cpu)):
        medians = ", ".join(f"{name} {statistics.median(samples[name]):.2f} s" for name in names)
        print(f"   {label:<4} medians: {medians}")
        for name in names[1:]:
            ratios = sorted(full / empty for full, empty in zip(samples[name], samples["empty"], strict=True))
            print(
                f"   {label:<4} {name} / empty: median {statistics.median(ratios):.2f}x "
                f"(spread {ratios[0]:.2f}-{ratios[-1]:.2f}; target <= {TARGET_RATIO:.1f}x)"
            )
        if compare:
            ratios = sorted(full / other for full, other in zip(samples["full"], samples["compare"], strict=True))
            print(
                f"   {label:<4} full / compare: median {statistics.median(ratios):.2f}x "
                f"(spread {ratios[0]:.2f}-{ratios[-1]:.2f})"
            )
    print(f"   load average after: {_load()}")


# -- breakdown ------------------------------------------------------------------------------------------
# Node functions (name, file) whose inclusive CPU time is shown; several are nested in others.
JS_PARTS = (
    ("nag: AwsSolutions pack", "checkResource", "cdk-nag/lib/packs/aws-solutions.js"),
    ("nag: PCI DSS 3.2.1 pack", "checkResource", "cdk-nag/lib/packs/pci-dss-321.js"),
    ("nag: both packs, whole validation step", "validateTemplates", "core/lib/private/synthesis-validation.js"),
    ("CDK Pipelines: stage synth at add_stage", "pipelineSynth", "pipelines/lib/private/construct-internals.js"),
    ("product stack template (ProductStack)", "_synthesizeTemplate", "aws-servicecatalog/lib/product-stack.js"),
    ("version history snapshot (ProductStackHistory)", "_writeTemplateToSnapshot", "product-stack-history.js"),
    ("tree.json", "_synthesizeTree", "core/lib/private/tree-metadata.js"),
    ("templates: toCloudFormation (all stacks)", "_toCloudFormation", "core/lib/stack.js"),
    ("templates: resolve tokens", "resolve", "core/lib/private/resolve.js"),
    ("asset staging (copy + hash)", "AssetStaging", "core/lib/asset-staging.js"),
    ("Lambda function hash", "calculateFunctionHash", "aws-lambda/lib/function-hash.js"),
    ("construct stack traces (metadata)", "captureCallStack", "core/lib/private/stack-trace.js"),
    ("JS module loading (require)", "Module._load", "node:internal/modules/cjs/loader"),
    ("jsii package load (tarballs)", "_Kernel_load", "lib/program.js"),
    ("idle: waiting for Python", "readLine", "lib/program.js"),
)

PROFILED_RUN = """
import json, os, sys, time
from collections import Counter
sys.path.insert(0, os.getcwd())
from jsii._kernel.providers import process as jsii_process

phase = ["start jsii, import aws_cdk"]
calls, call_time = Counter(), Counter()
_send = jsii_process._NodeProcess.send
def send(self, request, response_type):
    started = time.perf_counter()
    try:
        return _send(self, request, response_type)
    finally:
        calls[phase[0]] += 1
        call_time[phase[0]] += time.perf_counter() - started
jsii_process._NodeProcess.send = send

spans = []  # (depth, label, seconds)
depth = [0]
def timed(label, function, *args, **kwargs):
    index = len(spans)
    spans.append(None)
    depth[0] += 1
    started = time.perf_counter()
    try:
        return function(*args, **kwargs)
    finally:
        depth[0] -= 1
        spans[index] = (depth[0], label, time.perf_counter() - started)

def wrap(owner, name, label):
    original = getattr(owner, name)
    def wrapped(self, *args, **kwargs):
        text = label(self, *args, **kwargs) if callable(label) else label
        return timed(text, original, self, *args, **kwargs)
    setattr(owner, name, wrapped)

started = time.perf_counter()
import aws_cdk
timed_import = time.perf_counter() - started
phase[0] = "import the app (product, pipeline, cdk_nag)"
t = time.perf_counter()
import pipeline_app
from aws_cdk import App, pipelines
from pipeline import pipeline_stack, stage
from product import payment_stack, compliance
from product.catalog import catalog_stack, product_stack
import_app = time.perf_counter() - t

wrap(stage.PaymentStage, "__init__", lambda self, scope, name, **_: f"stage {name}: PaymentStack construction")
wrap(stage.CatalogStage, "__init__", "stage catalog: catalog stack construction")
wrap(product_stack.PaymentProductStack, "__init__", "product stack (PaymentProductStack) construction")
wrap(pipelines.CodePipeline, "add_stage", lambda self, stage, **_: f"stage {stage.node.id}: synth by CDK Pipelines")
wrap(pipelines.CodePipeline, "build_pipeline", "CodePipeline.build_pipeline")
wrap(payment_stack.PaymentStack, "__init__", lambda self, scope, construct_id, **_: f"{construct_id} construction")
wrap(pipeline_stack.PaymentPipelineStack, "__init__", "PaymentPipeline stack construction (holds the stages)")
pipeline_app.add_nag_gate = lambda scope: timed("nag gate: add both packs", compliance.add_nag_gate, scope)

phase[0] = "construct every stack"
_build_app = pipeline_app.build_app
pipeline_app.build_app = lambda *args, **kwargs: timed("build_app (all construction)", _build_app, *args, **kwargs)
_synth = App.synth
def synth(self, *args, **kwargs):
    phase[0] = "app.synth (nag, templates, assets, tree.json)"
    return timed("app.synth (pipeline and dev stacks, nag over all, tree.json)", _synth, self, *args, **kwargs)
App.synth = synth
pipeline_app.main()  # exactly what `cdk synth` runs
print(json.dumps({"import_cdk": timed_import, "import_app": import_app, "spans": spans,
                  "calls": calls, "call_time": call_time}))
"""


def _node_profile_wrapper(directory: Path) -> Path:
    wrapper = directory / "node-cpu-prof"
    wrapper.write_text(f'#!/bin/sh\nexec node --cpu-prof --cpu-prof-dir="{directory}" --cpu-prof-interval=500 "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def _js_inclusive(profile: dict[str, Any]) -> tuple[float, dict[str, float]]:
    """Total CPU seconds of the profile, and each JS_PARTS entry's inclusive seconds (recursion counted once)."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    parent = {child: node["id"] for node in profile["nodes"] for child in node.get("children", ())}
    self_time: Counter[int] = Counter()
    deltas = profile["timeDeltas"]
    for index, sample in enumerate(profile["samples"][:-1]):
        self_time[sample] += deltas[index + 1]
    matches: dict[int, int | None] = {}
    for node_id, node in nodes.items():
        frame = node["callFrame"]
        matches[node_id] = next(
            (
                number
                for number, (_, function, file) in enumerate(JS_PARTS)
                if frame["functionName"] == function and frame["url"].endswith(file)
            ),
            None,
        )
    inclusive: Counter[int] = Counter()
    for node_id, microseconds in self_time.items():
        seen: set[int] = set()
        current: int | None = node_id
        while current is not None:
            part = matches[current]
            if part is not None and part not in seen:
                seen.add(part)
                inclusive[part] += microseconds
            current = parent.get(current)
    total = sum(self_time.values()) / 1e6
    return total, {JS_PARTS[part][0]: micro / 1e6 for part, micro in inclusive.items()}


def bench_breakdown() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        env = {**_cli_environment(str(directory / "cdk.out")), "JSII_NODE": str(_node_profile_wrapper(directory))}
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", PROFILED_RUN], cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        wall = time.perf_counter() - started
        if result.returncode:
            raise SystemExit(f"profiled synth failed: {result.stderr}")
        report = json.loads(result.stdout.strip().splitlines()[-1])
        profiles = sorted(directory.glob("*.cpuprofile"), key=lambda path: path.stat().st_size)
        js_total, js_parts = _js_inclusive(json.loads(profiles[-1].read_text())) if profiles else (0.0, {})
    print(f"2. Where the full app's synth goes (one instrumented process, {wall:.2f} s wall; load {_load()})")
    print(f"   {'start jsii + import aws_cdk':<66} {report['import_cdk']:6.2f} s")
    print(f"   {'import the app (product, pipeline, cdk_nag)':<66} {report['import_app']:6.2f} s")
    for depth, label, seconds in report["spans"]:
        print(f"   {'  ' * depth}{label:<{66 - 2 * depth}} {seconds:6.2f} s")
    print("   jsii round-trips (Python -> node requests, callbacks included) per phase:")
    for name, count in report["calls"].items():
        print(f"     {name:<64} {count:6d} calls {report['call_time'][name]:6.2f} s")
    if not js_parts:
        print("   (no node CPU profile was written)")
        return
    print(f"   node (jsii runtime) CPU profile: {js_total:.2f} s sampled; inclusive time, parts overlap:")
    for label, _, _ in JS_PARTS:
        seconds = js_parts.get(label, 0.0)
        print(f"     {label:<50} {seconds:6.2f} s {100 * seconds / js_total:5.1f}%")


def bench_suite() -> None:
    started = time.perf_counter()
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    command = [sys.executable, "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider"]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, env=env)
    print(f"3. unit suite wall time {time.perf_counter() - started:.2f} s (load {_load()})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds of both apps (default 7; 0: none)")
    parser.add_argument(
        "--compare", type=Path, help="another checkout (e.g. of main) whose app runs in the same rounds"
    )
    parser.add_argument("--no-breakdown", action="store_true", help="skip the instrumented breakdown run")
    parser.add_argument("--suite", action="store_true", help="also time the unit suite")
    args = parser.parse_args()
    if args.rounds < 0:
        parser.error("--rounds must be 0 or more")
    if args.rounds:
        bench_ratio(args.rounds, args.compare.resolve() if args.compare else None)
    if not args.no_breakdown:
        bench_breakdown()
    if args.suite:
        bench_suite()
    return 0


if __name__ == "__main__":
    sys.exit(main())
