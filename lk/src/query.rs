//! `lk query`: a workload's answer from one pipeline's views, with their freshness — or
//! both pipelines' answers side by side (`--pipeline both`), with the rows where they
//! differ marked.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use master_log::Log;
use serving_layer::{Answer, Freshness};
use workloads::{GroupKey, ResultSet, Row, Scalar, Window, Workload};

use crate::answers::{WorkloadArgs, kappa_answer, lambda_snapshot};
use crate::text;

/// Which pipeline's views a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Pipeline {
    /// Lambda's batch view merged with its realtime view.
    Lambda,
    /// Kappa's serving table.
    Kappa,
    /// Both, side by side, with the rows where they differ marked.
    Both,
}

/// How `lk query` prints the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QueryFormat {
    /// Aligned columns.
    #[value(alias = "table")]
    Text,
    /// CSV with a header.
    Csv,
    /// JSON: columns, rows and freshness.
    Json,
}

/// The flags of `lk query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    w: WorkloadArgs,
    /// Which pipeline's views to read.
    #[arg(long, value_enum, default_value_t = Pipeline::Lambda)]
    pipeline: Pipeline,
    /// Only this key (the group-by values joined by commas).
    #[arg(long)]
    key: Option<String>,
    /// Only windows ending after this RFC 3339 time.
    #[arg(long = "from-time", alias = "from", value_name = "RFC3339")]
    from: Option<String>,
    /// Only windows starting before this RFC 3339 time.
    #[arg(long = "to-time", alias = "to", value_name = "RFC3339")]
    to: Option<String>,
    /// Output format (with --pipeline both, csv and json carry both values of every
    /// column and a `differs` flag per row).
    #[arg(long, value_enum, default_value_t = QueryFormat::Text)]
    format: QueryFormat,
}

/// `lk query`.
pub fn query(a: QueryArgs, data: &Path, log: Arc<dyn Log>) -> anyhow::Result<ExitCode> {
    let workload = Workload::resolve(&a.w.workload, data)?;
    let time = |s: &Option<String>| s.as_deref().map(text::parse_rfc3339).transpose();
    let q = serving_layer::Query {
        key: a.key.clone(),
        from_ms: time(&a.from)?,
        to_ms: time(&a.to)?,
    };
    let answer_of = |p: Pipeline| match p {
        Pipeline::Kappa => kappa(data, &workload, &a.w, log.as_ref(), &q),
        _ => lambda(data, &workload, &a.w, log.as_ref(), &q),
    };
    if a.pipeline == Pipeline::Both {
        let both = SideBySide::new(answer_of(Pipeline::Lambda)?, answer_of(Pipeline::Kappa)?);
        print!("{}", both.render(a.format));
        return Ok(ExitCode::SUCCESS);
    }
    let answer = answer_of(a.pipeline)?;
    let format = match a.format {
        QueryFormat::Text => serving_layer::Format::Table,
        QueryFormat::Csv => serving_layer::Format::Csv,
        QueryFormat::Json => serving_layer::Format::Json,
    };
    print!("{}", serving_layer::render(&answer, format));
    Ok(ExitCode::SUCCESS)
}

/// Lambda's answer (its batch view merged with its realtime view).
fn lambda(
    data: &Path,
    workload: &Workload,
    w: &WorkloadArgs,
    log: &dyn Log,
    q: &serving_layer::Query,
) -> anyhow::Result<Answer> {
    let Some(snapshot) = lambda_snapshot(data, workload, w.topic.as_deref(), log, None)? else {
        anyhow::bail!(
            "workload {} has no Lambda views yet: run `lk lambda run --workload {}` (or `lk lambda batch` / `lk lambda speed`) first",
            workload.name(),
            w.workload
        );
    };
    Ok(snapshot.answer(workload, q)?)
}

/// Kappa's answer (its serving table).
fn kappa(
    data: &Path,
    workload: &Workload,
    w: &WorkloadArgs,
    log: &dyn Log,
    q: &serving_layer::Query,
) -> anyhow::Result<Answer> {
    let Some(answer) = kappa_answer(data, workload, log, q)? else {
        anyhow::bail!(
            "workload {} has no Kappa table yet: run `lk kappa run --workload {}` first",
            workload.name(),
            w.workload
        );
    };
    Ok(answer)
}

/// One (window, key) cell of both answers.
#[derive(Debug, Clone, PartialEq)]
pub struct PairRow {
    /// The row's window.
    pub window: Window,
    /// The group-by values.
    pub key: GroupKey,
    /// Lambda's values, if its answer has the cell.
    pub lambda: Option<Vec<Scalar>>,
    /// Kappa's values, if its answer has the cell.
    pub kappa: Option<Vec<Scalar>>,
    /// The cell is in one answer only, or its values differ (floats beyond the
    /// workloads' tolerance, as `workloads::compare` decides).
    pub differs: bool,
}

