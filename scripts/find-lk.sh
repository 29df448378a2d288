# Sourced by the scripts that run `lk` (sigkill-loops.sh, sigkill-pipelines.sh): sets LK to
# the lk binary — $LK when set, else the release then the debug build under
# $CARGO_TARGET_DIR (or the repository's target/) — or exits 2 when there is none.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
if [[ -z "${LK:-}" ]]; then
    for c in "$TARGET/release/lk" "$TARGET/debug/lk"; do
        if [[ -x "$c" ]]; then LK="$c"; break; fi
    done
fi
if [[ -z "${LK:-}" || ! -x "$LK" ]]; then
    echo "no lk binary: build it (cargo build --release -p lk) or set LK" >&2
    exit 2
fi
