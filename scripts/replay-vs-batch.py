#!/usr/bin/env python3
"""Kappa's replay against the batch layer's recompute of the same history.

Usage: scripts/replay-vs-batch.py LK DATA [ROUNDS] [--sweep]

Over the YSB topic `ysb` of the data directory DATA (made with `lk generate ysb`), each
round runs, one after another: `lk lambda batch`, `lk kappa run --until-caught-up` with
the default checkpoints, the same with one checkpoint at the end (`--checkpoint-every 1h
--checkpoint-records 1000000000`: as durable as the batch layer's one view), and `lk
kappa reprocess` (a new version from offset 0, then the alias switch; timed to the
switch, as `lk` prints it, and the job's stop after it reported apart). Every Kappa run
starts from an empty Kappa state and its own namespace, so none resumes another's
checkpoints. After each round the Kappa answer (the reprocessed version's) must equal the
batch layer's cell for cell (`lk query --format csv`), or the script fails. Prints each
round, then per run the median time (as `lk` prints it), the
range, events per second, the median CPU time of the process and the speed relative to
the batch recompute.

With `--sweep`, each round also runs `lk kappa run --until-caught-up` with the default
1 s interval and 250,000, 500,000, 1,000,000 and 2,500,000 records per checkpoint
(`--checkpoint-records`; the default is 100,000): the trade-off between how often a
replay checkpoints (the records a crash makes a task read again, and how often results
become visible) and its speed. A task of P partitions' topic of R records checkpoints about R / P / N times by
record count (plus once a second).
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
SWEEP = [250_000, 500_000, 1_000_000, 2_500_000]  # records per checkpoint (`--sweep`)
LATENESS = "2m"  # keeps the generator's latest events in their windows: the exact answer


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--sweep"]
    sweep = len(args) < len(sys.argv) - 1
    if len(args) not in (2, 3):
        sys.exit(__doc__.strip().splitlines()[2])
    lk, data = args[0], args[1]
    rounds = int(args[2]) if len(args) == 3 else 3
    events = json_events(data)

    def run(args: list[str]) -> tuple[str, float]:
        before = os.times()
        out = subprocess.run([lk, "--data", data, *args], capture_output=True, text=True,
                             check=True).stdout
        after = os.times()
        cpu = (after.children_user - before.children_user
               + after.children_system - before.children_system)
        return out, cpu

    def forget_kappa() -> None:
        """Delete the Kappa state and the topics (changelogs, late events) of earlier
        runs, so that no run opens, or shares a disk with, the ones before it."""
        shutil.rmtree(os.path.join(data, "kappa"), ignore_errors=True)
        for line in run(["topic", "list"])[0].splitlines():
            name = line.split("\t")[0]
            if name.startswith("kappa."):
                run(["topic", "delete", name])

    def kappa(args: list[str], tag: str) -> tuple[str, float]:
        forget_kappa()
        return run([*args, "--workload", WORKLOAD, "--allowed-lateness", LATENESS,
                    "--namespace", f"{tag}{time.time_ns()}"])

    runs = {"lk lambda batch": [], "lk kappa run, default checkpoints": [],
            "lk kappa run, one checkpoint at the end": [], "lk kappa reprocess": []}
    swept = {f"lk kappa run, {n:,} records per checkpoint": n for n in SWEEP if sweep}
    runs.update({name: [] for name in swept})
    cpus = {k: [] for k in runs}
    stops = []  # the reprocessing job's stop after its switch, in s
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
        stops.append(float(re.search(r"job stopped ([0-9.]+) s after the switch", out).group(1)))
        cpus[names[3]].append(cpu)
        answers = {p: run(["query", "--workload", WORKLOAD, "--pipeline", p, "--format",
                          "csv"])[0] for p in ("lambda", "kappa")}
        if answers["lambda"] != answers["kappa"]:
            sys.exit(f"round {i + 1}: Kappa's answer differs from the batch layer's")
        # The sweep after the check: each run starts from an empty Kappa state.
        for name, n in swept.items():
            out, cpu = kappa(["kappa", "run", "--until-caught-up", "--checkpoint-records",
                              str(n)], "sweep")
            took.append(float(re.search(r"^\s*([0-9.]+) s, \d+ table writes?", out, re.M).group(1)))
            cpus[name].append(cpu)
        for name, t in zip(names, took):
            runs[name].append(t)
        print(f"round {i + 1} (load {load}): "
              + ", ".join(f"{n} {t:.2f} s" for n, t in zip(names, took)), flush=True)
    forget_kappa()
    batch = statistics.median(runs[names[0]])
    print(f"\n{events:,} events, {rounds} round(s)")
    for name in names:
        m = statistics.median(runs[name])
        print(f"{name:48s} {m:6.2f} s ({min(runs[name]):.2f}-{max(runs[name]):.2f})"
              f"  {events / m / 1e6:5.2f} M events/s  CPU {statistics.median(cpus[name]):.2f} s"
              f"  {batch / m * 100:3.0f} % of the batch recompute's speed")
    print(f"(after the switch, the reprocessing job stopped in {statistics.median(stops):.2f} s: "
          "its local stores took in the checkpoints; in its CPU, not in its time)")


def json_events(data: str) -> int:
    """The distinct events of the generated topic, from its summary sidecar."""
    with open(os.path.join(data, "datasets", "ysb.json")) as f:
        return json.load(f)["events"]


if __name__ == "__main__":
    main()
