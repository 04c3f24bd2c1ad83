# Sourced by the scripts: quiet, offline-friendly settings for jsii and the CDK CLI.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
export CDK_DISABLE_CLI_TELEMETRY=true
export PATH="$PWD/.venv/bin:$PWD/node_modules/.bin:$PATH"
