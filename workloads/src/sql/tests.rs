//! The SQL surface: what parses into which model, what is refused where, and the
//! finishing step from partials to rows.

use super::*;
use crate::partial::Partial;
use crate::scalar::Scalar;
use crate::table::PartialTable;
use crate::window::Window;
use crate::workload::Workload;

fn parse(text: &str) -> SqlWorkload {
    SqlWorkload::parse(text, "q").unwrap_or_else(|e| panic!("{text}\n{e}"))
}

fn refused(text: &str) -> (u64, u64, String) {
    match SqlWorkload::parse(text, "q") {
        Err(e @ WorkloadError::Sql { .. }) => {
            assert!(e.is_usage());
            let WorkloadError::Sql {
                line,
                column,
                message,
            } = e
            else {
                unreachable!()
            };
            (line, column, message)
        }
        other => panic!("{text}: {other:?}"),
    }
}

fn stream_schema(cols: &[(&str, SqlType)]) -> SqlSchema {
    SqlSchema {
        stream: cols.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
        time_columns: vec!["event_time".into()],
        sides: vec![],
    }
}

#[test]
fn the_shipped_builtins_parse_into_their_layouts() {
    for (b, _, _) in BUILTINS_AS_SQL {
        let w = builtin_as_sql(b).unwrap();
        assert_eq!(w.window, b.window(), "{b}");
        assert_eq!(w.key_names, b.key_columns(), "{b}");
        assert_eq!(w.output_names, b.value_columns(), "{b}");
    }
    let q7 = builtin_as_sql(BuiltIn::NexmarkQ7).unwrap();
    assert!(q7.top.as_ref().is_some_and(|t| t.over_rows && t.n == 1));
    let ysb = builtin_as_sql(BuiltIn::YsbCampaign10s).unwrap();
    assert_eq!(ysb.joins[0].table, "campaigns");
    assert_eq!(ysb.joins[0].on[0].1, "ad_id");
}

#[test]
fn windows_expressions_and_aggregates_parse() {
    let w = parse(
        "SELECT window_start, zone, COUNT(*) AS n, AVG(fare) AS avg_fare, MAX(fare) AS top, \
         COUNT(DISTINCT driver) AS drivers, MEDIAN(fare) AS med, QUANTILE_CONT(fare, 0.9) AS p90, \
         SUM(CASE WHEN fare > 10 THEN 1 ELSE 0 END) * 2 AS big \
         FROM HOP(trips, DESCRIPTOR(ts), INTERVAL '5' MINUTE, INTERVAL '10 minutes') \
         WHERE fare IS NOT NULL AND zone IN ('JFK', 'LGA') AND zone NOT LIKE 'x%' \
         GROUP BY window_start, window_end, zone HAVING COUNT(*) > 1",
    );
    assert_eq!(
        w.window,
        crate::window::WindowSpec::Hopping {
            size_ms: 600_000,
            slide_ms: 300_000
        }
    );
    assert_eq!(w.key_names, vec!["zone"]);
    assert_eq!(
        w.output_names,
        vec!["n", "avg_fare", "top", "drivers", "med", "p90", "big"]
    );
    assert_eq!(w.aggregates.len(), 7);
    assert!(w.having.is_some());
    assert_eq!(w.time_column.name, "ts");
}

