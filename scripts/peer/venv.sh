#!/usr/bin/env bash
# Prints the path of a Python with the pinned packages of requirements.txt (DuckDB, polars,
# Bytewax...), making its virtual environment once (reinstalled only when the pins change).
# Used by run.sh here and by scripts/test.sh, so that every check by those tools runs on
# the same pinned versions. Environment: LK_PEER_VENV (where; default
# ~/.cache/lambda-kappa/peer-venv), PYTHON (the interpreter that makes it; python3).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${LK_PEER_VENV:-$HOME/.cache/lambda-kappa/peer-venv}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" >&2
fi
stamp="$venv/.requirements.txt"
if ! cmp -s "$here/requirements.txt" "$stamp"; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$here/requirements.txt" >&2
    cp "$here/requirements.txt" "$stamp"
fi
echo "$venv/bin/python"
