#!/usr/bin/env bash
# The whole test suite:
# 1. every crate's tests, with a Kafka-protocol broker on loopback (scripts/with-kafka.sh
#    installs and starts it) for the tests of the Kafka backend and of
#    `lk --log kafka://…`, which fail rather than skip without one;
# 2. every command of README.md (docs/*.md, examples/*.md) run as written, in fresh data
#    directories (scripts/readme-check.py lists what it substitutes or leaves out, and why);
# 3. checks by tools no one here wrote, on the pinned Python packages of
#    scripts/peer/requirements.txt (scripts/peer/venv.sh makes their environment once):
#    the SQL workloads' answers of Lambda and Kappa against DuckDB, and lk's answer beside
#    DuckDB's, polars' and Bytewax's on 20,000 YSB events (timings not looked at);
# 4. scripts/replay-vs-batch.py on 20,000 YSB events, one round (its parsing of lk's
#    output; timings not looked at).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/with-kafka.sh cargo test --workspace --locked
# The debug `lk` the integration tests above built (with the workspace's features: building
# it alone would compile polars once more, with fewer features).
lk="${CARGO_TARGET_DIR:-target}/debug/lk"
echo "== scripts/readme-check.py (every command of the README runs as written)"
python3 scripts/readme-check.py "$lk"
python="$(scripts/peer/venv.sh)"
echo "== scripts/sql-duckdb-check.py (SQL workloads: Lambda and Kappa against DuckDB)"
"$python" scripts/sql-duckdb-check.py "$lk"
echo "== scripts/peer/run.py --smoke (the answers of lk and its peers, 20,000 events)"
"$python" scripts/peer/run.py --smoke --lk "$lk"
echo "== scripts/replay-vs-batch.py (Kappa's replay beside the batch recompute, 20,000 events)"
replay_data="$(mktemp -d)"
"$lk" --data "$replay_data" generate ysb --events 20000 --partitions 4 --out-of-order 0.05 \
    --late 0.01 --duplicates 0.01 >/dev/null
python3 scripts/replay-vs-batch.py "$lk" "$replay_data" 1
rm -rf "$replay_data"
