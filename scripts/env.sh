# Sourced by the scripts: quiet, offline-friendly settings for jsii and the CDK CLI.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
export CDK_DISABLE_CLI_TELEMETRY=true
export PATH="$PWD/.venv/bin:$PWD/node_modules/.bin:$PATH"
# This machine sets PYTHONDONTWRITEBYTECODE=1. Without bytecode caches every Python process compiles the
# repository's modules again and pytest rewrites every test module's asserts again (each test worker's collection:
# 5.0 s with it set, 3.2 s without). The caches land in __pycache__/ (git-ignored).
unset PYTHONDONTWRITEBYTECODE
