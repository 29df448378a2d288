#!/usr/bin/env bash
# Install what building librdkafka (bundled by the `rdkafka` crate; `lk`'s default
# feature `kafka`) needs besides a C compiler: OpenSSL and zlib headers, and pkg-config
# to find them. Debian's packages: libssl-dev, zlib1g-dev, pkg-config.
#
# Idempotent and quick when they are there: it only looks for the headers and the tool.
# Non-interactive; needs root (or sudo) and apt when something is missing
# (scripts/apt-install.sh).
set -euo pipefail

missing=()
[[ -f /usr/include/openssl/ssl.h ]] || missing+=(libssl-dev)
[[ -f /usr/include/zlib.h ]] || missing+=(zlib1g-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "== build dependencies: present (OpenSSL and zlib headers, pkg-config, cc)" >&2
    exit 0
fi

"$(dirname "$0")/apt-install.sh" "${missing[@]}"
