"""Synth cost of the full app against the fastest empty CDK app, and where the full app's time goes.

    .venv/bin/python -m bench.synth [--rounds 7] [--compare ../main] [--no-breakdown] [--suite]

1. Ratio. Each sample is a fresh process of cdk.json's app command (`.venv/bin/python -O pipeline_app.py`)
   with the environment and context the CDK CLI gives an app under `cdk synth` (CDK_OUTDIR,
   CDK_CONTEXT_JSON with path/asset metadata, version reporting and failSynthOnValidationErrors=false, as
   CLI 2.1148 passes them).
   The floor is an empty app run the same way, by the same interpreter with the same options (`-O`):
   `App(builtin_cloud_formation_validation=False)` with the feature flags of cdk.json and one empty `Stack`,
   as the full app runs (cfn-lint is the template gate).
   Three partial apps run in the same rounds, to show how much of the ratio the app's smallest parts already
   take: `imports` (the full app's imports, then the empty app), `1-stack` (the direct-deploy
   `PaymentStack-dev` alone, with the nag gate) and `5-stacks` (five copies of it: the full app builds
   `PaymentService` five times, in the three stages, the catalog's product and the direct-deploy stack).
   Rounds rotate the order of the apps, so drift on a shared machine hits every side alike; each round gives
   one ratio per app, and the figure is the median ratio with its spread. On a shared machine read the CPU
   ratio (user + system of the process and its jsii node children): wall time also counts the time spent
   waiting for a CPU.
2. Breakdown (instrumented processes, Linux): the whole run's CPU split into Python, the jsii kernel and
   jsii's stdin/stdout relay process; the serial path (jsii calls are synchronous: Python and the kernel's
   main thread take turns, so their sum is the least wall time the app can take); then per span (imports,
   each stack's and PaymentService's construction, the launch role, each stage's synthesis by CDK
   Pipelines, app.synth) the Python CPU, the node CPU (exact, from /proc/<pid>/task/*/schedstat of both node
   processes) and the jsii round trips;
   the node CPU of each kind of jsii request; and, from a second run under `node --cpu-prof`, the kernel's
   sampled profile attributed to the nag packs, the product stack and its version history, tree.json,
   template serialization, asset staging and module loading; last, what one jsii round trip costs by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
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
# What `cdk synth` (CLI 2.1148) passes an app besides cdk.json's context (read from a CLI run's environment).
CLI_CONTEXT = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
    "aws:cdk:bundling-stacks": ["**"],
    # The CLI reads the validation report and fails the command itself.
    "@aws-cdk/core:failSynthOnValidationErrors": False,
}
EMPTY_APP = """
import json, sys
import aws_cdk as cdk
context = json.loads(open("cdk.json").read())["context"]
app = cdk.App(context=context, builtin_cloud_formation_validation=False)
cdk.Stack(app, "Empty")
app.synth()
"""
# Partial apps, built the way pipeline_app builds them.
IMPORTS_APP = (
    """
import os, sys
sys.path.insert(0, os.getcwd())
import pipeline_app  # every module the full app imports: product, pipeline, cdk_nag and their aws_cdk modules
"""
    + EMPTY_APP
)
PAYMENT_STACKS_APP = """
import gc, os, sys
sys.path.insert(0, os.getcwd())
import pipeline_app
from aws_cdk import App
gc.freeze()
app = App(context=pipeline_app.cdk_json_context(), builtin_cloud_formation_validation=False)
context = app.node.get_all_context()
settings = pipeline_app.DeliverySettings.from_context(context)
target = pipeline_app.read_direct_deploy_target(context, os.environ)
pipeline_app.build_direct_deploy_stack(app, settings, target)
for copy in range(1, int(sys.argv[1])):  # more copies, as the pipeline's stages and the catalog build them
    suffix = f"{target.environment_suffix}{copy}"
    pipeline_app.build_direct_deploy_stack(app, settings, pipeline_app.DirectDeployTarget(suffix, target.region, None))
pipeline_app.add_nag_gate(app)
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


