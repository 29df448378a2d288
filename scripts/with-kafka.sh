#!/usr/bin/env bash
# Run a command with a Kafka-protocol broker on loopback:
#
#   scripts/with-kafka.sh cargo test -p master_log --features kafka --test kafka
#
# 1. installs the `tansu` broker (crates.io) when it is not on PATH,
# 2. starts it in memory on a free 127.0.0.1 port and waits until it accepts connections,
# 3. exports LK_KAFKA_BROKERS=127.0.0.1:PORT and runs the command,
# 4. stops the broker and exits with the command's status.
#
# Environment: TANSU (path of a tansu binary to use), TANSU_VERSION (version to install,
# default 0.6.0), KAFKA_START_TIMEOUT (seconds to wait for the broker, default 60).
set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

TANSU_VERSION="${TANSU_VERSION:-0.6.0}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"

find_tansu() {
    if [[ -n "${TANSU:-}" && -x "${TANSU}" ]]; then
        echo "$TANSU"
    elif command -v tansu >/dev/null 2>&1; then
        command -v tansu
    elif [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/tansu" ]]; then
        echo "${CARGO_HOME:-$HOME/.cargo}/bin/tansu"
    fi
}

tansu_bin="$(find_tansu)"
if [[ -z "$tansu_bin" ]]; then
    echo "== installing tansu $TANSU_VERSION (a Kafka-protocol broker; about 10 minutes cold)" >&2
    # Its own target directory, so that the install neither fights over nor bloats the
    # project's; --locked builds the versions tansu was released with.
    CARGO_TARGET_DIR="${TANSU_TARGET_DIR:-${TMPDIR:-/tmp}/tansu-target}" \
        cargo install tansu --version "$TANSU_VERSION" --features dynostore --locked >&2
    tansu_bin="$(find_tansu)"
    if [[ -z "$tansu_bin" ]]; then
        echo "tansu was installed but is not found on PATH nor in ~/.cargo/bin" >&2
        exit 1
    fi
fi

# A free loopback port: bind port 0 and take what the kernel gives.
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
logfile="$(mktemp "${TMPDIR:-/tmp}/tansu.XXXXXX.log")"

# tansu also reads these from the environment: the command line alone decides here.
env -u CLUSTER_ID -u LISTENER_URL -u ADVERTISED_LISTENER_URL -u STORAGE_ENGINE \
    "$tansu_bin" broker \
    --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine "memory://tansu/" \
    >"$logfile" 2>&1 &
broker_pid=$!

stop_broker() {
    if kill -0 "$broker_pid" 2>/dev/null; then
        kill "$broker_pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$broker_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$broker_pid" 2>/dev/null || true
    fi
    wait "$broker_pid" 2>/dev/null || true
    rm -f "$logfile"
}
trap stop_broker EXIT

accepting() {
    python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' "$port" 2>/dev/null
}

deadline=$((SECONDS + START_TIMEOUT))
until accepting; do
    if ! kill -0 "$broker_pid" 2>/dev/null; then
        echo "tansu exited before accepting connections on 127.0.0.1:$port; its log:" >&2
        cat "$logfile" >&2
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        echo "tansu did not accept connections on 127.0.0.1:$port within ${START_TIMEOUT}s; its log:" >&2
        cat "$logfile" >&2
        exit 1
    fi
    sleep 0.2
done
echo "== tansu ($("$tansu_bin" --version 2>/dev/null || echo tansu)) on 127.0.0.1:$port" >&2

export LK_KAFKA_BROKERS="127.0.0.1:$port"
status=0
"$@" || status=$?
if ((status != 0)); then
    echo "== the command failed ($status); the broker's log (last 50 lines):" >&2
    tail -n 50 "$logfile" >&2 || true
fi
exit "$status"
