"""The peers of `lk` for `ysb-campaign-10s`, one run of one tool per process.

`run.py` starts this file once per timed run (a fresh process each time, so no tool keeps
a cache from one run to the next):

    python peers.py duckdb  --parquet F --campaigns C --out CELLS.csv
    python peers.py polars  --parquet F --campaigns C --out CELLS.csv
    python peers.py bytewax --parts DIR --campaigns C --out DIR2 --proc I --addresses A;B

Each prints one JSON line, `{"seconds": S, ...}`: the time of the tool's work alone, from
just before the query (or the dataflow) starts to the answer held in Python, after the
imports and the interpreter's start-up. The answer goes to `--out` as CSV rows
`window_start_ms,campaign_id,views` (Bytewax: one file per worker, with the log partition
as a fourth column; `run.py` adds the partitions up).

The query: the YSB views of each campaign per 10 s tumbling window of event time
(`ysb-campaign-10s`): keep `event_type = 'view'`, drop repeated `event_id`s (the data's
duplicates are re-sends of one event), join `ad_id` to the ad -> campaign table, window
start = floor(event time / 10 s) * 10 s, count per (window, campaign). The exact text each
tool runs is below (`DUCKDB_SQL`, `polars_plan`, `build_flow`) and in README.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone

WINDOW_MS = 10_000

# DuckDB: the Parquet export and the campaign CSV, read by DuckDB itself. The duplicates
# are re-sends of one event (same id, ad and event time): `SELECT DISTINCT` over those
# three columns drops them. (Measured on 2 M events: as fast as or faster than `DISTINCT
# ON (event_id)` and `count(DISTINCT event_id)`, and a join on an ENUM of the ads instead
# of the VARCHAR ad id was no faster.)
DUCKDB_SQL = """
SELECT (epoch_ms(v.event_time) // 10000) * 10000 AS window_start,
       c.campaign_id,
       count(*) AS views
FROM (
    SELECT DISTINCT event_id, ad_id, event_time
    FROM read_parquet($parquet)
    WHERE event_type = 'view'
) AS v
JOIN read_csv($campaigns, header = true,
              columns = {'ad_id': 'VARCHAR', 'campaign_id': 'VARCHAR'}) AS c
USING (ad_id)
GROUP BY ALL
"""


def run_duckdb(parquet: str, campaigns: str) -> list[tuple[int, str, int]]:
    """`DUCKDB_SQL` over the files: rows (window start ms, campaign, views)."""
    import duckdb

    con = duckdb.connect()
    return con.execute(DUCKDB_SQL, {"parquet": parquet, "campaigns": campaigns}).fetchall()


def polars_plan(parquet: str, campaigns: str):
    """The polars (Python) plan: a `LazyFrame` over the files, not yet collected."""
    import polars as pl

    # Both sides' join key as a Categorical (polars' dictionary type, global categories):
    # the join compares 32-bit category ids, not strings. The duplicates (re-sends of one
    # event, so in the same cell) are dropped by counting distinct ids per cell, which
    # measured 2-4x faster than a `unique("event_id")` over the views first.
    ads = pl.scan_csv(campaigns, schema={"ad_id": pl.String, "campaign_id": pl.String})
    ads = ads.with_columns(pl.col("ad_id").cast(pl.Categorical))
    return (
        pl.scan_parquet(parquet)
        .filter(pl.col("event_type") == "view")
        .with_columns(pl.col("ad_id").cast(pl.Categorical))
        .join(ads, on="ad_id", how="inner")
        .group_by(
            (pl.col("event_time").dt.epoch("ms") // WINDOW_MS * WINDOW_MS).alias(
                "window_start"
            ),
            "campaign_id",
        )
        .agg(pl.col("event_id").n_unique().alias("views"))
    )


def run_polars(parquet: str, campaigns: str, engine: str) -> list[tuple[int, str, int]]:
    """`polars_plan` collected with `engine`: rows (window start ms, campaign, views)."""
    df = polars_plan(parquet, campaigns).collect(engine=engine)
    return list(df.select("window_start", "campaign_id", "views").iter_rows())


# Bytewax ---------------------------------------------------------------------------------

# The windows' alignment: window n covers [n * 10 s, (n + 1) * 10 s) since the Unix epoch.
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Rows handed to Bytewax per `next_batch` of a source partition.
BATCH_ROWS = 10_000
COLUMNS = ["event_id", "ad_id", "event_type", "event_time"]


def _partition_reader(path: str, part: int):
    """One log partition's events, in offset order, as lists of tuples
    (event_id, ad_id, event_type, event_time as an aware UTC datetime, partition)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    utc = pa.timestamp("us", tz="UTC")
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=COLUMNS):
        ids = batch.column(0).to_pylist()
        ads = batch.column(1).to_pylist()
        types = batch.column(2).to_pylist()
        times = batch.column(3).cast(utc).to_pylist()
        yield [(i, a, t, ts, part) for i, a, t, ts in zip(ids, ads, types, times)]