#[test]
fn unsupported_sql_names_the_construct_and_where_it_is() {
    let base = "SELECT window_start, COUNT(*) AS n\nFROM TUMBLE(t, ts, INTERVAL '1' MINUTE)\n";
    let cases = [
        (
            "SELECT window_start, LAG(x) OVER (PARTITION BY window_start ORDER BY x) AS l\nFROM TUMBLE(t, ts, INTERVAL '1' MINUTE)\nGROUP BY window_start",
            (1, 22),
            "window function LAG",
        ),
        (
            &*format!("{base}GROUP BY window_start LIMIT 3"),
            (0, 0),
            "LIMIT",
        ),
        (
            &*format!("{base}WHERE upper(x) = 'A' GROUP BY window_start"),
            (3, 7),
            "function upper",
        ),
        (
            &*format!("{base}GROUP BY window_start ORDER BY n"),
            (3, 32),
            "ORDER BY",
        ),
        (
            "SELECT window_start, COUNT(*) AS n FROM t GROUP BY window_start",
            (1, 41),
            "needs a window",
        ),
        (
            "SELECT window_start, COUNT(*) AS n FROM TUMBLE(t, ts, INTERVAL '1' MINUTE) JOIN u ON t.a = u.b JOIN TUMBLE(v, ts, INTERVAL '1' MINUTE) ON true GROUP BY window_start",
            (1, 101),
            "stream-stream",
        ),
        ("SELECT a FROM", (0, 0), "Expected"),
        (
            &*format!("{base}GROUP BY window_start, zone"),
            (1, 8),
            "must be selected",
        ),
        (
            "SELECT window_start, x FROM TUMBLE(t, ts, INTERVAL '1' MINUTE) GROUP BY window_start",
            (1, 22),
            "GROUP BY",
        ),
        (
            "SELECT window_start, COUNT(*) AS n FROM TUMBLE(t, ts, INTERVAL '0' SECOND) GROUP BY window_start",
            (1, 64),
            "window length",
        ),
    ];
    for (text, (line, column), needle) in cases {
        let (l, c, msg) = refused(text);
        assert!(msg.contains(needle), "{text}: {msg}");
        if line > 0 {
            assert_eq!((l, c), (line, column), "{text}: {msg}");
        }
    }
}

#[test]
fn a_projection_keeps_every_row_in_the_window_of_its_event_time() {
    let q = parse(
        "SELECT auction, price * 0.908 AS euros FROM nexmark WHERE kind = 'bid' AND MOD(auction, 3) = 0",
    );
    assert_eq!(q.window, crate::window::WindowSpec::Tumbling { size_ms: 1 });
    assert_eq!(q.key_names, vec!["_row"]);
    assert_eq!(q.output_names, vec!["auction", "euros"]);
    let t = q.top.as_ref().unwrap();
    assert!(t.over_rows && t.n == u64::MAX && t.order.is_empty());
    let wl = Workload::Sql(Box::new(q));
    let mut table = PartialTable::new();
    let cell = table.cell_mut(w(5), vec![], || wl.empty_partials());
    let Partial::Top(top) = &mut cell[0] else {
        panic!()
    };
    top.extend([
        vec![Scalar::Int(9), Scalar::Float(2.0)],
        vec![Scalar::Int(3), Scalar::Float(1.0)],
        vec![Scalar::Int(3), Scalar::Float(1.0)],
    ]);
    let rs = wl.finish(&table).unwrap();
    let rows: Vec<(Scalar, Vec<Scalar>)> = rs
        .rows
        .into_iter()
        .map(|r| (r.key[0].clone(), r.values))
        .collect();
    assert_eq!(
        rows,
        vec![
            (Scalar::Int(1), vec![Scalar::Int(3), Scalar::Float(1.0)]),
            (Scalar::Int(2), vec![Scalar::Int(3), Scalar::Float(1.0)]),
            (Scalar::Int(3), vec![Scalar::Int(9), Scalar::Float(2.0)]),
        ]
    );
}

#[test]
fn nexmark_q8_is_refused_as_a_stream_stream_join() {
    let q8 = "SELECT P.id, P.name, P.window_start\nFROM (SELECT window_start, window_end, person_id AS id, name \
              FROM TUMBLE(nexmark, date_time, INTERVAL '10' SECOND) WHERE kind = 'person' \
              GROUP BY window_start, window_end, person_id, name) P\n\
              JOIN (SELECT window_start, window_end, seller FROM TUMBLE(nexmark, date_time, INTERVAL '10' SECOND) \
              WHERE kind = 'auction' GROUP BY window_start, window_end, seller) A\n\
              ON P.id = A.seller AND P.window_start = A.window_start";
    let (line, _, msg) = refused(q8);
    assert_eq!(line, 3, "{msg}");
    assert!(msg.contains("stream-stream join"), "{msg}");
}

