#!/usr/bin/env bash
# Install Debian packages non-interactively, as root or through `sudo -n`, waiting for
# other apt/dpkg users instead of failing on their lock. Used by install-build-deps.sh
# and install-browser.sh. Usage: scripts/apt-install.sh PACKAGE...
set -euo pipefail

if [[ "$(id -u)" -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo -n)
else
    echo "apt-install: $* missing and this is not root (no sudo)" >&2
    exit 1
fi
echo "== installing $* (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-q -y -o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0)
"${as_root[@]}" apt-get "${apt_opts[@]}" update >/dev/null
"${as_root[@]}" apt-get "${apt_opts[@]}" install --no-install-recommends "$@" >/dev/null
