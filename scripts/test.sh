#!/usr/bin/env bash
# The whole test suite: every crate's tests, then the Kafka backend's tests against a real
# Kafka-protocol broker on loopback (scripts/with-kafka.sh installs and starts it).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked
cargo test -p master_log --features kafka --locked --test kafka_mock
scripts/with-kafka.sh cargo test -p master_log --features kafka --locked --test kafka
