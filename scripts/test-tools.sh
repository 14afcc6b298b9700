#!/usr/bin/env bash
# The system tools `make test` needs beyond Python and pip: Debian's chromium (the status-page
# test drives it), Ceph radosgw (the real-S3 tests), npm (dynalite), and podman with runc and
# debootstrap (the image test builds and runs the service image). `make demo` needs none.
#
# Each missing tool is installed with apt-get when this runs as root on a machine that has it;
# otherwise nothing is installed, and one line per missing tool says how to get it, then exit 1
# (before anything else is set up, so nothing is left half-done).
set -euo pipefail

missing=()
command -v chromium >/dev/null || missing+=("chromium|chromium|the status-page browser test")
command -v radosgw >/dev/null || missing+=("radosgw|radosgw ceph-mon ceph-osd|the real-S3 tests (Ceph)")
command -v npm >/dev/null || missing+=("npm|nodejs npm|dynalite, the DynamoDB with realistic capacity")
command -v podman >/dev/null && command -v runc >/dev/null && command -v debootstrap >/dev/null ||
  missing+=("podman|podman runc debootstrap|the container image test (make image)")
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  packages=()
  for entry in "${missing[@]}"; do IFS='|' read -r _ debs _ <<<"$entry"; packages+=($debs); done
  echo "installing with apt-get: ${packages[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  exit 0
fi

echo "make test needs tools that are not installed (make demo does not):" >&2
for entry in "${missing[@]}"; do
  IFS='|' read -r tool debs why <<<"$entry"
  echo "  $tool: for $why. Try: sudo apt-get install --no-install-recommends $debs" >&2
done
echo "Install them (or run make test as root on Debian, which installs them), then run make test again." >&2
exit 1
