//! `Workload`: a built-in or a spec, resolved from what the user typed, and the final step
//! from merged partials to rows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use master_log::durable::{self, Durability};

use crate::builtin::{BuiltIn, TOP_PAGES};
use crate::error::{Result, WorkloadError};
use crate::partial::Partial;
use crate::scalar::Scalar;
use crate::spec::WorkloadSpec;
use crate::sql::SqlWorkload;
use crate::table::{PartialTable, ResultSet, Row};
use crate::window::{Window, WindowSpec};

/// A query both pipelines answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Workload {
    /// A built-in over a generated dataset.
    BuiltIn(BuiltIn),
    /// A workload defined by a spec file.
    Spec(WorkloadSpec),
    /// A workload written in SQL.
    Sql(Box<SqlWorkload>),
}

/// Whether a file holds SQL: a `.sql` file, or (neither `.sql` nor `.toml`) one whose
/// text starts with SELECT or WITH.
fn is_sql_file(path: &Path) -> Result<bool> {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("sql") => Ok(true),
        Some(e) if e.eq_ignore_ascii_case("toml") => Ok(false),
        _ => {
            let text = std::fs::read_to_string(path).map_err(|e| WorkloadError::Io {
                context: format!("read workload {}", path.display()),
                source: e,
            })?;
            Ok(looks_like_sql(&text))
        }
    }
}

/// Whether text is a query (its first word, after `--` comments, is SELECT or WITH).
fn looks_like_sql(text: &str) -> bool {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("--"))
        .and_then(|l| l.split(|c: char| !c.is_ascii_alphabetic()).next())
        .unwrap_or("");
    first.eq_ignore_ascii_case("select") || first.eq_ignore_ascii_case("with")
}

/// Where registered spec workloads live inside a data directory.
pub fn registry_dir(data: &Path) -> PathBuf {
    data.join("workloads")
}

impl Workload {
    /// Resolve `--workload NAME_OR_PATH`: a built-in name, a spec file or a SQL file
    /// (`.sql`, named by its stem), SQL text (starting with SELECT; named `sql-<hash>`) —
    /// each then registered in `data` under its name — or the name of a registered spec
    /// or query.
    pub fn resolve(name_or_path: &str, data: &Path) -> Result<Workload> {
        if let Ok(b) = name_or_path.parse::<BuiltIn>() {
            return Ok(Workload::BuiltIn(b));
        }
        let path = Path::new(name_or_path);
        if path.is_file() && is_sql_file(path)? {
            let sql = SqlWorkload::from_file(path)?;
            register_sql(&sql, data)?;
            return Ok(Workload::Sql(Box::new(sql)));
        }
        if !path.is_file() && looks_like_sql(name_or_path) {
            let sql = SqlWorkload::from_text(name_or_path)?;
            register_sql(&sql, data)?;
            return Ok(Workload::Sql(Box::new(sql)));
        }
        if path.is_file() {
            let spec = WorkloadSpec::from_file(path)?;
            register(&spec, data)?;
            return Ok(Workload::Spec(spec));
        }
        if master_log::validate_name(name_or_path).is_ok() {
            let registered = registry_dir(data).join(format!("{name_or_path}.toml"));
            if registered.is_file() {
                return Ok(Workload::Spec(WorkloadSpec::from_file(&registered)?));
            }
            let registered = registry_dir(data).join(format!("{name_or_path}.sql"));
            if registered.is_file() {
                let sql = SqlWorkload::from_file(&registered)?;
                return Ok(Workload::Sql(Box::new(sql)));
            }
        }
        Err(WorkloadError::Unknown {
            name: name_or_path.to_owned(),
            builtins: BuiltIn::ALL.map(|b| b.name()).join(", "),
        })
    }

    /// Every workload known in `data`: the built-ins, then registered specs by name.
    pub fn list(data: &Path) -> Result<Vec<Workload>> {
        let mut out: Vec<Workload> = BuiltIn::ALL.into_iter().map(Workload::BuiltIn).collect();
        let dir = registry_dir(data);
        if dir.is_dir() {
            let mut specs: BTreeMap<String, Workload> = BTreeMap::new();
            let entries = std::fs::read_dir(&dir).map_err(|e| WorkloadError::Io {
                context: format!("list {}", dir.display()),
                source: e,
            })?;
            for entry in entries.flatten() {
                let p = entry.path();
                if p.extension().is_some_and(|e| e == "toml") {
                    let spec = WorkloadSpec::from_file(&p)?;
                    specs.insert(spec.name.clone(), Workload::Spec(spec));
                } else if p.extension().is_some_and(|e| e == "sql") {
                    let sql = SqlWorkload::from_file(&p)?;
                    specs
                        .entry(sql.name.clone())
                        .or_insert(Workload::Sql(Box::new(sql)));
                }
            }
            out.extend(specs.into_values());
        }
        Ok(out)
    }

