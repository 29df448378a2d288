#!/usr/bin/env bash
# SIGKILL loops over the pipelines: `lk kappa run --until-caught-up` and `lk lambda batch`
# killed at random moments, again and again in one data directory, then left to finish;
# the answer `lk query` gives must equal the answer of a run that was never killed.
#
#   scripts/sigkill-pipelines.sh [LOOPS] [EVENTS]     (default 10 loops over 2000000 YSB events)
#
# Each loop starts from a copy of one generated log (YSB, 4 partitions, with the default
# out-of-order, late and duplicate events). Kappa checkpoints every 50 ms, so that kills
# land between checkpoints, mid-checkpoint and mid-restore; Lambda's batch run is killed
# mid-read, mid-plan and mid-publish. Prints, per pipeline, the kills that hit a running
# process and the loops whose answer equals the reference; exits non-zero when one does not.
#
# Environment: LK (the lk binary; default: $CARGO_TARGET_DIR or target, release then
# debug), MAX_KILLS (kills per loop at most, default 10).
set -euo pipefail

LOOPS="${1:-10}"
EVENTS="${2:-2000000}"
MAX_KILLS="${MAX_KILLS:-10}"
source "$(dirname "$0")/find-lk.sh"
WORKLOAD=ysb-campaign-10s
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$LK" --data "$work/template" generate ysb --topic ysb --events "$EVENTS" --partitions 4 >/dev/null

# The command of a pipeline, over the data directory $1.
run_cmd() {
    case "$pipeline" in
    kappa) echo "$LK --data $1 kappa run --workload $WORKLOAD --until-caught-up --checkpoint-every 50ms --allowed-lateness 1m" ;;
    lambda) echo "$LK --data $1 lambda batch --workload $WORKLOAD" ;;
    esac
}
answer() { "$LK" --data "$1" query --workload "$WORKLOAD" --pipeline "$pipeline" --format csv; }

failed=0
for pipeline in kappa lambda; do
    ref="$work/ref-$pipeline"
    cp -r "$work/template" "$ref"
    start=$(date +%s%N)
    $(run_cmd "$ref") >/dev/null 2>&1
    took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
    want="$(answer "$ref")"
    rm -rf "$ref"
    kills=0
    equal=0
    for loop in $(seq 1 "$LOOPS"); do
        dir="$work/loop-$pipeline-$loop"
        cp -r "$work/template" "$dir"
        for _ in $(seq 1 "$MAX_KILLS"); do
            $(run_cmd "$dir") >/dev/null 2>&1 &
            pid=$!
            delay_ms=$(( RANDOM % (took_ms * 12 / 10 + 1) ))
            sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
            if kill -KILL "$pid" 2>/dev/null; then
                kills=$((kills + 1))
                wait "$pid" 2>/dev/null || true
            else
                wait "$pid" 2>/dev/null || true
                break
            fi
        done
        # Whatever the kills left, a run to the end and the answer.
        $(run_cmd "$dir") >/dev/null 2>&1 || true
        if [[ "$(answer "$dir")" == "$want" ]]; then
            equal=$((equal + 1))
        else
            failed=1
            echo "$pipeline loop $loop: the answer differs from the uninterrupted run's" >&2
        fi
        rm -rf "$dir"
    done
    echo "$pipeline: $LOOPS loops, $kills SIGKILLs of a running process (an uninterrupted run: ${took_ms} ms), $equal of $LOOPS answers equal to the uninterrupted run's"
done
exit "$failed"
