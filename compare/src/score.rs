//! Scoring: each pipeline's answers against the oracle's exact answer, at the end of the
//! run and over time (windows complete by then).

use workloads::{ResultSet, Workload};

use crate::Result;
use crate::observe::Reading;
use crate::pipelines::Final;
use crate::report::Correctness;

/// One workload's scores: the oracle's cell count, then per pipeline (in the order of
/// the finals) the final correctness and the correctness at each reading with answers
/// (`None` at readings without).
#[derive(Debug, Clone)]
pub(crate) struct WorkloadScore {
    pub name: String,
    pub oracle_cells: u64,
    pub finals: Vec<Correctness>,
    pub over_time: Vec<Vec<Option<Correctness>>>,
}

/// Score `workload` (the `i`th of the run): `finals[p][i]` is pipeline `p`'s final answer
/// and `readings[r].pipelines[p].answers` its answers over time. Windows count as
/// complete `max_delay_ms` behind the newest event time appended.
pub(crate) fn score_workload(
    i: usize,
    workload: &Workload,
    expected: &ResultSet,
    finals: &[Vec<Final>],
    readings: &[Reading],
    max_delay_ms: i64,
) -> Result<WorkloadScore> {
    let mut final_scores = Vec::new();
    let mut over_time = Vec::new();
    for (p, fin) in finals.iter().enumerate() {
        let f = &fin[i];
        let answer = workload.finish(&f.table)?;
        final_scores.push(correctness(
            expected,
            &answer,
            f.late_dropped,
            f.duplicates_removed,
        ));
        let mut series = Vec::with_capacity(readings.len());
        for r in readings {
            let Some(answers) = &r.pipelines[p].answers else {
                series.push(None);
                continue;
            };
            let complete = r.frontier.saturating_sub(max_delay_ms);
            let c = correctness(
                &complete_windows(expected, complete),
                &complete_windows(&workload.finish(&answers[i])?, complete),
                0,
                None,
            );
            series.push(Some(unlisted(c)));
        }
        over_time.push(series);
    }
    Ok(WorkloadScore {
        name: workload.name().to_owned(),
        oracle_cells: expected.rows.len() as u64,
        finals: final_scores,
        over_time,
    })
}

/// An answer against the oracle's, with its first missing, extra and repeated cells.
pub(crate) fn correctness(
    expected: &ResultSet,
    actual: &ResultSet,
    late_dropped: u64,
    duplicates_removed: Option<u64>,
) -> Correctness {
    let c = workloads::compare(expected, actual);
    Correctness {
        cells: c.cells,
        exact_cells: c.exact,
        exact_fraction: c.exact_fraction().unwrap_or(old_fraction(c.exact, c.cells)),
        exact_fraction_na: c.exact_fraction().is_none(),
        missing_cells: c.missing,
        extra_cells: c.extra,
        duplicate_rows: c.duplicates,
        max_abs_error: c.max_abs_error,
        mean_abs_error: c.mean_abs_error,
        max_rel_error: c.max_rel_error,
        late_dropped,
        duplicates_removed,
        missing_listed: c.missing_cells,
        extra_listed: c.extra_cells,
        duplicates_listed: c.duplicate_cells,
    }
}

/// `exact / cells`, 1 when there are no cells: the figure `exact_fraction` has always
/// held, kept where it is not applicable (see `Correctness::exact_fraction_na`).
fn old_fraction(exact: u64, cells: u64) -> f64 {
    if cells == 0 {
        1.0
    } else {
        exact as f64 / cells as f64
    }
}

/// The figures without the cell lists (over time, where a list per reading would
/// swell the report).
fn unlisted(c: Correctness) -> Correctness {
    Correctness {
        missing_listed: Vec::new(),
        extra_listed: Vec::new(),
        duplicates_listed: Vec::new(),
        ..c
    }
}

/// The rows of windows that end at or before `until` (ms).
fn complete_windows(r: &ResultSet, until: i64) -> ResultSet {
    ResultSet {
        key_columns: r.key_columns.clone(),
        value_columns: r.value_columns.clone(),
        rows: r
            .rows
            .iter()
            .filter(|row| row.window.end <= until)
            .cloned()
            .collect(),
    }
}

