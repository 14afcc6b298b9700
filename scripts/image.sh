#!/usr/bin/env bash
# `make image`: builds the service image (Dockerfile) with podman, tagged ddbvault:latest (or $IMAGE).
#
#   1. build/image/wheels: the wheels of requirements/runtime.lock for the container's Python
#      (CPython 3.11, glibc Linux, this machine's architecture), downloaded with
#      `pip download --require-hashes`, so every file is checked against the lock's sha256; and
#      ddbvault's own wheel, built from this work tree.
#   2. The base image: $BASE_IMAGE (default docker.io/library/python:3.11-slim) when it is present
#      or can be pulled; else, where no registry answers, localhost/ddbvault-base:bookworm, made
#      here with debootstrap from Debian's packages (Debian 12 has Python 3.11) and imported
#      into podman. That needs root and the debootstrap package (scripts/test-tools.sh).
#   3. podman build --build-arg BASE_IMAGE=... .
#
# PODMAN_OPTS (build and run) come from scripts/podman-opts.sh: what podman needs on machines
# like this project's CI VMs.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
IMAGE=${IMAGE:-ddbvault:latest}
BASE_IMAGE=${BASE_IMAGE:-docker.io/library/python:3.11-slim}
LOCAL_BASE=localhost/ddbvault-base:bookworm

command -v podman >/dev/null || { echo "make image needs podman. Try: sudo apt-get install podman runc (scripts/test-tools.sh does it as root)" >&2; exit 1; }
# shellcheck source=scripts/podman-opts.sh
. scripts/podman-opts.sh

wheels=build/image/wheels
rm -rf "$wheels"
mkdir -p "$wheels"
# Wheels for CPython 3.11 on glibc up to 2.36 (Debian 12's), this machine's architecture. pip
# does not widen one --platform to older glibc versions, so each manylinux tag is named.
platforms=()
for glibc in $(seq 17 36); do platforms+=(--platform "manylinux_2_${glibc}_$(uname -m)"); done
"$PY" -m pip download --quiet --require-hashes --no-deps --only-binary=:all: \
  --implementation cp --python-version 3.11 "${platforms[@]}" -r requirements/runtime.lock -d "$wheels"
"$PY" -m pip wheel --quiet --no-deps --no-build-isolation -w "$wheels" .

base=$BASE_IMAGE
if ! podman image exists "$base" && ! timeout 120 podman pull -q "$base" >/dev/null 2>&1; then
  echo "image: $BASE_IMAGE cannot be pulled here; using $LOCAL_BASE (debootstrap)" >&2
  base=$LOCAL_BASE
  if ! podman image exists "$base"; then
    command -v debootstrap >/dev/null || { echo "no registry and no debootstrap. Try: sudo apt-get install debootstrap, or BASE_IMAGE=<an image podman has>" >&2; exit 1; }
    [ "$(id -u)" -eq 0 ] || { echo "debootstrap needs root. Try: sudo make image, or BASE_IMAGE=<an image podman has>" >&2; exit 1; }
    rootfs=$(mktemp -d)
    trap 'rm -rf "$rootfs"' EXIT
    # minbase: dpkg, apt and essentials; python3-venv brings ensurepip for `python3 -m venv`;
    # ca-certificates for HTTPS (webhooks, SMTP over TLS); tzdata for the jobs' time zones.
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,tzdata bookworm "$rootfs" \
      "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >/dev/null
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | podman import --quiet - "$base" >/dev/null
  fi
fi
podman build "${PODMAN_OPTS[@]}" --format docker --network none --quiet --build-arg "BASE_IMAGE=$base" -t "$IMAGE" . >/dev/null
echo "built $IMAGE from $base"
