#!/usr/bin/env bash
# Install or upgrade lanner on a Debian/Ubuntu host (run as root). Idempotent: run it again to upgrade.
#
#   deploy/install.sh [options]
#
#   --source PATH   project directory or wheel to install (default: the checkout holding this script)
#   --wheels DIR    install offline from a directory of wheels (lanner and its dependencies)
#   --prefix DIR    virtual environment for lanner (default /opt/lanner)
#   --root DIR      stage the whole installation under DIR (packaging, tests); implies --no-apt and
#                   no systemctl calls; installed files still name the final paths
#   --no-apt        do not apt-get install the runtime packages
#   --no-venv       do not create the venv or pip install (configuration, rules, unit and link only)
#   --no-systemd    do not install the systemd unit
#   --no-build-probe  keep the prebuilt eBPF probe instead of compiling it for this host
#   --enable        enable and (re)start the lanner service
#   --dry-run       print every step, change nothing
#
# Layout: lanner in PREFIX (a venv from /usr/bin/python3), /usr/local/bin/lanner, built-in rules in
# /usr/share/lanner/rules (replaced on every upgrade), /etc/lanner/lanner.yaml and
# /etc/lanner/lanner_rules.local.yaml (installed only when absent: upgrades never overwrite them; the
# current default configuration is written next to it as lanner.yaml.dist), /etc/lanner/rules.d and
# /etc/lanner/config.d for drop-in rules and configuration, and the systemd unit lanner.service.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE=$(dirname "$HERE")
WHEELS=""
PREFIX=/opt/lanner
ROOT=""
DO_APT=1
DO_VENV=1
DO_SYSTEMD=1
BUILD_PROBE=1
ENABLE=0
DRY=0

RUNTIME_PACKAGES=(python3 python3-venv libbpf1 ca-certificates)
PROBE_BUILD_PACKAGES=(clang llvm libbpf-dev bpftool gcc libc6-dev)
RULES_DIR=/usr/share/lanner/rules
ETC=/etc/lanner

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --source) SOURCE=$2; shift 2 ;;
        --wheels) WHEELS=$2; shift 2 ;;
        --prefix) PREFIX=$2; shift 2 ;;
        --root) ROOT=${2%/}; DO_APT=0; shift 2 ;;
        --no-apt) DO_APT=0; shift ;;
        --no-venv) DO_VENV=0; shift ;;
        --no-systemd) DO_SYSTEMD=0; shift ;;
        --no-build-probe) BUILD_PROBE=0; shift ;;
        --enable) ENABLE=1; shift ;;
        --dry-run) DRY=1; shift ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done

