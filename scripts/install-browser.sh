#!/usr/bin/env bash
# Install a headless browser for the HTML report's browser test
# (compare/tests/html_browser.rs): Debian's `chromium`, which provides /usr/bin/chromium.
#
# Idempotent and quick when the browser is already there: it only checks for the binary.
# Non-interactive; needs root (or sudo) and an apt source that carries `chromium`
# (scripts/apt-install.sh).
#
# Environment: LK_CHROMIUM (path of a browser to use instead; when it is executable,
# nothing is installed).
set -euo pipefail

if [[ -n "${LK_CHROMIUM:-}" && -x "${LK_CHROMIUM}" ]]; then
    echo "== browser: $LK_CHROMIUM (LK_CHROMIUM)" >&2
    exit 0
fi
if [[ -x /usr/bin/chromium ]]; then
    echo "== browser: /usr/bin/chromium" >&2
    exit 0
fi

"$(dirname "$0")/apt-install.sh" chromium

if [[ ! -x /usr/bin/chromium ]]; then
    echo "install-browser: apt-get installed chromium but /usr/bin/chromium is missing" >&2
    exit 1
fi
echo "== browser: /usr/bin/chromium ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))" >&2