def app_command(checkout: Path) -> tuple[list[str], list[str]]:
    """The app command of a checkout's cdk.json, as `cdk synth` runs it, and its interpreter options (for
    example `-O`): the empty app runs with the same options, so the floor is the same interpreter's."""
    cdk_json = checkout / "cdk.json"
    try:
        command = shlex.split(json.loads(cdk_json.read_text())["app"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SystemExit(
            f"{cdk_json}: no readable app command ({error}); it should be like '.venv/bin/python -O pipeline_app.py'"
        ) from error
    scripts = [index for index, argument in enumerate(command) if argument.endswith(".py")]
    if len(command) < 2 or not scripts or "python" not in Path(command[0]).name:
        raise SystemExit(
            f"{cdk_json}: app {command} is not '<python> [options] <script>.py'; bench/synth times a Python app"
        )
    return command, command[1 : scripts[0]]


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def bench_ratio(rounds: int, compare: Path | None, partial_apps: bool = True) -> None:
    full, flags = app_command(ROOT)
    sides: dict[str, tuple[list[str], Path]] = {"empty": ([sys.executable, *flags, "-c", EMPTY_APP], ROOT)}
    if partial_apps:
        sides["imports"] = ([sys.executable, *flags, "-c", IMPORTS_APP], ROOT)
        sides["1-stack"] = ([sys.executable, *flags, "-c", PAYMENT_STACKS_APP, "1"], ROOT)
        sides["5-stacks"] = ([sys.executable, *flags, "-c", PAYMENT_STACKS_APP, "5"], ROOT)
    sides["full"] = (full, ROOT)
    if compare:
        sides["compare"] = (app_command(compare)[0], compare)
    wall: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, list[float]] = defaultdict(list)
    print(f"1. Full app / empty app (validation off, cdk.json flags), {rounds} interleaved rounds")
    if partial_apps:
        print(
            "   imports = the full app's imports + the empty app; 1-stack = PaymentStack-dev alone, nag gate on;\n"
            "   5-stacks = five copies of it (the full app builds PaymentService five times: three stages, the\n"
            "   catalog's product, the direct-deploy stack), nag gate on, without the pipeline and the catalog"
        )
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
            target = f"; target <= {TARGET_RATIO:.1f}x" if name == "full" else ""
            print(
                f"   {label:<4} {name} / empty: median {statistics.median(ratios):.2f}x "
                f"(spread {ratios[0]:.2f}-{ratios[-1]:.2f}{target})"
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

PROFILER = """
import json, os, sys, time
from collections import Counter
sys.path.insert(0, os.getcwd())
from jsii._kernel.providers import process as jsii_process

# CPU of the jsii node processes (the relay jsii-runtime.js and the kernel it spawns, every thread), exact
# to the nanosecond from the scheduler, so a span's node CPU is what it made node compute.
node_pids = []
def node_cpu():
    total = 0
    for pid in node_pids:
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/schedstat") as stat:
                    total += int(stat.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / 1e9
def main_threads_cpu():  # cheap enough for every request: the two node processes' main threads only
    total = 0
    for pid in node_pids:
        with open(f"/proc/{pid}/schedstat") as stat:
            total += int(stat.read().split()[0])
    return total / 1e9
def main_thread_per_process():  # serial work: a node process's main thread is where the jsii kernel computes
    result = []
    for pid in node_pids:
        with open(f"/proc/{pid}/schedstat") as stat:
            result.append(int(stat.read().split()[0]) / 1e9)
    return result
def per_process():
    result = []
    for pid in node_pids:
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as stat:
                total += int(stat.read().split()[0])
        result.append(total / 1e9)
    return result

calls = [0]
kinds, kind_cpu = Counter(), Counter()
_send = jsii_process._NodeProcess.send
def send(self, request, response_type):
    if not node_pids:
        relay = self._process.pid
        with open(f"/proc/{relay}/task/{relay}/children") as children:
            node_pids.extend([relay, *(int(pid) for pid in children.read().split())])
    calls[0] += 1
    kind = type(request).__name__.replace("Request", "")
    member = getattr(request, "fqn", None) or ""
    member = member + "." + (getattr(request, "method", None) or getattr(request, "property", None) or "")
    kind = f"{kind} {member.strip('.')}"
    started = main_threads_cpu()
    try:
        return _send(self, request, response_type)
    finally:
        kinds[kind] += 1
        kind_cpu[kind] += main_threads_cpu() - started
jsii_process._NodeProcess.send = send

spans = []  # (depth, label, Python CPU, node CPU, jsii calls)
depth = [0]
def timed(label, function, *args, **kwargs):
    index = len(spans)
    spans.append(None)
    depth[0] += 1
    python, node, count = time.thread_time(), node_cpu(), calls[0]
    try:
        return function(*args, **kwargs)
    finally:
        depth[0] -= 1
        spans[index] = (depth[0], label, time.thread_time() - python, node_cpu() - node, calls[0] - count)

def wrap(owner, name, label):
    original = getattr(owner, name)
    def wrapped(self, *args, **kwargs):
        text = label(self, *args, **kwargs) if callable(label) else label
        return timed(text, original, self, *args, **kwargs)
    setattr(owner, name, wrapped)

"""
PROFILED_RUN = (
    PROFILER
    + """
def imports():
    import pipeline_app
    from pipeline import stage
    return pipeline_app
timed("start jsii, import aws_cdk (node loads aws-cdk-lib)", __import__, "aws_cdk")
pipeline_app = timed("import the app (product, pipeline, cdk_nag)", imports)
from aws_cdk import App, pipelines
from pipeline import pipeline_stack, stage
from product import payment_stack, payment_service, compliance
from product.catalog import product_stack, launch_role, boundary

wrap(stage.PaymentStage, "__init__", lambda self, scope, name, **_: f"stage {name}: PaymentStack construction")
wrap(stage.CatalogStage, "__init__", "stage catalog: catalog stack construction")
wrap(product_stack.PaymentProductStack, "__init__", "product stack (PaymentProductStack) construction")
wrap(launch_role.ProductLaunchRole, "__init__", "launch role (walks the product stack)")
wrap(boundary.ProductPermissionsBoundary, "__init__", "permissions boundary (walks the product stack)")
wrap(payment_service.PaymentService, "__init__", "PaymentService")
wrap(pipelines.CodePipeline, "add_stage", lambda self, stage, **_: f"stage {stage.node.id}: synth by CDK Pipelines")
wrap(pipelines.CodePipeline, "build_pipeline", "CodePipeline.build_pipeline")
wrap(payment_stack.PaymentStack, "__init__", lambda self, scope, construct_id, **_: f"{construct_id} construction")
wrap(pipeline_stack.PaymentPipelineStack, "__init__", "PaymentPipeline stack construction (holds the stages)")
_acknowledge = pipeline_stack.acknowledge_pipeline_findings
pipeline_stack.acknowledge_pipeline_findings = lambda *a, **k: timed("pipeline acknowledgments", _acknowledge, *a, **k)
pipeline_app.add_nag_gate = lambda scope: timed("nag gate: add both packs", compliance.add_nag_gate, scope)
_build_app = pipeline_app.build_app
pipeline_app.build_app = lambda *args, **kwargs: timed("build_app (all construction)", _build_app, *args, **kwargs)
_synth = App.synth
SYNTH = "app.synth (nag over all, pipeline + dev templates, tree.json)"
App.synth = lambda self, *a, **k: timed(SYNTH, _synth, self, *a, **k)
pipeline_app.main()  # exactly what `cdk synth` runs
print(json.dumps({"spans": spans, "python": time.thread_time(), "node": per_process(), "calls": calls[0],
                  "main": main_thread_per_process(), "kinds": kinds.most_common(), "kind_cpu": kind_cpu}))
"""
)


PROFILED_EMPTY = (
    PROFILER
    + EMPTY_APP
    + """
print(json.dumps({"spans": [], "python": time.thread_time(), "node": per_process(), "calls": calls[0],
                  "main": main_thread_per_process(), "kinds": kinds.most_common(), "kind_cpu": kind_cpu}))
"""
)


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


def _profiled(env: dict[str, str], program: str = PROFILED_RUN) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, *app_command(ROOT)[1], "-c", program],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise SystemExit(f"profiled synth failed: {result.stderr}")
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def bench_breakdown(top_requests: int = 12) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        report = _profiled(_cli_environment(str(directory / "cdk.out")))
        floor = _profiled(_cli_environment(str(directory / "empty.out")), PROFILED_EMPTY)
        env = {**_cli_environment(str(directory / "cdk.js")), "JSII_NODE": str(_node_profile_wrapper(directory))}
        _profiled(env)
        profiles = sorted(directory.glob("*.cpuprofile"), key=lambda path: path.stat().st_size)
        js_total, js_parts = _js_inclusive(json.loads(profiles[-1].read_text())) if profiles else (0.0, {})
    relay, *kernel = report["node"]
    node = relay + sum(kernel)
    print(f"2. Where the full app's CPU goes (one instrumented process; load {_load()})")
    print(
        f"   CPU: Python {report['python']:.2f} s + node {node:.2f} s (jsii kernel {sum(kernel):.2f} s, "
        f"its stdin/stdout relay jsii-runtime.js {relay:.2f} s) = {report['python'] + node:.2f} s; "
        f"{report['calls']} jsii round trips"
    )
    floor_relay, *floor_kernel = floor["node"]
    floor_total = floor["python"] + floor_relay + sum(floor_kernel)
    print(
        f"   floor (empty app, same way): Python {floor['python']:.2f} s + jsii kernel {sum(floor_kernel):.2f} s + "
        f"relay {floor_relay:.2f} s = {floor_total:.2f} s; {floor['calls']} jsii round trips"
    )
    kernel_main, serial = sum(report["main"][1:]), report["python"] + sum(report["main"][1:])
    print(
        f"   serial path: jsii calls are synchronous, so Python and the kernel's main thread take turns: "
        f"{report['python']:.2f} s + {kernel_main:.2f} s = {serial:.2f} s, {serial / floor_total:.2f}x the empty "
        f"app's whole CPU; the kernel's main thread alone is {kernel_main / floor_total:.2f}x (the least the full app "
        f"could take if Python and the protocol cost nothing)"
    )
    print(
        f"   {'span (nested spans are included in their parent)':<62} {'Python':>7} {'node':>6} {'sum':>6} {'calls':>6}"
    )
    for depth, label, python, node_seconds, count in report["spans"]:
        print(
            f"   {'  ' * depth}{label:<{62 - 2 * depth}} {python:6.2f}s {node_seconds:5.2f}s "
            f"{python + node_seconds:5.2f}s {count:6d}"
        )
    print(f"   node CPU by jsii request (top {top_requests}; count, CPU of the node main threads):")
    for kind, count in sorted(report["kinds"], key=lambda item: -report["kind_cpu"][item[0]])[:top_requests]:
        print(f"     {kind[:70]:<70} {count:5d} {report['kind_cpu'][kind]:6.2f} s")
    bench_round_trip(report["calls"])
    if not js_parts:
        print("   (no node CPU profile was written)")
        return
    print(
        f"   node kernel CPU profile (a second run; sampled, so it counts time waiting for a CPU and for Python): "
        f"{js_total:.2f} s; inclusive, parts overlap:"
    )
    for label, _, _ in JS_PARTS:
        seconds = js_parts.get(label, 0.0)
        print(f"     {label:<50} {seconds:6.2f} s {100 * seconds / js_total:5.1f}%")


ROUND_TRIP = """
import json, os, time
import jsii._runtime
from aws_cdk import Token
Token.is_unresolved("x")  # starts the kernel
relay = jsii._runtime.kernel.provider._process._process.pid
with open(f"/proc/{relay}/task/{relay}/children") as children:
    pids = [relay, *(int(pid) for pid in children.read().split())]
def node_cpu():
    return sum(
        int(open(f"/proc/{pid}/task/{tid}/schedstat").read().split()[0]) for pid in pids
        for tid in os.listdir(f"/proc/{pid}/task")
    ) / 1e9
calls = 3000
python, node, started = time.thread_time(), node_cpu(), time.perf_counter()
for _ in range(calls):
    Token.is_unresolved("x")
wall, node, python = time.perf_counter() - started, node_cpu() - node, time.thread_time() - python
print(json.dumps({"wall": wall / calls, "python": python / calls, "node": node / calls}))
"""


def bench_round_trip(full_app_calls: int) -> None:
    """What one jsii call costs by itself (the protocol, both processes), against the full app's call count."""
    result = subprocess.run(
        [sys.executable, *app_command(ROOT)[1], "-c", ROUND_TRIP],
        cwd=ROOT,
        env=_cli_environment(tempfile.gettempdir()),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise SystemExit(f"round-trip measurement failed: {result.stderr}")
    cost = json.loads(result.stdout.strip().splitlines()[-1])
    print(
        f"   one jsii round trip that does nothing (Token.is_unresolved, 3000 in a row): {cost['wall'] * 1e6:.0f} µs "
        f"wall, CPU Python {cost['python'] * 1e6:.0f} µs + node {cost['node'] * 1e6:.0f} µs; the full app's "
        f"{full_app_calls} round trips take {full_app_calls * cost['wall']:.2f} s of wall time for the protocol alone"
    )


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
    parser.add_argument(
        "--no-partial-apps", action="store_true", help="time only the empty and the full app (no partial apps)"
    )
    parser.add_argument("--suite", action="store_true", help="also time the unit suite")
    args = parser.parse_args()
    if args.rounds < 0:
        parser.error("--rounds must be 0 or more")
    if args.rounds:
        bench_ratio(args.rounds, args.compare.resolve() if args.compare else None, not args.no_partial_apps)
    if not args.no_breakdown:
        bench_breakdown()
    if args.suite:
        bench_suite()
    return 0


if __name__ == "__main__":
    sys.exit(main())
