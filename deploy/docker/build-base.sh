#!/usr/bin/env bash
# Build lanner's base image without any container registry: debootstrap a minimal Debian rootfs from
# Debian's package mirror, pack it as a tarball (cached) and `docker import` it.
#
#   deploy/docker/build-base.sh [--tag REF] [--cache DIR] [--suite bookworm] [--mirror URL] [--print-tarball]
#
# The tarball name carries a hash of the suite and package list, so changing either rebuilds it; an
# existing tarball or image with that name is reused (a rebuild takes a few minutes, reuse a second).
set -euo pipefail

SUITE=${LANNER_BASE_SUITE:-bookworm}
MIRROR=${LANNER_BASE_MIRROR:-http://deb.debian.org/debian}
CACHE=${LANNER_CACHE:-/var/cache/lanner}
TAG=""
PRINT_TARBALL=0
# Runtime only: the probe object is prebuilt and shipped in the wheel; libbpf1 loads it.
PACKAGES=python3,python3-venv,libbpf1,ca-certificates,procps

while [ $# -gt 0 ]; do
    case "$1" in
        --tag) TAG=$2; shift 2 ;;
        --cache) CACHE=$2; shift 2 ;;
        --suite) SUITE=$2; shift 2 ;;
        --mirror) MIRROR=$2; shift 2 ;;
        --print-tarball) PRINT_TARBALL=1; shift ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "build-base.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

KEY=$(printf '%s\n%s\n' "$SUITE" "$PACKAGES" | sha256sum | cut -c1-12)
TARBALL="$CACHE/debian-$SUITE-lanner-base-$KEY.tar"
[ -n "$TAG" ] || TAG="lanner-base:$SUITE-$KEY"

if [ "$PRINT_TARBALL" = 1 ]; then
    echo "$TARBALL"
    exit 0
fi

if [ ! -s "$TARBALL" ]; then
    command -v debootstrap >/dev/null || {
        echo "build-base.sh: debootstrap not found: apt-get install debootstrap" >&2; exit 1; }
    [ "$(id -u)" = 0 ] || { echo "build-base.sh: debootstrap needs root" >&2; exit 1; }
    mkdir -p "$CACHE"
    work=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    trap 'umount -l "$work/rootfs/proc" "$work/rootfs/sys" 2>/dev/null || true; rm -rf "$work"' EXIT
    echo "build-base.sh: debootstrap $SUITE ($PACKAGES) from $MIRROR" >&2
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$work/rootfs" "$MIRROR" \
        > "$work/debootstrap.log" 2>&1 || { tail -30 "$work/debootstrap.log" >&2; exit 1; }
    root=$work/rootfs
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
           "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* \
           "$root"/var/log/* "$root"/debootstrap
    # Keep apt usable for derived images on a machine that has a registry-free mirror.
    printf 'deb %s %s main\n' "$MIRROR" "$SUITE" > "$root/etc/apt/sources.list"
    tar --numeric-owner --one-file-system -C "$root" -cf "$TARBALL.tmp" .
    mv "$TARBALL.tmp" "$TARBALL"
fi

DOCKER=${DOCKER:-docker}
if ! "$DOCKER" image inspect "$TAG" >/dev/null 2>&1; then
    "$DOCKER" import --change 'CMD ["/bin/bash"]' "$TARBALL" "$TAG" >/dev/null
fi
echo "$TAG"
