#!/usr/bin/env bash
#   Installs what zbeat needs to build and test, from Debian 12 packages.
#   Idempotent: installs only what is missing, and runs apt-get update only
#   then. Run as root (or with sudo available).
set -euo pipefail

PACKAGES=(
    # build
    cmake make gcc pkg-config
    libczmq-dev libzmq3-dev libsodium-dev libsqlite3-dev libjansson-dev libyajl-dev libcurl4-openssl-dev
    libc-ares-dev libgnutls28-dev libssl-dev
    libmicrohttpd-dev
    libcrypt-dev
    # tests: real services and tools
    redis-server python3 python3-zmq python3-prometheus-client sqlite3 procps iproute2 nftables
    # alert channels: a real Alertmanager, promtool, an SMTP sink
    prometheus-alertmanager prometheus python3-aiosmtpd
    curl openssl
    # probe tests: real servers to stop gracefully
    postgresql nginx-light memcached
    # a service that drains on a graceful stop: nginx's stream proxy
    libnginx-mod-stream
    # check = mysql: a private MariaDB instance (own datadir, socket, port)
    mariadb-server mariadb-client
    # greeting checks: a real sshd (own config, in the test); SMTP: aiosmtpd above
    openssh-server
    # the status page test: a real headless browser
    chromium chromium-driver python3-selenium
    # hygiene: format check, sanitizers' runtime for clang, valgrind
    clang clang-format libclang-rt-14-dev valgrind
    # packaging checks: man page lint, .deb tools, systemd-analyze
    mandoc dpkg-dev systemd
    # the compose and packaging tests' base image (docker/base-image.sh)
    debootstrap
)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
#   The compose and packaging tests need Docker; an engine installed from
#   elsewhere (docker-ce) counts, so look for the commands, not the packages.
command -v docker >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose)
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#PACKAGES[@]} packages present"
    exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps: installing ${missing[*]}"
#   Another apt run holding dpkg's lock is waited for, not failed on.
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
