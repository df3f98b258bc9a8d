#!/usr/bin/env bash
# Install everything (scripts/setup.sh), then start lanner's main job: live capture with the eBPF probe
# and lanner's built-in default rules, alerts on stdout, health/metrics webserver on :8765.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/lanner "$@"