    /// The workload's name.
    pub fn name(&self) -> &str {
        match self {
            Workload::BuiltIn(b) => b.name(),
            Workload::Spec(s) => &s.name,
            Workload::Sql(s) => &s.name,
        }
    }

    /// The topic it reads by default (a spec's topic; a built-in's dataset name).
    pub fn topic(&self) -> &str {
        match self {
            Workload::BuiltIn(b) => b.dataset(),
            Workload::Spec(s) => &s.topic,
            Workload::Sql(s) => &s.topic,
        }
    }

    /// How it groups events in time.
    pub fn window(&self) -> WindowSpec {
        match self {
            Workload::BuiltIn(b) => b.window(),
            Workload::Spec(s) => s.window,
            Workload::Sql(s) => s.window,
        }
    }

    /// Names of its group-by columns.
    pub fn key_columns(&self) -> Vec<String> {
        match self {
            Workload::BuiltIn(b) => b.key_columns(),
            Workload::Spec(s) => s.group_by.clone(),
            Workload::Sql(s) => s.key_names.clone(),
        }
    }

    /// Names of its value columns.
    pub fn value_columns(&self) -> Vec<String> {
        match self {
            Workload::BuiltIn(b) => b.value_columns(),
            Workload::Spec(s) => s.aggregates.iter().map(|a| a.to_string()).collect(),
            Workload::Sql(s) => s.output_names.clone(),
        }
    }

    /// The partials of a new cell.
    pub fn empty_partials(&self) -> Vec<Partial> {
        match self {
            Workload::BuiltIn(b) => b.empty_partials(),
            Workload::Spec(s) => s.aggregates.iter().map(|a| a.empty()).collect(),
            Workload::Sql(s) => s.empty_partials(),
        }
    }

    /// Whether each answer row comes from one cell alone, keyed by that cell's group key:
    /// then the rows of one key are those [`Workload::finish`] makes of that key's cells
    /// only, and a reader asked for one key may drop every other key's cells before
    /// merging and finishing. Not so for a ranking across keys (top pages, the hottest
    /// auction, a SQL window top-N): a key's rank depends on the other keys' cells.
    pub fn answers_each_key_alone(&self) -> bool {
        match self {
            Workload::BuiltIn(b) => !matches!(b, BuiltIn::TopPagesHourly | BuiltIn::NexmarkQ5),
            Workload::Spec(_) => true,
            Workload::Sql(s) => s.top.is_none(),
        }
    }

    /// Turn a table of merged partials into the workload's rows, sorted by window then
    /// key. Session windows are coalesced first; top-K and arg-max are applied here.
    pub fn finish(&self, table: &PartialTable) -> Result<ResultSet> {
        let mut table = table.clone();
        if self.window().is_session() {
            table.coalesce_sessions()?;
        }
        let mut rows: Vec<Row> = match self {
            Workload::Spec(s) => table
                .iter()
                .map(|(w, k, p)| Row {
                    window: *w,
                    key: k.clone(),
                    values: s
                        .aggregates
                        .iter()
                        .zip(p)
                        .map(|(a, p)| a.finish(p))
                        .collect(),
                })
                .collect(),
            Workload::BuiltIn(b) => finish_builtin(*b, &table),
            Workload::Sql(s) => s.finish_rows(&table)?,
        };
        rows.sort();
        Ok(ResultSet {
            key_columns: self.key_columns(),
            value_columns: self.value_columns(),
            rows,
        })
    }
}

fn count_of(p: &[Partial]) -> u64 {
    match p.first() {
        Some(Partial::Count(n)) => *n,
        _ => 0,
    }
}

