#!/usr/bin/env bash
# lk beside DuckDB, polars and Bytewax on the same YSB events (see README.md here).
# Runs run.py with the arguments given in the virtual environment of venv.sh (the pinned
# packages of requirements.txt): `scripts/peer/run.sh --events 1000000`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="$("$here/venv.sh")"
exec "$python" "$here/run.py" "$@"
