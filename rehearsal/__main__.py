"""`python -m rehearsal` (what `make run` and `scripts/rehearse` run): execute the synthesized pipeline locally.

  make run                                   every action of the pipeline in cdk.out, on the embedded emulator
  scripts/rehearse --approve                 the same, unattended (manual approvals granted)
  scripts/rehearse --reuse-synth             the synth action's commands not run: its output is cdk.out as it is
  scripts/rehearse --stage dev               one stage and the actions it reads from (approvals granted)
  scripts/rehearse --stage dev --serve       deploy one stage, print one JSON line, serve until Ctrl-C
  scripts/rehearse --assembly DIR ...        like --reuse-synth, with that cloud assembly

The plan (stages, actions, run orders, buildspecs) is the pipeline's template in the cloud assembly; the
source is a fresh export of the checked-out commit. Exit status: 0 rehearsed (or stopped at an approval
that could not be asked), 1 an action failed or could not be emulated with later actions depending on
it, 2 refused (real AWS credentials or a non-loopback endpoint) or bad usage.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

from rehearsal import actions, cdk_cli, run_report
from rehearsal.assembly import AssemblyError
from rehearsal.executor import Console, PipelineRehearsal
from rehearsal.faults import FAULTS_ENV, parse_faults
from rehearsal.safety import UnsafeEnvironmentError, check_caller_environment

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="rehearse", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", help="rehearse only this stage (and what it reads from), or serve it with --serve")
    parser.add_argument("--serve", action="store_true", help="with --stage: deploy, print one JSON line, serve")
    parser.add_argument("--approve", action="store_true", help="grant every manual approval without asking")
    parser.add_argument("--reuse-synth", action="store_true", help="do not run the synth action; use cdk.out as is")
    parser.add_argument("--assembly", type=Path, help="like --reuse-synth, with this cloud assembly")
    parser.add_argument("--pipeline", help="the pipeline to rehearse, when the assembly has several")
    parser.add_argument(
        "--include-uncommitted", action="store_true", help="rehearse the working tree's tracked changes too"
    )
    parser.add_argument("--reports", type=Path, default=REPOSITORY_ROOT / "reports", help="reports root")
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


def _definition(args: argparse.Namespace, console: Console, scratch: Path) -> tuple[Path, bool]:
    """(assembly to plan from, reuse it as the synth action's output?)."""
    if args.assembly:
        return args.assembly, True
    existing = REPOSITORY_ROOT / "cdk.out"
    if args.reuse_synth:
        if not (existing / "manifest.json").is_file():
            raise AssemblyError(f"--reuse-synth: no cloud assembly in {existing}: run `make synth` (or drop the flag)")
        return existing, True
    if (existing / "manifest.json").is_file():
        console.line("initial pipeline definition: cdk.out (planned again from the synth action's output)")
        return existing, False
    console.line("no cdk.out: synthesizing the pipeline definition to start from (cdk synth)")
    outdir = scratch / "cdk.out"
    cdk_cli.synth(
        outdir=outdir, env=dict(os.environ), log_file=args.reports / "rehearsal" / "logs" / "initial-synth.log"
    )
    return outdir, False


def _serve(rehearsal: PipelineRehearsal) -> int:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    rehearsal.serve_until(out=sys.stdout, stop=stop)
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
        with tempfile.TemporaryDirectory(prefix="rehearsal-definition-") as scratch:
            assembly, reuse = _definition(args, console, Path(scratch))
            rehearsal = PipelineRehearsal(
                assembly,
                repository=REPOSITORY_ROOT,
                reports=args.reports,
                console=console,
                reuse_synth=reuse,
                approve=args.approve,
                only_stage=args.stage,
                pipeline=args.pipeline,
                include_uncommitted=args.include_uncommitted,
                faults=args.faults,
            )
            with rehearsal:
                if args.serve:
                    return _serve(rehearsal)
                result = rehearsal.run()
                json_file = run_report.write_json(result, args.reports)
                page = run_report.write_html(result, args.reports)
                run_report.print_summary(result, console.raw, html_page=page, json_file=json_file)
                return result.exit_code
    except (AssemblyError, ValueError) as error:
        print(f"rehearse: {error}", file=sys.stderr)
        return 2
    except (cdk_cli.CdkError, actions.ActionFailedError) as error:
        print(f"rehearse: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rehearse: interrupted; the emulator is thrown away", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
