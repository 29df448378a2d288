#!/usr/bin/env python3
"""SQL workloads checked against DuckDB: Lambda's and Kappa's answers equal DuckDB's.

    scripts/sql-duckdb-check.py [PATH_TO_LK]        (default: target/debug/lk)

Makes small topics in a temporary data directory (pageviews, ysb and nexmark generated
in event-time order without duplicates, so that every event is on time and counted once;
an imported CSV `trips` with nulls; a side table `zones`), then for each SQL file shipped
in workloads/sql/ (the built-ins, NEXMark Q1 and Q2) and a few written here:

  lk lambda batch --sql Q          then  lk query --sql Q --pipeline lambda --format json
  lk kappa run --sql Q --until-caught-up   then  lk query --sql Q --pipeline kappa ...
  DuckDB: the same query over `lk export --format parquet` of the topic, its window
          table function rewritten (TUMBLE as time_bucket, HOP as a lateral series of
          window starts) and its side tables read with read_csv (all text)

and compares the rows (as multisets, on DuckDB's columns; floats within 1e-9 relative).
Needs the `duckdb` Python package (scripts/test.sh runs it with the pinned version of
scripts/peer/requirements.txt). Prints one line
per query and per pipeline, then `N passed, N failed`; exits 1 on any failure.
"""

import csv
import datetime as dt
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
LK = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target" / "debug" / "lk")

# Queries written here, over the imported CSV `trips` (ts, zone, fare, driver).
HAND_WRITTEN = {
    # The example: count / avg / max / count-distinct per key, tumbling windows.
    "trips_per_zone": """
        SELECT window_start, window_end, zone, COUNT(*) AS trips, AVG(fare) AS avg_fare,
               MAX(fare) AS max_fare, COUNT(DISTINCT driver) AS drivers
        FROM TUMBLE(trips, DESCRIPTOR(ts), INTERVAL '10' MINUTE)
        GROUP BY window_start, window_end, zone""",
    "trips_hopping_filtered": """
        SELECT window_start, window_end, driver, COUNT(fare) AS fares, SUM(fare * 2 + 1) AS s,
               MIN(fare) AS low
        FROM HOP(trips, ts, INTERVAL '5' MINUTE, INTERVAL '15' MINUTE)
        WHERE (zone IN ('JFK', 'LGA') OR zone LIKE 'S%') AND fare IS NOT NULL
        GROUP BY window_start, window_end, driver
        HAVING COUNT(*) >= 2""",
    "trips_bands": """
        SELECT window_start, window_end,
               CASE WHEN fare >= 40 THEN 'high' WHEN fare >= 0 THEN 'low' ELSE 'refund' END AS band,
               COUNT(*) AS n, SUM(CAST(fare AS BIGINT)) AS whole, MEDIAN(fare) AS med,
               QUANTILE_CONT(fare, 0.9) AS p90, QUANTILE_DISC(fare, 0.25) AS q1
        FROM TUMBLE(trips, event_time, INTERVAL '30' MINUTE)
        GROUP BY window_start, window_end,
                 CASE WHEN fare >= 40 THEN 'high' WHEN fare >= 0 THEN 'low' ELSE 'refund' END""",
    "trips_regions": """
        SELECT window_start, window_end, z.region, COUNT(*) AS n, AVG(fare) AS avg_fare
        FROM TUMBLE(trips, ts, INTERVAL '20' MINUTE) AS t
        LEFT JOIN zones AS z ON t.zone = z.zone
        GROUP BY window_start, window_end, z.region""",
    "trips_top_zones": """
        SELECT window_start, window_end, zone, fares, r FROM (
          SELECT window_start, window_end, zone, COUNT(fare) AS fares,
                 RANK() OVER (PARTITION BY window_start, window_end ORDER BY COUNT(fare) DESC) AS r
          FROM TUMBLE(trips, ts, INTERVAL '1' HOUR)
          GROUP BY window_start, window_end, zone)
        WHERE r <= 2""",
}

