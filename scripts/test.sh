#!/usr/bin/env bash
# The whole test suite: every crate's tests, with a Kafka-protocol broker on loopback
# (scripts/with-kafka.sh installs and starts it) for the tests of the Kafka backend and
# of `lk --log kafka://…`, which fail rather than skip without one.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/with-kafka.sh cargo test --workspace --locked
