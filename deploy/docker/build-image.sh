#!/usr/bin/env bash
# Build the lanner image from a local Debian rootfs: no container registry is contacted.
#
#   deploy/docker/build-image.sh [--tag REF] [--base REF] [--source DIR] [--python PY] [--cache DIR]
#                                [--extras fanout,kafka,...]
#
# Steps: the base image (build-base.sh: debootstrap tarball, cached under the cache directory), a
# wheelhouse (lanner built from --source, plus PyYAML, orjson and the CRI client's grpcio/protobuf,
# cached; --extras adds the client libraries of lanner's optional extras, e.g. `fanout` for every
# falcosidekick-style output), then `docker build` of deploy/docker/Dockerfile on top of the base. Prints the image ref.
# Environment: DOCKER (client, default docker), DOCKER_HOST (engine).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEPLOY=$(dirname "$HERE")
SOURCE=$(dirname "$DEPLOY")
CACHE=${LANNER_CACHE:-/var/cache/lanner}
TAG=""
BASE=""
PYTHON=""
EXTRA_WHEELS=(grpcio protobuf)
EXTRAS=""
DOCKER=${DOCKER:-docker}

die() { echo "build-image.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --tag) TAG=$2; shift 2 ;;
        --base) BASE=$2; shift 2 ;;
        --source) SOURCE=$2; shift 2 ;;
        --python) PYTHON=$2; shift 2 ;;
        --cache) CACHE=$2; shift 2 ;;
        --extras) EXTRAS=$2; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) die "unknown option $1" ;;
    esac
done

if [ -z "$PYTHON" ]; then
    if [ -x "$SOURCE/.venv/bin/python" ]; then PYTHON=$SOURCE/.venv/bin/python; else PYTHON=python3; fi
fi
[ -f "$SOURCE/pyproject.toml" ] || die "$SOURCE is not the lanner project (no pyproject.toml)"
[ -f "$SOURCE/lanner/sources/ebpf/probe.bpf.o" ] ||
    die "the eBPF probe object is missing: run '$PYTHON -m lanner.sources.ebpf.build' first"
# the compiled hot path travels in the wheel (lanner/compiled/lib, used only while its sources match);
# refreshed here when this Python has Cython and a compiler, else one line and the image runs pure Python
(cd "$SOURCE" && "$PYTHON" -m lanner.compiled.build --if-changed --quiet) || true
VERSION=$(cd "$SOURCE" && "$PYTHON" -c 'from lanner.version import LANNER_VERSION; print(LANNER_VERSION)')
[ -n "$TAG" ] || TAG="lanner:$VERSION"

[ -n "$BASE" ] || BASE=$(DOCKER=$DOCKER "$HERE/build-base.sh" --cache "$CACHE")

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/wheels" "$CACHE/wheels"

# lanner itself: built from the working tree each time (seconds; no network with setuptools present).
build=$(mktemp -d)
cp -a "$SOURCE/pyproject.toml" "$SOURCE/lanner" "$build/"
[ -f "$SOURCE/README.md" ] && cp "$SOURCE/README.md" "$build/" || echo "# lanner" > "$build/README.md"
find "$build" -name __pycache__ -prune -exec rm -rf {} +
if ! "$PYTHON" -m pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation -w "$ctx/wheels" "$build" \
        2>/dev/null; then
    "$PYTHON" -m pip wheel -q --disable-pip-version-check --no-deps -w "$ctx/wheels" "$build"
fi
rm -rf "$build"

# Dependencies: from the cache when it has them, else from the package index into the cache.
deps=("${EXTRA_WHEELS[@]}")
reqs=$("$PYTHON" - "$SOURCE/pyproject.toml" "$EXTRAS" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
for d in project.get("dependencies", []):
    print(d)
extras = project.get("optional-dependencies", {})
for name in filter(None, sys.argv[2].split(",")):
    if name not in extras:
        sys.exit(f"build-image.sh: unknown extra '{name}' (one of: {', '.join(sorted(extras))})")
    for d in extras[name]:
        print(d)
PY
)
mapfile -t -O "${#deps[@]}" deps <<<"$reqs"
if ! "$PYTHON" -m pip wheel -q --disable-pip-version-check --no-index --find-links "$CACHE/wheels" \
        -w "$CACHE/wheels" "${deps[@]}" 2>/dev/null; then
    "$PYTHON" -m pip wheel -q --disable-pip-version-check --find-links "$CACHE/wheels" -w "$CACHE/wheels" "${deps[@]}"
fi
cp "$CACHE"/wheels/*.whl "$ctx/wheels/"

cp "$HERE/Dockerfile" "$DEPLOY/install.sh" "$ctx/"
# Legacy builder (BuildKit needs the buildx plugin); RUN steps need no network.
DOCKER_BUILDKIT=0 "$DOCKER" build -q --network none --build-arg "BASE=$BASE" -t "$TAG" "$ctx" >/dev/null
echo "$TAG"
