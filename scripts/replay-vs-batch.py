#!/usr/bin/env python3
"""Kappa's replay against the batch layer's recompute of the same history.

Usage: scripts/replay-vs-batch.py LK DATA [ROUNDS]

Over the YSB topic `ysb` of the data directory DATA (made with `lk generate ysb`), each
round runs, one after another: `lk lambda batch`, `lk kappa run --until-caught-up` with
the default checkpoints, the same with one checkpoint at the end (`--checkpoint-every 1h
--checkpoint-records 1000000000`: as durable as the batch layer's one view), and `lk
kappa reprocess` (a new version from offset 0, then the alias switch). Every Kappa run
starts from an empty Kappa state and its own namespace, so none resumes another's
checkpoints. After each round the Kappa answer (the reprocessed version's) must equal the
batch layer's cell for cell (`lk query --format csv`), or the script fails. Prints each
round, then per run the median time (as `lk` prints it), the
range, events per second, the median CPU time of the process and the speed relative to
the batch recompute.
"""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

WORKLOAD = "ysb-campaign-10s"
LATENESS = "2m"  # keeps the generator's latest events in their windows: the exact answer


def main() -> None:
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__.strip().splitlines()[2])
    lk, data = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) == 4 else 3
    events = json_events(data)

    def run(args: list[str]) -> tuple[str, float]:
        before = os.times()
        out = subprocess.run([lk, "--data", data, *args], capture_output=True, text=True,
                             check=True).stdout
        after = os.times()
        cpu = (after.children_user - before.children_user
               + after.children_system - before.children_system)
        return out, cpu

    def kappa(args: list[str], tag: str) -> tuple[str, float]:
        shutil.rmtree(os.path.join(data, "kappa"), ignore_errors=True)
        return run([*args, "--workload", WORKLOAD, "--allowed-lateness", LATENESS,
                    "--namespace", f"{tag}{time.time_ns()}"])

    runs = {"lk lambda batch": [], "lk kappa run, default checkpoints": [],
            "lk kappa run, one checkpoint at the end": [], "lk kappa reprocess": []}
    cpus = {k: [] for k in runs}
    names = list(runs)
    for i in range(rounds):
        load = open("/proc/loadavg").read().split()[0]
        out, cpu = run(["lambda", "batch", "--workload", WORKLOAD])
        took = [float(re.search(r" in ([0-9.]+) s\b", out).group(1))]
        cpus[names[0]].append(cpu)
        for name, extra in [(names[1], []), (names[2], ["--checkpoint-every", "1h",
                                                        "--checkpoint-records", "1000000000"])]:
            out, cpu = kappa(["kappa", "run", "--until-caught-up", *extra], "replay")
            took.append(float(re.search(r"^\s*([0-9.]+) s, \d+ table writes?", out, re.M).group(1)))
            cpus[name].append(cpu)
        # The run above left its version serving: reprocess into the next one.
        out, cpu = run(["kappa", "reprocess", "--workload", WORKLOAD, "--allowed-lateness",
                        LATENESS, "--namespace", f"reprocess{time.time_ns()}"])
        took.append(float(re.search(r"records in ([0-9.]+) s", out).group(1)))
        cpus[names[3]].append(cpu)
        answers = {p: run(["query", "--workload", WORKLOAD, "--pipeline", p, "--format",
                          "csv"])[0] for p in ("lambda", "kappa")}
        if answers["lambda"] != answers["kappa"]:
            sys.exit(f"round {i + 1}: Kappa's answer differs from the batch layer's")
        for name, t in zip(names, took):
            runs[name].append(t)
        print(f"round {i + 1} (load {load}): "
              + ", ".join(f"{n} {t:.2f} s" for n, t in zip(names, took)), flush=True)
    batch = statistics.median(runs[names[0]])
    print(f"\n{events:,} events, {rounds} round(s)")
    for name in names:
        m = statistics.median(runs[name])
        print(f"{name:42s} {m:6.2f} s ({min(runs[name]):.2f}-{max(runs[name]):.2f})"
              f"  {events / m / 1e6:5.2f} M events/s  CPU {statistics.median(cpus[name]):.2f} s"
              f"  {batch / m * 100:3.0f} % of the batch recompute's speed")


def json_events(data: str) -> int:
    """The distinct events of the generated topic, from its summary sidecar."""
    with open(os.path.join(data, "datasets", "ysb.json")) as f:
        return json.load(f)["events"]


if __name__ == "__main__":
    main()
