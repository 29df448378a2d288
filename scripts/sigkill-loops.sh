#!/usr/bin/env bash
# SIGKILL loops over `lk ingest csv` and `lk generate`: the figures behind the claim that
# an interrupted import leaves either nothing or everything, and a rerun neither fails
# misleadingly nor duplicates.
#
#   scripts/sigkill-loops.sh [LOOPS] [ROWS]        (default 20 loops of 200000 rows/events)
#
# For each command: one uninterrupted run gives the reference (the topic's export, append
# times left out, as a count and a SHA-256). Then each loop, in a fresh data directory,
# runs the command and SIGKILLs it after a random delay (up to 1.2 times an uninterrupted
# run), again and again in the same directory, until a run ends by itself (success, or
# the refusal of an import that already completed); then the topic must equal the
# reference and no staging topic or commit marker may be left. Prints the counts; exits
# non-zero when a loop ends with a different topic.
#
# Environment: LK (the lk binary; default: $CARGO_TARGET_DIR or target, release then
# debug), MAX_KILLS (kills per loop at most, default 20).
set -euo pipefail

LOOPS="${1:-20}"
ROWS="${2:-200000}"
MAX_KILLS="${MAX_KILLS:-20}"
source "$(dirname "$0")/find-lk.sh"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

CSV="$WORK/rows.csv"
awk -v n="$ROWS" 'BEGIN { print "ts,id,zone,fare"; for (i = 0; i < n; i++) printf "%d,%d,z%d,%d\n", 1700000000 + i, i, i % 97, int(i / 4) }' > "$CSV"

# The export of topic $2 in data directory $1, append times cut, sorted: "count sha256".
fingerprint() {
    "$LK" --data "$1" export "$2" --out - 2>/dev/null | cut -d, -f1-3,5- | LC_ALL=C sort \
        | { tee >(wc -l > "$WORK/count") | sha256sum | cut -c1-16; } > "$WORK/sum"
    sleep 0.1
    echo "$(tr -d ' ' < "$WORK/count") $(cat "$WORK/sum")"
}

# Run one command's loops: $1 a label, $2 the topic, $3 the text of its refusal to run
# again, the rest the lk arguments.
loops() {
    local label="$1" topic="$2" refusal="$3"
    shift 3
    local ref="$WORK/ref-$label"
    local t0 t1 ms
    t0=$(date +%s%N)
    "$LK" --data "$ref" "$@" > /dev/null
    t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000000 * 12 / 10 + 1 ))
    local want
    want="$(fingerprint "$ref" "$topic")"
    echo "$label: an uninterrupted run takes about $((ms * 10 / 12)) ms" >&2
    local kills=0 hit=0 ok=0 bad=0 refused=0 recovered=0
    for ((l = 0; l < LOOPS; l++)); do
        local dir="$WORK/$label-$l"
        local k=0
        while :; do
            "$LK" --data "$dir" "$@" > /dev/null 2> "$WORK/stderr" &
            local pid=$!
            if (( k < MAX_KILLS )); then
                local d=$(( RANDOM * 32768 % ms + RANDOM % ms ))
                d=$(( d % ms ))
                sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
                if kill -0 "$pid" 2> /dev/null; then
                    kill -KILL "$pid" 2> /dev/null || true
                    wait "$pid" 2> /dev/null || true
                    kills=$((kills + 1)); hit=$((hit + 1)); k=$((k + 1))
                    continue
                fi
            fi
            if wait "$pid"; then
                :
            elif grep -q "$refusal" "$WORK/stderr"; then
                refused=$((refused + 1))
            else
                echo "$label loop $l: the run after $k kills failed: $(cat "$WORK/stderr")" >&2
                bad=$((bad + 1))
                break
            fi
            if grep -q "finished publishing\|deleted staging topic" "$WORK/stderr"; then
                recovered=$((recovered + 1))
            fi
            local got
            got="$(fingerprint "$dir" "$topic")"
            local left
            left="$(ls "$dir/topics" | grep -c '\.staging-' || true)$(ls "$dir/datasets" | grep -c 'commit' || true)"
            if [[ "$got" == "$want" && "$left" == "00" ]]; then
                ok=$((ok + 1))
            else
                echo "$label loop $l: got $got (left $left), want $want" >&2
                bad=$((bad + 1))
            fi
            break
        done
        rm -rf "$dir"
    done
    printf '%-10s loops %d, SIGKILLs %d (each hit a running process), final runs that recovered %d, refused as already done %d; topic equal to the uninterrupted run (%s): %d, different: %d\n' \
        "$label" "$LOOPS" "$hit" "$recovered" "$refused" "$want" "$ok" "$bad"
    [[ $bad -eq 0 ]]
}

status=0
loops ingest-csv rows "was already imported" ingest csv "$CSV" --topic rows --time-column ts \
    --time-format epoch-s --key-column id || status=1
loops generate ads "already holds" generate ysb --topic ads --events "$ROWS" --out-of-order 0.1 \
    --max-delay 2s --duplicates 0.01 || status=1
exit $status
