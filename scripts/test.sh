#!/usr/bin/env bash
# Install everything (scripts/setup.sh), then run the whole test suite. This is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check lanner tests bench
.venv/bin/mypy   # [tool.mypy] in pyproject.toml: every module of lanner/, untyped defs checked too
if [ "${CI:-}" = "true" ]; then
    # CI is a fresh machine: prove the README's host install there too (writes /opt/lanner, /etc/lanner).
    bash deploy/install.sh >/dev/null
    /usr/local/bin/lanner --version >/dev/null
    /usr/local/bin/lanner --dry-run -o log_stderr=false
fi
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
