#!/bin/bash
#   Makes the debian:bookworm-slim base image locally when it is missing.
#
#   Real users pull debian:bookworm-slim from their registry and never need
#   this. Our test and CI machines reach no registry, but do reach the Debian
#   package archive, so we build an equivalent minbase root file system with
#   debootstrap and import it under the same name. Idempotent: an existing
#   image is left alone (--force rebuilds it).
#
#   Usage: docker/base-image.sh [--force]
set -euo pipefail

IMAGE=debian:bookworm-slim
SUITE=bookworm
SOURCES=/etc/apt/sources.list.d/debian.sources

if [ "${1:-}" != "--force" ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "base-image: $IMAGE present, nothing to do"
    exit 0
fi

#   The mirrors the host uses: the first URIs lines of its deb822 sources for
#   the main and the security archive, else the classic sources.list.
mirror=""
security=""
if [ -r "$SOURCES" ]; then
    mirror=$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' "$SOURCES")
    security=$(awk '/^URIs:/ && $2 ~ /security/ { print $2; exit }' "$SOURCES")
fi
if [ -z "$mirror" ] && [ -r /etc/apt/sources.list ]; then
    mirror=$(awk '/^deb / && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list)
fi
mirror=${mirror:-http://deb.debian.org/debian}
security=${security:-${mirror%/debian}/debian-security}

if ! command -v debootstrap >/dev/null 2>&1; then
    echo "base-image: installing debootstrap"
    #   Another apt run (a test installing its server) waits its turn.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
        debootstrap >/dev/null
fi

tmp=$(mktemp -d /tmp/zbeat-rootfs.XXXXXX)
#   debootstrap leaves device nodes and root-owned files: remove them always,
#   so a failed run leaves nothing behind.
trap 'rm -rf --one-file-system "$tmp"' EXIT
root="$tmp/rootfs"

echo "base-image: debootstrap --variant=minbase $SUITE from $mirror"
start=$(date +%s)
if ! debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
    tail -n 30 "$tmp/debootstrap.log" >&2
    echo "base-image: debootstrap failed" >&2
    exit 1
fi
#   Everything below edits the new root file system; make sure it is one.
if [ ! -d "$root/etc/apt" ] || [ "$root" = "/" ]; then
    echo "base-image: no root file system in $root" >&2
    exit 1
fi

#   The archives the official image lists (release, updates, security), so
#   builds on this image see the same package versions as users' builds.
printf '%s\n' \
    "Types: deb" "URIs: $mirror" "Suites: $SUITE $SUITE-updates" "Components: main" \
    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" "" \
    "Types: deb" "URIs: $security" "Suites: $SUITE-security" "Components: main" \
    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" \
    >"$root/etc/apt/sources.list.d/debian.sources"
rm -f "$root/etc/apt/sources.list"

#   What makes the official image "slim": dpkg skips docs, man pages and
#   locales (copyright files stay), and apt drops downloaded .debs after each
#   install, so images built on top stay small without extra care.
printf '%s\n' \
    'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/groff/*' \
    'path-exclude /usr/share/info/*' 'path-exclude /usr/share/lintian/*' \
    'path-exclude /usr/share/locale/*' \
    >"$root/etc/dpkg/dpkg.cfg.d/docker-slim"
clean='rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb'
clean="$clean /var/cache/apt/*.bin || true"
printf '%s\n' \
    "DPkg::Post-Invoke { \"$clean\"; };" "APT::Update::Post-Invoke { \"$clean\"; };" \
    'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' \
    >"$root/etc/apt/apt.conf.d/docker-clean"
find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* \
    "$root/usr/share/man/"* "$root/usr/share/info/"* "$root/usr/share/locale/"*

tar -C "$root" -c . |
    docker import \
        --change 'CMD ["bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        - "$IMAGE" >/dev/null
echo "base-image: imported $IMAGE in $(($(date +%s) - start))s"
