#!/usr/bin/env bash
# lk beside DuckDB, polars and Bytewax on the same YSB events (see README.md here).
# Makes (once) a virtual environment with the pinned packages of requirements.txt, then
# runs run.py in it with the arguments given: `scripts/peer/run.sh --events 1000000`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${LK_PEER_VENV:-$HOME/.cache/lambda-kappa/peer-venv}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
# Reinstall only when the pins changed.
stamp="$venv/.requirements.txt"
if ! cmp -s "$here/requirements.txt" "$stamp"; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$stamp"
fi
exec "$venv/bin/python" "$here/run.py" "$@"
