//! `lk workloads`: every workload both pipelines can run — the built-ins and the specs
//! registered in the data directory — with its definition: the topic it reads, its
//! window, its key columns, its aggregates and its filter.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use workloads::{BuiltIn, WindowSpec, Workload};

/// How `lk workloads` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    /// Aligned columns.
    #[value(alias = "table")]
    Text,
    /// A JSON array, one object per workload.
    Json,
}

/// The flags of `lk workloads`.
#[derive(Debug, Args)]
pub struct WorkloadsArgs {
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    format: ListFormat,
}

/// One workload's definition, as listed.
#[derive(Debug, Clone)]
pub struct Definition {
    /// Its name (`--workload NAME`).
    pub name: String,
    /// `built-in`, `spec` or `sql`.
    pub kind: &'static str,
    /// The topic it reads by default.
    pub topic: String,
    /// Its window, in words (`tumbling 1m`, `hopping 10s every 2s`, `session gap 30s`).
    pub window: String,
    /// Its window as data.
    pub window_spec: WindowSpec,
    /// Its group-by columns.
    pub key_columns: Vec<String>,
    /// Its value columns, each with the aggregate that makes it (`views = count`).
    pub aggregates: Vec<String>,
    /// Which events count (`page_type = 'profile'`), if not all.
    pub filter: Option<String>,
    /// What it answers, for a built-in.
    pub description: Option<&'static str>,
    /// The query, for a SQL workload.
    pub sql: Option<String>,
}

/// `1m`, `10s`, `1h 30m`: a window length as the flags take it.
fn length(ms: i64) -> String {
    humantime::format_duration(Duration::from_millis(ms.max(0) as u64)).to_string()
}

/// A window spec in words.
pub fn window_text(w: &WindowSpec) -> String {
    match *w {
        WindowSpec::Tumbling { size_ms } => format!("tumbling {}", length(size_ms)),
        WindowSpec::Hopping { size_ms, slide_ms } => {
            format!("hopping {} every {}", length(size_ms), length(slide_ms))
        }
        WindowSpec::Session { gap_ms } => format!("session gap {}", length(gap_ms)),
    }
}

/// A built-in's aggregates (value columns with what makes them), filter and description.
fn builtin_parts(b: BuiltIn) -> (Vec<&'static str>, Option<&'static str>, &'static str) {
    match b {
        BuiltIn::PageviewsPerMinute => (vec!["views = count"], None, "views per page per minute"),
        BuiltIn::ProfileViewersHourly => (
            vec!["distinct_viewers = count_distinct(viewer_id)"],
            Some("page_type = 'profile'"),
            "distinct viewers per profile per hour: \"who viewed my profile\"",
        ),
        BuiltIn::TopPagesHourly => (
            vec!["views = count", "rank (top 10 by views)"],
            None,
            "the 10 most viewed pages of each hour",
        ),
        BuiltIn::YsbCampaign10s => (
            vec!["views = count"],
            Some("event_type = 'view'"),
            "Yahoo Streaming Benchmark: ad views per campaign (each ad joined to its \
             campaign) per 10 s",
        ),
        BuiltIn::NexmarkQ5 => (
            vec!["bids = count (the top auctions only)"],
            Some("bids"),
            "NEXMark Q5, hot items: the auctions with the most bids per sliding window",
        ),
        BuiltIn::NexmarkQ7 => (
            vec!["price = max(price)", "auction, bidder of that bid"],
            Some("bids"),
            "NEXMark Q7: the highest bid of each 10 s window",
        ),
    }
}

/// The definition of `w`.
pub fn definition(w: &Workload) -> Definition {
    let window_spec = w.window();
    let base = Definition {
        name: w.name().to_owned(),
        kind: "spec",
        topic: w.topic().to_owned(),
        window: window_text(&window_spec),
        window_spec,
        key_columns: w.key_columns(),
        aggregates: Vec::new(),
        filter: None,
        description: None,
        sql: None,
    };
    match w {
        Workload::BuiltIn(b) => {
            let (aggregates, filter, description) = builtin_parts(*b);
            Definition {
                kind: "built-in",
                aggregates: aggregates.into_iter().map(str::to_owned).collect(),
                filter: filter.map(str::to_owned),
                description: Some(description),
                ..base
            }
        }
        Workload::Spec(s) => Definition {
            aggregates: s.aggregates.iter().map(|a| a.to_string()).collect(),
            filter: s.filter_text.clone(),
            ..base
        },
        Workload::Sql(q) => Definition {
            kind: "sql",
            aggregates: q.output_names.clone(),
            filter: q
                .filter
                .as_ref()
                .map(|_| "WHERE (see the query)".to_owned()),
            sql: Some(q.text.trim().to_owned()),
            ..base
        },
    }
}

/// The definitions as aligned columns.
fn table(defs: &[Definition]) -> String {
    let head = [
        "NAME",
        "KIND",
        "TOPIC",
        "WINDOW",
        "KEY",
        "AGGREGATES",
        "FILTER",
    ];
    let rows: Vec<[String; 7]> = defs
        .iter()
        .map(|d| {
            [
                d.name.clone(),
                d.kind.to_owned(),
                d.topic.clone(),
                d.window.clone(),
                if d.key_columns.is_empty() {
                    "(none)".to_owned()
                } else {
                    d.key_columns.join(", ")
                },
                d.aggregates.join("; "),
                d.filter.clone().unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    let rows: Vec<[&str; 7]> = rows
        .iter()
        .map(|r| std::array::from_fn(|i| r[i].as_str()))
        .collect();
    let lines: Vec<&[&str]> = std::iter::once(&head[..])
        .chain(rows.iter().map(|r| &r[..]))
        .collect();
    let mut out = serving_layer::aligned_columns(&lines);
    for d in defs {
        if let Some(text) = d.description {
            out.push_str(&format!("\n{}: {text}", d.name));
        }
        if let Some(sql) = &d.sql {
            out.push_str(&format!("\n{}:\n{sql}\n", d.name));
        }
    }
    out.push('\n');
    out
}

/// A definition as a JSON object.
fn json(d: &Definition) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::json!({
        "name": d.name,
        "kind": d.kind,
        "topic": d.topic,
        "window": d.window,
        "window_spec": serde_json::to_value(d.window_spec)?,
        "key_columns": d.key_columns,
        "aggregates": d.aggregates,
        "filter": d.filter,
        "description": d.description,
        "sql": d.sql,
    }))
}

/// `lk workloads`.
pub fn run(a: WorkloadsArgs, data: &Path) -> anyhow::Result<ExitCode> {
    let defs: Vec<Definition> = Workload::list(data)?.iter().map(definition).collect();
    match a.format {
        ListFormat::Text => print!("{}", table(&defs)),
        ListFormat::Json => {
            let list = defs.iter().map(json).collect::<anyhow::Result<Vec<_>>>()?;
            println!("{}", serde_json::to_string_pretty(&list)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_in_words() {
        assert_eq!(
            window_text(&WindowSpec::Tumbling { size_ms: 60_000 }),
            "tumbling 1m"
        );
        assert_eq!(
            window_text(&WindowSpec::Hopping {
                size_ms: 10_000,
                slide_ms: 2_000
            }),
            "hopping 10s every 2s"
        );
        assert_eq!(
            window_text(&WindowSpec::Session { gap_ms: 5_400_000 }),
            "session gap 1h 30m"
        );
    }
}