def build_flow(parts_dir: str, campaigns_csv: str, out_dir: str, wait: timedelta):
    """The Bytewax dataflow (see README.md): a source partition per log partition, the
    views joined to their campaign, keyed by (log partition, campaign), counted per
    10 s event-time window with the ids of a window in a set (so a duplicate counts
    once), written per worker."""
    from bytewax import operators as op
    from bytewax.dataflow import Dataflow
    from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
    from bytewax.operators import windowing as win
    from bytewax.outputs import DynamicSink, StatelessSinkPartition

    parts = sorted(
        f for f in os.listdir(parts_dir) if f.startswith("p") and f.endswith(".parquet")
    )

    class FilePartition(StatefulSourcePartition):
        def __init__(self, path: str, part: int):
            self.batches = _partition_reader(path, part)

        def next_batch(self):
            # StopIteration at the end is the partition's EOF.
            return next(self.batches)

        def snapshot(self):
            return None

    class LogPartitions(FixedPartitionedSource):
        """Like a Kafka source: one partition of the source per log partition."""

        def list_parts(self):
            return parts

        def build_part(self, step_id, for_part, resume_state):
            part = int(for_part[1:].split(".")[0])
            return FilePartition(os.path.join(parts_dir, for_part), part)

    class CsvFiles(DynamicSink):
        def __init__(self, prefix: str):
            self.prefix = prefix

        def build(self, step_id, worker_index, worker_count):
            return CsvPartition(os.path.join(out_dir, f"{self.prefix}-{worker_index}.csv"))

    class CsvPartition(StatelessSinkPartition):
        def __init__(self, path: str):
            self.file = open(path, "w", newline="")
            self.writer = csv.writer(self.file)

        def write_batch(self, items):
            self.writer.writerows(items)

        def close(self):
            self.file.close()

    with open(campaigns_csv, newline="") as f:
        campaign_of = {row["ad_id"]: row["campaign_id"] for row in csv.DictReader(f)}

    def join_campaign(e):
        c = campaign_of.get(e[1])
        return None if c is None else (e[0], e[3], e[4], c)

    def add_id(ids: set, e) -> set:
        ids.add(e[0])
        return ids

    def cell(key_window):
        key, (window_id, ids) = key_window
        part, campaign = key.split("|", 1)
        return (window_id * WINDOW_MS, campaign, int(part), len(ids))

    flow = Dataflow("ysb_campaign_10s")
    events = op.input("events", flow, LogPartitions())
    views = op.filter("views", events, lambda e: e[2] == "view")
    joined = op.filter_map("join_campaign", views, join_campaign)
    keyed = op.key_on("partition_campaign", joined, lambda e: f"{e[2]}|{e[3]}")
    clock = win.EventClock(
        ts_getter=lambda e: e[1],
        wait_for_system_duration=wait,
        # Windows close on the events' own time (and at the end), never on the wall clock.
        to_system_utc=lambda _t: None,
    )
    windower = win.TumblingWindower(length=timedelta(milliseconds=WINDOW_MS), align_to=EPOCH)
    counted = win.fold_window(
        "views_per_window",
        keyed,
        clock,
        windower,
        builder=set,
        folder=add_id,
        merger=set.union,
        ordered=False,
    )
    op.output("cells", op.map("cell", counted.down, cell), CsvFiles("cells"))
    late = op.map("late_event", counted.late, lambda kv: (kv[0], kv[1][1][0]))
    op.output("late", late, CsvFiles("late"))
    return flow


def run_bytewax(args) -> dict:
    """One process of the Bytewax cluster: its share of the dataflow, timed."""
    from bytewax.testing import cluster_main

    flow = build_flow(args.parts, args.campaigns, args.out, timedelta(seconds=args.wait_s))
    addresses = args.addresses.split(";")
    started = time.perf_counter()
    cluster_main(flow, addresses, args.proc, worker_count_per_proc=1)
    return {"seconds": time.perf_counter() - started}


def write_cells(path: str, rows) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["window_start_ms", "campaign_id", "views"])
        for ws, c, n in rows:
            w.writerow([int(ws), c, int(n)])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("tool", choices=["duckdb", "polars", "bytewax"])
    p.add_argument("--parquet")
    p.add_argument("--campaigns", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--engine", default="streaming", help="polars: the collect engine")
    p.add_argument("--parts", help="bytewax: the directory of per-partition Parquet files")
    p.add_argument("--proc", type=int, default=0, help="bytewax: this process's index")
    p.add_argument("--addresses", default="127.0.0.1:0", help="bytewax: host:port;...")
    p.add_argument("--wait-s", type=float, default=125.0, help="bytewax: watermark wait")
    args = p.parse_args(argv)
    if args.tool == "bytewax":
        print(json.dumps(run_bytewax(args)), flush=True)
        return 0
    if args.tool == "duckdb":
        import duckdb  # noqa: F401  (imported before the clock starts)

        started = time.perf_counter()
        rows = run_duckdb(args.parquet, args.campaigns)
    else:
        import polars  # noqa: F401

        started = time.perf_counter()
        rows = run_polars(args.parquet, args.campaigns, args.engine)
    seconds = time.perf_counter() - started
    write_cells(args.out, rows)
    print(json.dumps({"seconds": seconds, "cells": len(rows)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
