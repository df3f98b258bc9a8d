#!/usr/bin/env bash
# Install everything (scripts/setup.sh), then run the whole test suite. This is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check lanner tests bench
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
