#!/usr/bin/env bash
# Install everything lanner needs on a fresh Debian/Ubuntu machine (as root), into ./.venv:
# system packages (compiler and BPF tools for the probe, test peers), a venv from the distribution's
# Python (PGO/LTO build, faster than other interpreters here), lanner itself, and the built eBPF probe.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(python3 python3-venv python3-dev gcc make clang llvm bpftool libbpf-dev libbpf1
      docker.io containerd busybox-static redis-server nats-server openssl iproute2 procps debootstrap
      strace util-linux git curl ca-certificates chromium chromium-driver postgresql)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    /usr/bin/python3 -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e '.[test]'
.venv/bin/python -m lanner.sources.ebpf.build