case "$PREFIX" in /*) ;; *) die "--prefix must be an absolute path, got '$PREFIX'" ;; esac
[ -e "$SOURCE" ] || die "--source $SOURCE does not exist"
[ -z "$WHEELS" ] || [ -d "$WHEELS" ] || die "--wheels $WHEELS is not a directory"
if [ "$DRY" = 0 ] && [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then
    die "must run as root (or use --root DIR to stage, --dry-run to preview)"
fi

# run CMD...: print it, and run it unless --dry-run.
run() {
    echo "+ $*"
    [ "$DRY" = 1 ] || "$@"
}

# put SRC DEST MODE: install a file, replacing DEST.
put() {
    run install -D -m "$3" "$1" "$ROOT$2"
}

# keep SRC DEST MODE: install a file only when DEST is absent (a user's file is never overwritten).
keep() {
    if [ -e "$ROOT$2" ]; then
        say "keeping existing $2"
    else
        put "$1" "$2" "$3"
    fi
}

missing_packages() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
    done
}

# 1. Debian packages ------------------------------------------------------------------------------
if [ "$DO_APT" = 1 ]; then
    command -v apt-get >/dev/null || die "apt-get not found: this installer supports Debian and Ubuntu (use --no-apt)"
    wanted=("${RUNTIME_PACKAGES[@]}")
    [ "$BUILD_PROBE" = 0 ] || wanted+=("${PROBE_BUILD_PACKAGES[@]}")
    mapfile -t need < <(missing_packages "${wanted[@]}")
    if [ "${#need[@]}" -gt 0 ]; then
        run apt-get update -q
        run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
    else
        say "Debian packages already installed: ${wanted[*]}"
    fi
fi

# 2. lanner in its virtual environment ------------------------------------------------------------
VENV=$ROOT$PREFIX
if [ "$DO_VENV" = 1 ]; then
    if [ ! -x "$VENV/bin/python" ]; then
        run /usr/bin/python3 -m venv "$VENV"
    fi
    pip=("$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade)
    if [ -n "$WHEELS" ]; then
        pip+=(--no-index --find-links "$WHEELS")
        if [ -d "$SOURCE" ]; then
            run "${pip[@]}" lanner
        else
            run "${pip[@]}" "$SOURCE"
        fi
    else
        # A checkout of the same version is rebuilt and reinstalled, so an upgrade in place takes effect.
        run "${pip[@]}" --force-reinstall --no-deps "$SOURCE"
        run "${pip[@]}" "$SOURCE"
    fi
fi

# Where the packaged files come from: the installed package, else the source checkout.
PKG=""
if [ "$DRY" = 0 ] && [ -x "$VENV/bin/python" ]; then
    PKG=$("$VENV/bin/python" -I -c 'import os, lanner; print(os.path.dirname(lanner.__file__))')
elif [ -d "$SOURCE/lanner" ]; then
    PKG=$SOURCE/lanner
fi
if [ -z "$PKG" ] || [ ! -f "$PKG/data/lanner.yaml" ]; then
    [ "$DRY" = 1 ] || die "cannot find lanner's packaged files (data/lanner.yaml) in '${PKG:-$SOURCE}'"
    PKG=$SOURCE/lanner
fi

# 3. eBPF probe for this kernel -------------------------------------------------------------------
if [ "$DO_VENV" = 1 ] && [ "$BUILD_PROBE" = 1 ] && [ -z "$ROOT" ]; then
    if [ "$DRY" = 1 ]; then
        echo "+ $VENV/bin/python -m lanner.sources.ebpf.build"
    elif command -v clang >/dev/null && "$VENV/bin/python" -I -m lanner.sources.ebpf.build >/dev/null 2>&1; then
        say "eBPF probe compiled for $(uname -r)"
    elif [ -f "$PKG/sources/ebpf/probe.bpf.o" ]; then
        say "warning: could not compile the eBPF probe here; using the prebuilt CO-RE object"
    else
        die "no eBPF probe: compiling it failed ($VENV/bin/python -m lanner.sources.ebpf.build shows why)"
    fi
fi

# 4. Rules and configuration ----------------------------------------------------------------------
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The packaged lanner.yaml loads the built-in rules through an empty rules_files; the installed one
# names the files, so the local override file and rules.d take part (Falco's layout).
if ! grep -q '^rules_files: \[\]$' "$PKG/data/lanner.yaml"; then
    die "$PKG/data/lanner.yaml has no 'rules_files: []' line to fill in"
fi
sed "s|^rules_files: \[\]\$|rules_files:\n  - $RULES_DIR\n  - $ETC/lanner_rules.local.yaml\n  - $ETC/rules.d|" \
    "$PKG/data/lanner.yaml" > "$TMP/lanner.yaml"

run rm -rf "$ROOT$RULES_DIR"
run install -d -m 0755 "$ROOT$RULES_DIR"
# The Kubernetes audit rules need the k8saudit source (load_plugins: [k8saudit, json]): like Falco, lanner
# refuses rules whose required plugins are not loaded, so they are installed beside, not loaded by default.
run install -d -m 0755 "$ROOT$ETC" "$ROOT$ETC/rules.d" "$ROOT$ETC/config.d" "$ROOT$ETC/rules.available"
if [ -d "$PKG/rules/default" ]; then
    for f in "$PKG"/rules/default/*.yaml "$PKG"/rules/default/*.yml; do
        [ -f "$f" ] || continue
        case "$(basename "$f")" in
            k8s_audit*) put "$f" "$ETC/rules.available/$(basename "$f")" 0644 ;;
            *) put "$f" "$RULES_DIR/$(basename "$f")" 0644 ;;
        esac
    done
fi
keep "$TMP/lanner.yaml" "$ETC/lanner.yaml" 0644
put "$TMP/lanner.yaml" "$ETC/lanner.yaml.dist" 0644
keep "$PKG/data/lanner_rules.local.yaml" "$ETC/lanner_rules.local.yaml" 0644

# 5. Command, service -----------------------------------------------------------------------------
run install -d -m 0755 "$ROOT/usr/local/bin"
run ln -sfn "$PREFIX/bin/lanner" "$ROOT/usr/local/bin/lanner"

if [ "$DO_SYSTEMD" = 1 ]; then
    sed "s|@PREFIX@|$PREFIX|g" "$HERE/systemd/lanner.service" > "$TMP/lanner.service"
    put "$TMP/lanner.service" /etc/systemd/system/lanner.service 0644
    if [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then
        run systemctl daemon-reload
        if [ "$ENABLE" = 1 ]; then
            run systemctl enable lanner.service
            run systemctl restart lanner.service
        fi
    elif [ "$ENABLE" = 1 ]; then
        say "systemd is not running here: start lanner with '$PREFIX/bin/lanner'"
    fi
fi

version=""
if [ "$DRY" = 0 ] && [ -x "$VENV/bin/python" ]; then
    version=$("$VENV/bin/python" -I -c 'from lanner.version import LANNER_VERSION; print(LANNER_VERSION)')
fi
say "done${version:+: lanner $version in $PREFIX}"