/// Lambda's and Kappa's answers to one query, cell by cell.
#[derive(Debug, Clone)]
pub struct SideBySide {
    key_columns: Vec<String>,
    value_columns: Vec<String>,
    /// Every cell of either answer, by window then key.
    pub rows: Vec<PairRow>,
    lambda: Freshness,
    kappa: Freshness,
}

/// Whether two rows of one cell hold the same values, as `workloads::compare` decides.
fn same_values(key_columns: &[String], value_columns: &[String], a: &Row, b: &Row) -> bool {
    let one = |r: &Row| ResultSet {
        key_columns: key_columns.to_vec(),
        value_columns: value_columns.to_vec(),
        rows: vec![r.clone()],
    };
    workloads::compare(&one(a), &one(b)).is_exact()
}

impl SideBySide {
    /// Pair the cells of Lambda's answer `lambda` with those of Kappa's `kappa`.
    pub fn new(lambda: Answer, kappa: Answer) -> SideBySide {
        let (kc, vc) = (
            lambda.result.key_columns.clone(),
            lambda.result.value_columns.clone(),
        );
        let mut cells: BTreeMap<(Window, GroupKey), (Option<Row>, Option<Row>)> = BTreeMap::new();
        for r in lambda.result.rows {
            let cell = (r.window, r.key.clone());
            cells.entry(cell).or_default().0 = Some(r);
        }
        for r in kappa.result.rows {
            let cell = (r.window, r.key.clone());
            cells.entry(cell).or_default().1 = Some(r);
        }
        let rows = cells
            .into_iter()
            .map(|((window, key), (l, k))| PairRow {
                differs: match (&l, &k) {
                    (Some(l), Some(k)) => !same_values(&kc, &vc, l, k),
                    _ => true,
                },
                window,
                key,
                lambda: l.map(|r| r.values),
                kappa: k.map(|r| r.values),
            })
            .collect();
        SideBySide {
            key_columns: kc,
            value_columns: vc,
            rows,
            lambda: lambda.freshness,
            kappa: kappa.freshness,
        }
    }

    /// Rows that differ.
    pub fn differing(&self) -> usize {
        self.rows.iter().filter(|r| r.differs).count()
    }

    /// The header: window, key columns, then each value column for Lambda and Kappa
    /// (`NAME (Lambda)`, `NAME (Kappa)`; `lambda_NAME`, `kappa_NAME` for CSV), then
    /// `differs`.
    fn header(&self, csv: bool) -> Vec<String> {
        let mut h = vec!["window_start".to_owned(), "window_end".to_owned()];
        h.extend(self.key_columns.iter().cloned());
        for c in &self.value_columns {
            if csv {
                h.push(format!("lambda_{c}"));
                h.push(format!("kappa_{c}"));
            } else {
                h.push(format!("{c} (Lambda)"));
                h.push(format!("{c} (Kappa)"));
            }
        }
        h.push("differs".to_owned());
        h
    }

    /// A row's fields as text: an absent value is `absent` (empty in CSV).
    fn fields(&self, r: &PairRow, csv: bool) -> Vec<String> {
        let mut c = vec![
            text::rfc3339_ms(r.window.start),
            text::rfc3339_ms(r.window.end),
        ];
        c.extend(r.key.iter().map(|v| v.to_string()));
        let absent = if csv { "" } else { "absent" };
        for i in 0..self.value_columns.len() {
            for side in [&r.lambda, &r.kappa] {
                c.push(
                    side.as_ref()
                        .and_then(|v| v.get(i))
                        .map_or_else(|| absent.to_owned(), |v| v.to_string()),
                );
            }
        }
        c.push(match (csv, r.differs) {
            (true, d) => d.to_string(),
            (false, true) => "DIFFERS".to_owned(),
            (false, false) => String::new(),
        });
        c
    }

    /// The two answers in `format`.
    pub fn render(&self, format: QueryFormat) -> String {
        match format {
            QueryFormat::Text => self.table(),
            QueryFormat::Csv => self.csv(),
            QueryFormat::Json => self.json(),
        }
    }

    fn table(&self) -> String {
        let head = self.header(false);
        let rows: Vec<Vec<String>> = self.rows.iter().map(|r| self.fields(r, false)).collect();
        let lines: Vec<&[String]> = std::iter::once(head.as_slice())
            .chain(rows.iter().map(Vec::as_slice))
            .collect();
        let mut out = serving_layer::aligned_columns(&lines);
        let _ = writeln!(
            out,
            "{}, {} differ{}",
            text::count(rows.len() as u64, "row"),
            self.differing(),
            if self.differing() == 1 { "s" } else { "" }
        );
        for (name, f) in [("Lambda", &self.lambda), ("Kappa", &self.kappa)] {
            let _ = writeln!(out, "{name}: {}", freshness_text(f));
        }
        out
    }