#[test]
fn typing_checks_columns_and_makes_conversions_explicit() {
    let schema = stream_schema(&[
        ("event_time", SqlType::Timestamp),
        ("zone", SqlType::Varchar),
        ("fare", SqlType::Double),
        ("n", SqlType::Bigint),
    ]);
    let w = parse(
        "SELECT window_start, zone, SUM(CASE WHEN n > 1 THEN n ELSE fare END) AS s \
         FROM TUMBLE(t, event_time, INTERVAL '1' HOUR) \
         WHERE event_time >= '2024-01-01' GROUP BY window_start, zone",
    );
    let t = w.typed(&schema).unwrap();
    let mut casts = 0;
    t.aggregates[0].args[0].walk(&mut |e| casts += usize::from(matches!(e, Expr::Cast { .. })));
    assert_eq!(casts, 1, "{:?}", t.aggregates[0].args[0]);
    let mut ts = false;
    t.filter
        .as_ref()
        .unwrap()
        .walk(&mut |e| ts |= matches!(e, Expr::Literal(Scalar::Timestamp(_))));
    assert!(ts);
    for (text, needle) in [
        (
            "SELECT window_start, SUM(zone) AS s FROM TUMBLE(t, event_time, INTERVAL '1' HOUR) GROUP BY window_start",
            "needs numbers",
        ),
        (
            "SELECT window_start, COUNT(*) AS c FROM TUMBLE(t, event_time, INTERVAL '1' HOUR) WHERE zone > 3 GROUP BY window_start",
            "does not compare",
        ),
        (
            "SELECT window_start, COUNT(nope) AS c FROM TUMBLE(t, event_time, INTERVAL '1' HOUR) GROUP BY window_start",
            "not in topic",
        ),
        (
            "SELECT window_start, COUNT(*) AS c FROM TUMBLE(t, n, INTERVAL '1' HOUR) GROUP BY window_start",
            "event time",
        ),
    ] {
        let e = parse(text).typed(&schema).unwrap_err();
        assert!(
            e.is_usage() && e.to_string().contains(needle),
            "{text}: {e}"
        );
    }
}

fn w(s: i64) -> Window {
    Window {
        start: s,
        end: s + 10,
    }
}

#[test]
fn finish_applies_having_outputs_and_top_n_after_merging() {
    let q = parse(
        "SELECT window_start, window_end, k, c, c * 10 AS c10, r FROM ( \
           SELECT window_start, window_end, k, COUNT(*) AS c, \
                  RANK() OVER (PARTITION BY window_start ORDER BY COUNT(*) DESC) AS r \
           FROM TUMBLE(t, event_time, INTERVAL '10' MILLISECOND) \
           GROUP BY window_start, window_end, k HAVING COUNT(*) > 1) \
         WHERE r <= 2",
    );
    let wl = Workload::Sql(Box::new(q));
    let mut t = PartialTable::new();
    for (k, n) in [(1, 5), (2, 7), (3, 7), (4, 1), (5, 3)] {
        t.cell_mut(w(0), vec![Scalar::Int(k)], || vec![Partial::Count(n)]);
    }
    let rs = wl.finish(&t).unwrap();
    let got: Vec<(i64, i64, i64, i64)> = rs
        .rows
        .iter()
        .map(|r| match (&r.key[0], &r.values[..]) {
            (Scalar::Int(k), [Scalar::Int(c), Scalar::Int(c10), Scalar::Int(r)]) => {
                (*k, *c, *c10, *r)
            }
            other => panic!("{other:?}"),
        })
        .collect();
    // 2 and 3 tie at rank 1; RANK skips to 3, past the limit.
    assert_eq!(got, vec![(2, 7, 70, 1), (3, 7, 70, 1)]);
    assert_eq!(rs.value_columns, vec!["c", "c10", "r"]);
}

#[test]
fn sql_text_and_files_resolve_and_register() {
    let dir = tempfile::tempdir().unwrap();
    let text = "SELECT window_start, COUNT(*) AS n FROM TUMBLE(t, event_time, INTERVAL '1' MINUTE) GROUP BY window_start";
    let a = Workload::resolve(text, dir.path()).unwrap();
    assert!(a.name().starts_with("sql-"));
    assert_eq!(Workload::resolve(a.name(), dir.path()).unwrap(), a);
    let file = dir.path().join("per_minute.sql");
    std::fs::write(&file, text).unwrap();
    let b = Workload::resolve(file.to_str().unwrap(), dir.path()).unwrap();
    assert_eq!(b.name(), "per_minute");
    assert_eq!(Workload::resolve("per_minute", dir.path()).unwrap(), b);
    assert_eq!(
        Workload::list(dir.path()).unwrap().len(),
        BuiltIn::ALL.len() + 2
    );
    let e = Workload::resolve("SELECT nope", dir.path()).unwrap_err();
    assert!(e.is_usage(), "{e}");
}