UNITS_US = {
    "millisecond": 1_000,
    "second": 1_000_000,
    "minute": 60_000_000,
    "hour": 3_600_000_000,
    "day": 86_400_000_000,
}

TVF = re.compile(
    r"\b(TUMBLE|HOP)\s*\(\s*(\w+)\s*,\s*(?:DESCRIPTOR\s*\(\s*(\w+)\s*\)|(\w+))\s*,"
    r"\s*(INTERVAL\s*'[^']*'(?:\s*[A-Za-z]+)?)\s*(?:,\s*(INTERVAL\s*'[^']*'(?:\s*[A-Za-z]+)?)\s*)?\)",
    re.I,
)
NOT_ALIAS = {"JOIN", "LEFT", "INNER", "WHERE", "GROUP", "HAVING", "ON"}


def interval_us(text):
    """An `INTERVAL '10' SECOND` or `INTERVAL '10 seconds'` in µs."""
    m = re.match(r"INTERVAL\s*'\s*([0-9.]+)\s*([A-Za-z]*)\s*'\s*([A-Za-z]*)", text, re.I)
    number, unit = float(m.group(1)), (m.group(2) or m.group(3)).lower().rstrip("s")
    return int(number * UNITS_US[unit])


def to_duckdb(sql, parquet, sides):
    """The query with its window table function over a Parquet file, and its side tables
    read from CSV."""
    sql = "\n".join(l for l in sql.splitlines() if not l.strip().startswith("--"))
    m = TVF.search(sql)
    if m is None:
        # A projection `FROM topic [AS alias]`.
        f = re.search(r"\bFROM\s+(\w+)", sql, re.I)
        topic = f.group(1)
        rest = sql[f.end():]
        alias = re.match(r"\s+(?:AS\s+)?(\w+)", rest, re.I)
        named = "" if alias and alias.group(1).upper() not in NOT_ALIAS else f" AS {topic}"
        return sql[: f.start()] + f"FROM read_parquet('{parquet[topic]}'){named}" + rest
    kind, topic, col = m.group(1).upper(), m.group(2), m.group(3) or m.group(4)
    src = f"read_parquet('{parquet[topic]}')"
    if kind == "TUMBLE":
        size = m.group(5)
        bucket = f"time_bucket({size}, {col}, TIMESTAMP '1970-01-01')"
        rel = f"(SELECT *, {bucket} AS window_start, {bucket} + {size} AS window_end FROM {src})"
    else:
        slide, size = interval_us(m.group(5)), interval_us(m.group(6))
        k = -(-size // slide)
        rel = (
            f"(SELECT t.*, make_timestamp(w.ws) AS window_start, make_timestamp(w.ws + {size}) AS window_end "
            f"FROM {src} AS t CROSS JOIN LATERAL (SELECT (epoch_us(t.{col}) // {slide}) * {slide} - r.k * {slide} AS ws "
            f"FROM range(0, {k}) AS r(k)) AS w WHERE w.ws + {size} > epoch_us(t.{col}))"
        )
    rest = sql[m.end():]
    alias = re.match(r"\s+(?:AS\s+)?(\w+)", rest, re.I)
    if not alias or alias.group(1).upper() in NOT_ALIAS:
        rel += f" AS {topic}"
    sql = sql[: m.start()] + rel + rest
    for name, path in sides.items():
        sql = re.sub(rf"\bJOIN\s+{name}\b", f"JOIN read_csv('{path}', header=true, all_varchar=true)", sql)
    return sql


def norm(v):
    """A value in one comparable form: timestamps as UTC datetimes, numbers as floats."""
    if isinstance(v, dt.datetime):
        return v.replace(tzinfo=None)
    if isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", v):
        return dt.datetime.fromisoformat(v[:-1])
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    return float(v)


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b)) or (math.isnan(a) and math.isnan(b))
    return a == b