fn finish_builtin(b: BuiltIn, table: &PartialTable) -> Vec<Row> {
    let simple = |table: &PartialTable| -> Vec<Row> {
        table
            .iter()
            .map(|(w, k, p)| Row {
                window: *w,
                key: k.clone(),
                values: vec![p[0].finish()],
            })
            .collect()
    };
    match b {
        BuiltIn::PageviewsPerMinute | BuiltIn::ProfileViewersHourly | BuiltIn::YsbCampaign10s => {
            simple(table)
        }
        BuiltIn::TopPagesHourly => {
            let mut by_window: BTreeMap<Window, Vec<(u64, &Vec<Scalar>)>> = BTreeMap::new();
            for (w, k, p) in table.iter() {
                by_window.entry(*w).or_default().push((count_of(p), k));
            }
            let mut rows = Vec::new();
            for (w, mut pages) in by_window {
                // Most views first; ties by smaller page id.
                pages.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
                for (rank, (views, key)) in pages.into_iter().take(TOP_PAGES).enumerate() {
                    rows.push(Row {
                        window: w,
                        key: key.clone(),
                        values: vec![Scalar::from(views), Scalar::Int(rank as i64 + 1)],
                    });
                }
            }
            rows
        }
        BuiltIn::NexmarkQ5 => {
            let mut by_window: BTreeMap<Window, Vec<(u64, &Vec<Scalar>)>> = BTreeMap::new();
            for (w, k, p) in table.iter() {
                by_window.entry(*w).or_default().push((count_of(p), k));
            }
            let mut rows = Vec::new();
            for (w, auctions) in by_window {
                let top = auctions.iter().map(|a| a.0).max().unwrap_or(0);
                for (bids, key) in auctions.into_iter().filter(|a| a.0 == top && top > 0) {
                    rows.push(Row {
                        window: w,
                        key: key.clone(),
                        values: vec![Scalar::from(bids)],
                    });
                }
            }
            rows
        }
        BuiltIn::NexmarkQ7 => table
            .iter()
            .filter_map(|(w, k, p)| match &p[0] {
                Partial::MaxBy(Some((price, payload))) => {
                    let mut values = vec![price.clone()];
                    values.extend(payload.iter().cloned());
                    Some(Row {
                        window: *w,
                        key: k.clone(),
                        values,
                    })
                }
                _ => None,
            })
            .collect(),
    }
}

/// Store a spec in the data directory's registry under its name, so that `lk query` and
/// `lk serve` know it by name. Registering the same name again replaces it, atomically
/// for readers and unsynced ([`master_log::durable::write_atomic`] with
/// [`Durability::Unsynced`]: a power cut may lose a registration just made). A spec
/// named like a built-in (ignoring ASCII case) is refused: it would share the built-in's
/// state.
pub fn register(spec: &WorkloadSpec, data: &Path) -> Result<PathBuf> {
    let dir = registry_dir(data);
    if let Some(clash) = crate::spec::builtin_name_clash(&spec.name) {
        return Err(WorkloadError::Spec {
            file: dir.join(format!("{}.toml", spec.name)),
            line: None,
            reason: format!("cannot register: {clash}"),
        });
    }
    std::fs::create_dir_all(&dir).map_err(|e| WorkloadError::Io {
        context: format!("create {}", dir.display()),
        source: e,
    })?;
    let path = dir.join(format!("{}.toml", spec.name));
    durable::write_atomic(&path, spec.to_toml().as_bytes(), Durability::Unsynced).map_err(|e| {
        WorkloadError::Io {
            context: format!("register workload {}", path.display()),
            source: e,
        }
    })?;
    Ok(path)
}