    fn csv(&self) -> String {
        let line = |cols: Vec<String>| {
            cols.iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(",")
                + "\n"
        };
        let mut out = line(self.header(true));
        for r in &self.rows {
            out.push_str(&line(self.fields(r, true)));
        }
        out
    }

    fn json(&self) -> String {
        let values = |v: &Option<Vec<Scalar>>| match v {
            None => serde_json::Value::Null,
            Some(v) => serde_json::Value::Object(
                self.value_columns
                    .iter()
                    .zip(v)
                    .map(|(n, v)| (n.clone(), v.to_json()))
                    .collect(),
            ),
        };
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                let mut o = serde_json::Map::new();
                o.insert(
                    "window_start".into(),
                    text::rfc3339_ms(r.window.start).into(),
                );
                o.insert("window_end".into(), text::rfc3339_ms(r.window.end).into());
                for (name, v) in self.key_columns.iter().zip(&r.key) {
                    o.insert(name.clone(), v.to_json());
                }
                o.insert("lambda".into(), values(&r.lambda));
                o.insert("kappa".into(), values(&r.kappa));
                o.insert("differs".into(), r.differs.into());
                serde_json::Value::Object(o)
            })
            .collect();
        let doc = serde_json::json!({
            "key_columns": self.key_columns,
            "value_columns": self.value_columns,
            "rows": rows,
            "differing_rows": self.differing(),
            "freshness": { "lambda": self.lambda, "kappa": self.kappa },
        });
        doc.to_string() + "\n"
    }
}

/// How fresh an answer is, in words.
fn freshness_text(f: &Freshness) -> String {
    let mut s = format!(
        "served up to offsets {} of head {} (lag {})",
        text::join(&f.served_positions),
        text::join(&f.head),
        text::count(f.lag_records, "record")
    );
    if let Some(h) = &f.batch_horizon {
        let _ = write!(
            s,
            "; batch horizon {} ({})",
            text::join(h),
            text::count(f.batch_records, "record")
        );
    }
    s
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(rows: &[(i64, i64, Scalar)]) -> Answer {
        Answer {
            result: ResultSet {
                key_columns: vec!["page_id".into()],
                value_columns: vec!["views".into()],
                rows: rows
                    .iter()
                    .map(|(start, key, v)| Row {
                        window: Window {
                            start: *start,
                            end: start + 60_000,
                        },
                        key: vec![Scalar::Int(*key)],
                        values: vec![v.clone()],
                    })
                    .collect(),
            },
            freshness: Freshness {
                batch_horizon: None,
                batch_records: 0,
                served_positions: vec![3],
                head: vec![3],
                lag_records: 0,
            },
        }
    }

    #[test]
    fn cells_pair_up_and_differences_are_marked() {
        let l = answer(&[(0, 1, Scalar::Int(3)), (0, 2, Scalar::Int(5))]);
        let k = answer(&[
            (0, 1, Scalar::Int(3)),
            (0, 2, Scalar::Int(4)),
            (60_000, 1, Scalar::Int(1)),
        ]);
        let both = SideBySide::new(l, k);
        let differs: Vec<bool> = both.rows.iter().map(|r| r.differs).collect();
        assert_eq!(differs, [false, true, true]);
        assert_eq!(both.differing(), 2);
        let csv = both.render(QueryFormat::Csv);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "window_start,window_end,page_id,lambda_views,kappa_views,differs"
        );
        assert!(lines[1].ends_with(",1,3,3,false"), "{csv}");
        assert!(lines[2].ends_with(",2,5,4,true"), "{csv}");
        assert!(lines[3].ends_with(",1,,1,true"), "{csv}");
        let json: serde_json::Value =
            serde_json::from_str(&both.render(QueryFormat::Json)).unwrap();
        assert_eq!(json["differing_rows"], 2);
        assert_eq!(json["rows"][2]["lambda"], serde_json::Value::Null);
        assert_eq!(json["rows"][1]["kappa"]["views"], 4);
        let table = both.render(QueryFormat::Text);
        assert_eq!(table.matches("DIFFERS").count(), 2, "{table}");
        assert!(table.contains("3 rows, 2 differ"), "{table}");
    }

    #[test]
    fn floats_within_the_tolerance_agree() {
        let l = answer(&[(0, 1, Scalar::Float(0.1 + 0.2))]);
        let k = answer(&[(0, 1, Scalar::Float(0.3))]);
        assert_eq!(SideBySide::new(l, k).differing(), 0);
    }
}