def compare(expected, got, columns):
    """Whether two lists of row dicts are equal as multisets on `columns`."""
    e = sorted(([norm(r[c]) for c in columns] for r in expected), key=lambda r: [str(x) for x in r])
    g = sorted(([norm(r.get(c)) for c in columns] for r in got), key=lambda r: [str(x) for x in r])
    if len(e) != len(g):
        return f"{len(g)} rows, DuckDB has {len(e)}"
    for x, y in zip(e, g):
        if not all(same(a, b) for a, b in zip(x, y)):
            return f"row {y} where DuckDB has {x}"
    return None


def lk(data, *args):
    out = subprocess.run([LK, "--data", str(data), *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"lk {' '.join(args)}: exit {out.returncode}: {out.stderr.strip()}")
    return out.stdout


def make_data(data, tmp):
    """The topics, their Parquet exports and the side tables."""
    for dataset, events, rate in [("pageviews", 3000, 20), ("ysb", 3000, 100), ("nexmark", 3000, 100)]:
        lk(data, "generate", dataset, "--topic", dataset, "--events", str(events),
           "--partitions", "2", "--event-rate", str(rate))
    trips = tmp / "trips.csv"
    with trips.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ts", "zone", "fare", "driver"])
        x = 12345
        start = dt.datetime(2026, 1, 1)
        for i in range(600):
            x = (x * 6364136223846793005 + 1442695040888963407) % 2**64
            r = x >> 33
            zone = ["JFK", "LGA", "EWR", "", "SOHO"][r % 5]
            fare = "" if r % 11 == 0 else (f"-{r % 7}" if r % 11 == 1 else f"{r % 90}.{r % 100:02d}")
            ts = (start + dt.timedelta(seconds=7 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            w.writerow([ts, zone, fare, f"d{(r // 7) % 12}"])
    lk(data, "ingest", "csv", str(trips), "--topic", "trips", "--time-column", "ts",
       "--partitions", "2", "--key-column", "driver")
    side = data / "datasets"
    (side / "trips.zones.csv").write_text("zone,region\nJFK,queens\nLGA,queens\nSOHO,manhattan\n")
    parquet = {}
    for topic in ["pageviews", "ysb", "nexmark", "trips"]:
        parquet[topic] = tmp / f"{topic}.parquet"
        lk(data, "export", topic, "--format", "parquet", "--out", str(parquet[topic]))
    sides = {"campaigns": side / "ysb.campaigns.csv", "zones": side / "trips.zones.csv"}
    return parquet, sides


def main():
    passed, failed = 0, 0
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        data = tmp / "data"
        parquet, sides = make_data(data, tmp)
        queries = {p.stem: p.read_text() for p in sorted((ROOT / "workloads" / "sql").glob("*.sql"))}
        queries.update(HAND_WRITTEN)
        con = duckdb.connect()
        for name, sql in queries.items():
            path = tmp / f"{name}.sql"
            path.write_text(sql)
            try:
                cur = con.execute(to_duckdb(sql, parquet, sides))
                columns = [d[0] for d in cur.description]
                expected = [dict(zip(columns, r)) for r in cur.fetchall()]
            except Exception as e:  # noqa: BLE001 - reported as the query's failure
                print(f"FAIL {name}: DuckDB: {e}")
                failed += 2
                continue
            runs = {
                "lambda": [["lambda", "batch", "--sql", str(path)]],
                "kappa": [["kappa", "run", "--sql", str(path), "--until-caught-up"]],
            }
            for pipeline, commands in runs.items():
                try:
                    for c in commands:
                        lk(data, *c)
                    doc = json.loads(lk(data, "query", "--sql", str(path), "--pipeline", pipeline, "--format", "json"))
                    problem = compare(expected, doc["rows"], columns)
                    if not expected:
                        problem = "DuckDB's answer is empty: the check would prove nothing"
                except Exception as e:  # noqa: BLE001 - reported as the query's failure
                    problem = str(e)
                if problem:
                    print(f"FAIL {name} ({pipeline}): {problem}")
                    failed += 1
                else:
                    print(f"ok   {name} ({pipeline}): {len(expected)} rows equal DuckDB's")
                    passed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