/// Store a SQL workload in the data directory's registry as `<name>.sql` (its text), as
/// [`register`] stores a spec: atomically for readers and unsynced
/// ([`Durability::Unsynced`]). A name of a built-in is refused.
pub fn register_sql(sql: &SqlWorkload, data: &Path) -> Result<PathBuf> {
    let dir = registry_dir(data);
    if let Some(clash) = crate::spec::builtin_name_clash(&sql.name) {
        return Err(WorkloadError::Sql {
            line: 0,
            column: 0,
            message: format!("cannot register: {clash}"),
        });
    }
    std::fs::create_dir_all(&dir).map_err(|e| WorkloadError::Io {
        context: format!("create {}", dir.display()),
        source: e,
    })?;
    let path = dir.join(format!("{}.sql", sql.name));
    durable::write_atomic(&path, sql.text.as_bytes(), Durability::Unsynced).map_err(|e| {
        WorkloadError::Io {
            context: format!("register workload {}", path.display()),
            source: e,
        }
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: i64) -> Window {
        Window {
            start: s,
            end: s + 3_600_000,
        }
    }

    #[test]
    fn resolve_builtin_spec_file_and_registered_name() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Workload::resolve("nexmark-q7", dir.path()).unwrap(),
            Workload::BuiltIn(BuiltIn::NexmarkQ7)
        );
        let spec = dir.path().join("s.toml");
        std::fs::write(
            &spec,
            "name = \"per_zone\"\ntopic = \"trips\"\nwindow = { kind = \"session\", gap = \"5m\" }\ngroup_by = [\"zone\"]\naggregates = [\"count\"]\n",
        )
        .unwrap();
        let from_file = Workload::resolve(spec.to_str().unwrap(), dir.path()).unwrap();
        assert_eq!(from_file.name(), "per_zone");
        let by_name = Workload::resolve("per_zone", dir.path()).unwrap();
        assert_eq!(by_name, from_file);
        assert_eq!(
            Workload::list(dir.path()).unwrap().len(),
            BuiltIn::ALL.len() + 1
        );
        let err = Workload::resolve("nope", dir.path()).unwrap_err();
        assert!(err.to_string().contains("pageviews-per-minute"), "{err}");
    }

    #[test]
    fn a_spec_named_like_a_builtin_is_not_registered() {
        let dir = tempfile::tempdir().unwrap();
        let text = "name = \"per_zone\"\ntopic = \"trips\"\nwindow = { kind = \"session\", gap = \"5m\" }\naggregates = [\"count\"]\n";
        let mut spec = WorkloadSpec::parse(text, Path::new("s.toml")).unwrap();
        spec.name = "nexmark-q5".into();
        let err = register(&spec, dir.path()).unwrap_err();
        assert!(err.to_string().contains("built-in workload"), "{err}");
        assert!(!registry_dir(dir.path()).join("nexmark-q5.toml").exists());
        // Nor through a spec file given to `--workload`.
        let file = dir.path().join("s.toml");
        std::fs::write(&file, text.replace("per_zone", "Nexmark-Q5")).unwrap();
        let err = Workload::resolve(file.to_str().unwrap(), dir.path()).unwrap_err();
        assert!(err.to_string().contains("built-in workload"), "{err}");
        assert!(Workload::list(dir.path()).unwrap().len() == BuiltIn::ALL.len());
    }

    #[test]
    fn top_pages_ranks_after_merging() {
        let wl = Workload::BuiltIn(BuiltIn::TopPagesHourly);
        let mut t = PartialTable::new();
        for page in 0..15i64 {
            // Page p has (p % 12) views; ties broken by smaller page id.
            t.cell_mut(w(0), vec![Scalar::Int(page)], || {
                vec![Partial::Count((page % 12) as u64)]
            });
        }
        let rs = wl.finish(&t).unwrap();
        assert_eq!(rs.rows.len(), TOP_PAGES);
        let mut ranked: Vec<(i64, i64, i64)> = rs
            .rows
            .iter()
            .map(|r| match (&r.key[0], &r.values[0], &r.values[1]) {
                (Scalar::Int(p), Scalar::Int(v), Scalar::Int(k)) => (*k, *p, *v),
                other => panic!("{other:?}"),
            })
            .collect();
        ranked.sort();
        assert_eq!(
            &ranked[..4],
            &[(1, 11, 11), (2, 10, 10), (3, 9, 9), (4, 8, 8)]
        );
        // Pages 2 and 14 tie with 2 views for the last place: the smaller id wins.
        assert_eq!(ranked[8], (9, 3, 3));
        assert_eq!(ranked[9], (10, 2, 2));
    }

    #[test]
    fn q5_lists_every_auction_tied_for_most_bids() {
        let wl = Workload::BuiltIn(BuiltIn::NexmarkQ5);
        let mut t = PartialTable::new();
        for (a, n) in [(1, 3), (2, 5), (3, 5)] {
            t.cell_mut(w(0), vec![Scalar::Int(a)], || vec![Partial::Count(n)]);
        }
        let keys: Vec<_> = wl
            .finish(&t)
            .unwrap()
            .rows
            .into_iter()
            .map(|r| r.key[0].clone())
            .collect();
        assert_eq!(keys, vec![Scalar::Int(2), Scalar::Int(3)]);
    }

    /// A table of 15 keys in two windows, key `k` with a partial that grows with `k % 12`.
    fn keyed_table(wl: &Workload) -> PartialTable {
        let mut t = PartialTable::new();
        for start in [0, 3_600_000] {
            for k in 0..15i64 {
                let n = (k % 12) as u64 + 1;
                let partial = match wl.empty_partials()[0] {
                    Partial::Count(_) => Partial::Count(n),
                    Partial::Distinct(_) => {
                        Partial::Distinct((0..n).map(|i| Scalar::Int(i as i64)).collect())
                    }
                    Partial::MaxBy(_) => {
                        Partial::MaxBy(Some((Scalar::Int(n as i64), vec![Scalar::Int(k)])))
                    }
                    ref other => panic!("no test partial for {other:?}"),
                };
                t.cell_mut(w(start), vec![Scalar::Int(k)], || vec![partial]);
            }
        }
        t
    }

    /// For every built-in: finishing one key's cells gives that key's rows of the whole
    /// answer exactly when `answers_each_key_alone` says so (and a ranking across keys
    /// answers differently for one key alone).
    #[test]
    fn one_keys_cells_give_its_rows_exactly_when_each_key_is_answered_alone() {
        for b in BuiltIn::ALL {
            let wl = Workload::BuiltIn(b);
            let all = keyed_table(&wl);
            let whole = wl.finish(&all).unwrap();
            let mut same = true;
            for k in 0..15i64 {
                let key = vec![Scalar::Int(k)];
                let mut alone = all.clone();
                alone.retain_keys(|c| *c == key);
                let want: Vec<Row> = whole
                    .rows
                    .iter()
                    .filter(|r| r.key == key)
                    .cloned()
                    .collect();
                same &= wl.finish(&alone).unwrap().rows == want;
            }
            assert_eq!(same, wl.answers_each_key_alone(), "{b}");
        }
    }
}
