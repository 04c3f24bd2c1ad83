"""`python -m rehearsal` (what `make run` and `scripts/rehearse` run): rehearse the promotion locally.

  make run                                     checks + synth, then dev -> staging -> approval -> prod on moto
  scripts/rehearse --approve                   the same, unattended (no approval prompt)
  scripts/rehearse --skip-checks               synthesize only (faster iteration), then rehearse
  scripts/rehearse --stage dev                 one stage: deploy + smoke
  scripts/rehearse --stage dev --serve         deploy one stage, print one JSON line, serve until Ctrl-C
  scripts/rehearse --assembly cdk.out ...      reuse an existing cloud assembly (no checks, no synth)

Exit status: 0 rehearsed (or stopped at the approval), 1 checks, deploy or smoke failed, 2 refused
(real AWS credentials or a non-loopback endpoint in the environment) or bad usage.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from rehearsal import cdk_cli
from rehearsal.assembly import AssemblyError
from rehearsal.promotion import REPOSITORY_ROOT, Console, Rehearsal, parse_faults
from rehearsal.safety import UnsafeEnvironmentError, check_caller_environment

FAULTS_ENV = "REHEARSAL_FAULTS"


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="rehearse", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", help="rehearse only this stage (deploy + smoke), or serve it with --serve")
    parser.add_argument("--serve", action="store_true", help="with --stage: deploy, print one JSON line, serve")
    parser.add_argument("--approve", action="store_true", help="approve the promotion to prod without asking")
    parser.add_argument("--skip-checks", action="store_true", help="skip lint/tests/nag/cfn-lint; synthesize only")
    parser.add_argument("--assembly", type=Path, help="deploy this cloud assembly as is (no checks, no synth)")
    parser.add_argument("--reports", type=Path, default=REPOSITORY_ROOT / "reports", help="reports root")
    parser.add_argument("--processing-timeout", type=float, default=60.0, help="smoke wait for 'processed' (s)")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="FUNCTION=KIND",
        help=f"inject a fault into a served function (KIND: http-500, error); also {FAULTS_ENV}=a=b,c=d",
    )
    args = parser.parse_args(argv)
    if args.serve and not args.stage:
        parser.error("--serve needs --stage NAME")
    env_faults = [f for f in os.environ.get(FAULTS_ENV, "").split(",") if f]
    try:
        args.faults = parse_faults([*env_faults, *args.fault])
    except ValueError as error:
        parser.error(str(error))
    return args


def _prepare_assembly(args: argparse.Namespace, console: Console) -> tuple[Path, float]:
    """Checks and synth exactly as the pipeline's synth step (scripts/check), unless told otherwise."""
    if args.assembly:
        return args.assembly, 0.0
    started = time.monotonic()
    assembly = REPOSITORY_ROOT / "cdk.out"
    if args.skip_checks:
        console.line("checks skipped (--skip-checks): synthesizing only (cdk synth, nag gate included)")
        shutil.rmtree(assembly, ignore_errors=True)
        cdk_cli.synth(outdir=assembly, env=dict(os.environ), log_file=args.reports / "rehearsal" / "synth.log")
    else:
        console.line(
            "checks: scripts/check (lint, unit + runtime + rehearsal tests, nag gate, synth, cfn-lint), "
            "as the pipeline's synth step runs it"
        )
        completed = subprocess.run([str(REPOSITORY_ROOT / "scripts" / "check")], cwd=REPOSITORY_ROOT, check=False)
        if completed.returncode != 0:
            raise SystemExit(f"checks failed (exit {completed.returncode}): nothing is deployed")
    seconds = time.monotonic() - started
    console.line(f"cloud assembly ready: {assembly.relative_to(REPOSITORY_ROOT)} ({seconds:.0f} s)")
    return assembly, seconds


def _serve(rehearsal: Rehearsal, stage: str) -> int:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    rehearsal.serve_until(stage, out=sys.stdout, stop=stop)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _arguments(sys.argv[1:] if argv is None else argv)
    console = Console(sys.stderr if args.serve else sys.stdout)
    try:
        check_caller_environment(os.environ)
    except UnsafeEnvironmentError as error:
        print(f"rehearse: {error}", file=sys.stderr)
        return 2
    try:
        assembly, checks_s = _prepare_assembly(args, console)
        rehearsal = Rehearsal(
            assembly,
            reports=args.reports,
            console=console,
            faults=args.faults,
            processing_timeout_s=args.processing_timeout,
        )
        with rehearsal:
            if args.serve:
                return _serve(rehearsal, args.stage)
            if args.stage:
                result = rehearsal.promote([args.stage], approve=True, publish_catalog=False)
            else:
                result = rehearsal.promote(approve=args.approve)
            result.checks_s = checks_s
            rehearsal.write_summary(result)
            rehearsal.print_summary(result)
            return result.exit_code
    except (AssemblyError, cdk_cli.CdkError, ValueError) as error:
        print(f"rehearse: {error}", file=sys.stderr)
        return 1 if isinstance(error, cdk_cli.CdkError) else 2
    except SystemExit as stop:
        if isinstance(stop.code, str):
            print(f"rehearse: {stop.code}", file=sys.stderr)
            return 1
        raise
    except KeyboardInterrupt:
        print("rehearse: interrupted; the emulator is thrown away", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
