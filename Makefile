# Everything installs into the repository (.venv, node_modules); nothing global.
SHELL := /bin/bash
ENV := source scripts/env.sh &&

.PHONY: run summary setup synth test lint format bench diagram clean

## run: the main command: execute the synthesized pipeline (cdk.out) on an embedded AWS emulator, every stage and action; REHEARSE_ARGS=--approve for unattended runs, --reuse-synth to skip the synth action
run: setup
	@scripts/rehearse $(REHEARSE_ARGS)

## summary: synthesize every stack offline and summarize what each contains
summary: synth
	@$(ENV) python -m scripts.synth_summary cdk.out

## setup: create .venv and install the pinned CDK CLI
setup:
	@scripts/setup

## synth: synthesize every stack through the CDK CLI (the nag gate fails it on an unacknowledged finding)
synth: setup
	@$(ENV) rm -rf cdk.out && cdk synth --quiet --no-notices

## test: the full check (lint, unit + runtime + rehearsal tests, nag gate, cfn-lint) — what CI and the pipeline run
test:
	@scripts/check

## lint: ruff lint and format check
lint: setup
	@$(ENV) ruff check . && ruff format --check .

## format: apply ruff's formatting and safe fixes
format: setup
	@$(ENV) ruff format . && ruff check --fix .

## bench: synth cost of the full app against an empty CDK app; push-to-prod path of the pipeline vs CDK defaults; rehearsal times; a CDK CLI start with and without the compile cache
bench: setup
	@$(ENV) python -m bench.synth
	@$(ENV) python -m bench.pipeline_path
	@$(ENV) python -m bench.rehearsal
	@$(ENV) python -m bench.cdk_cli_start

## diagram: regenerate docs/architecture/ (product + delivery pictures) from a fresh synth; needs Graphviz `dot`
diagram: setup
	@$(ENV) python -m scripts.diagram $(DIAGRAM_ARGS)

clean:
	rm -rf cdk.out reports .pytest_cache .cfn-lint-cache

help:
	@grep -E '^## ' Makefile | sed 's/## /  make /'
