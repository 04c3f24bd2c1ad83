# Everything installs into the repository (.venv, node_modules); nothing global.
SHELL := /bin/bash
ENV := source scripts/env.sh &&

.PHONY: run setup synth test lint format bench clean

## run: set up, synthesize every stack offline and summarize what each contains (the main command)
run: synth
	@$(ENV) python scripts/synth_summary.py cdk.out

## setup: create .venv and install the pinned CDK CLI
setup:
	@scripts/setup

## synth: synthesize every stack through the CDK CLI (the nag gate fails it on an unacknowledged finding)
synth: setup
	@$(ENV) rm -rf cdk.out && cdk synth --quiet --no-notices

## test: the full check (lint, unit + runtime tests, nag gate, cfn-lint) — what CI and the pipeline run
test:
	@scripts/check

## lint: ruff lint and format check
lint: setup
	@$(ENV) ruff check . && ruff format --check .

## format: apply ruff's formatting and safe fixes
format: setup
	@$(ENV) ruff format . && ruff check --fix .

## bench: synth cost of the full app against an empty CDK app
bench: setup
	@$(ENV) python bench/synth.py

clean:
	rm -rf cdk.out reports .pytest_cache

help:
	@grep -E '^## ' Makefile | sed 's/## /  make /'