/// Several workloads' figures as one: counts added, maxima kept, means weighted by cells;
/// not applicable when no oracle answer has a cell; no cell lists (a cell belongs to
/// one workload: see each workload's figures).
pub(crate) fn pool(cs: &[Correctness]) -> Correctness {
    let mut p = Correctness::default();
    let mut weighted = 0.0;
    let mut duplicates = Some(0u64);
    for c in cs {
        p.cells += c.cells;
        p.exact_cells += c.exact_cells;
        p.missing_cells += c.missing_cells;
        p.extra_cells += c.extra_cells;
        p.duplicate_rows += c.duplicate_rows;
        p.max_abs_error = p.max_abs_error.max(c.max_abs_error);
        p.max_rel_error = p.max_rel_error.max(c.max_rel_error);
        weighted += c.mean_abs_error * c.cells as f64;
        p.late_dropped += c.late_dropped;
        duplicates = duplicates.zip(c.duplicates_removed).map(|(a, b)| a + b);
    }
    p.exact_fraction = old_fraction(p.exact_cells, p.cells);
    // The oracle's cells are the cells that are not extra.
    p.exact_fraction_na = p.cells == p.extra_cells;
    p.mean_abs_error = if p.cells == 0 {
        0.0
    } else {
        weighted / p.cells as f64
    };
    p.duplicates_removed = if cs.is_empty() { None } else { duplicates };
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_correctness_adds_counts_and_weights_means() {
        let a = Correctness {
            cells: 10,
            exact_cells: 10,
            exact_fraction: 1.0,
            duplicates_removed: Some(3),
            ..Correctness::default()
        };
        let b = Correctness {
            cells: 30,
            exact_cells: 15,
            exact_fraction: 0.5,
            max_abs_error: 4.0,
            mean_abs_error: 2.0,
            late_dropped: 7,
            duplicates_removed: Some(1),
            ..Correctness::default()
        };
        let p = pool(&[a.clone(), b]);
        assert_eq!((p.cells, p.exact_cells, p.late_dropped), (40, 25, 7));
        assert_eq!(p.exact_fraction, 25.0 / 40.0);
        assert_eq!(p.mean_abs_error, 2.0 * 30.0 / 40.0);
        assert_eq!(p.max_abs_error, 4.0);
        assert_eq!(p.duplicates_removed, Some(4));
        let unknown = Correctness {
            duplicates_removed: None,
            ..a
        };
        assert_eq!(pool(&[unknown]).duplicates_removed, None);
        assert_eq!(pool(&[]).exact_fraction, 1.0);
        assert!(pool(&[]).exact_fraction_na);
        assert!(!p.exact_fraction_na);
    }

    fn answer(rows: &[(i64, i64)]) -> ResultSet {
        ResultSet {
            key_columns: vec!["k".into()],
            value_columns: vec!["n".into()],
            rows: rows
                .iter()
                .map(|&(k, n)| workloads::Row {
                    window: workloads::Window { start: 0, end: 10 },
                    key: vec![workloads::Scalar::Int(k)],
                    values: vec![workloads::Scalar::Int(n)],
                })
                .collect(),
        }
    }

    #[test]
    fn correctness_carries_the_listed_cells_and_repeats() {
        let expected = answer(&[(1, 10), (2, 20)]);
        let actual = answer(&[(2, 20), (2, 20), (3, 30)]);
        let c = correctness(&expected, &actual, 0, None);
        assert_eq!((c.cells, c.exact_cells, c.duplicate_rows), (3, 0, 1));
        assert!(!c.exact_fraction_na);
        assert_eq!(c.missing_listed.len(), 1);
        assert_eq!(c.missing_listed[0].values, vec![workloads::Scalar::Int(10)]);
        assert_eq!(c.extra_listed[0].key, vec![workloads::Scalar::Int(3)]);
        assert_eq!(c.duplicates_listed[0].rows.len(), 2);
        let pooled = pool(&[c.clone(), c]);
        assert_eq!(pooled.duplicate_rows, 2);
        assert!(pooled.missing_listed.is_empty() && pooled.duplicates_listed.is_empty());
        // An empty oracle answer: not applicable, whatever the pipeline says.
        let none = correctness(&answer(&[]), &answer(&[]), 0, None);
        assert!(none.exact_fraction_na);
        assert!(correctness(&answer(&[]), &actual, 0, None).exact_fraction_na);
        let json = serde_json::to_value(&none).unwrap();
        assert_eq!(json["exact_fraction_na"], serde_json::json!(true));
    }
}
