//! Declarative workloads: a TOML spec file for any topic.
//!
//! ```toml
//! name = "fares_by_zone"
//! topic = "trips"
//! window = { kind = "tumbling", size = "1h" }   # or hopping {size, slide}, session {gap}
//! group_by = ["pickup_zone"]
//! aggregates = ["count", "avg(fare)", "max(fare)", "count_distinct(driver_id)"]
//! filter = "fare > 0"                            # optional
//! ```
//!
//! Checks beyond the syntax: the name is a valid log name and not a built-in workload's
//! (compared ignoring ASCII case: a spec must never share a built-in's state); every window
//! duration (size, slide, gap) is a whole number of milliseconds between
//! 1 ms and 366 days (both included); a hopping window's slide is at
//! most its size, with at most 1000 windows overlapping.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::builtin::BuiltIn;
use crate::error::{Result, WorkloadError};
use crate::filter::Filter;
use crate::partial::Aggregate;
use crate::window::WindowSpec;

/// The shortest window size, slide or session gap a spec may ask for, ms.
pub(crate) const MIN_WINDOW_MS: i64 = 1;

/// The longest window size, slide or session gap a spec may ask for, ms (366 days: a
/// year of any calendar fits one window; longer ones are mistakes, and far longer ones
/// overflow the arithmetic of event times).
pub(crate) const MAX_WINDOW_MS: i64 = 366 * 24 * 3_600_000;

/// Why `name` cannot name a spec workload: it is a built-in's (ignoring ASCII case, so
/// that no two workloads share state files on a case-insensitive file system either).
pub(crate) fn builtin_name_clash(name: &str) -> Option<String> {
    BuiltIn::ALL
        .into_iter()
        .find(|b| b.name().eq_ignore_ascii_case(name))
        .map(|b| {
            format!(
                "{name:?} is the name of the built-in workload {:?}: give the spec another name",
                b.name()
            )
        })
}

/// A window duration of a spec in ms, checked: a whole number of milliseconds within
/// `MIN_WINDOW_MS..=MAX_WINDOW_MS`.
fn window_ms(field: &str, text: &str) -> std::result::Result<i64, String> {
    let d = master_log::parse_duration(text).map_err(|e| format!("{field}: {e}"))?;
    let range = "a window's size, slide and gap must be between 1ms and 366 days";
    if d.subsec_nanos() % 1_000_000 != 0 {
        return Err(format!(
            "{field} {text:?} is not a whole number of milliseconds ({range})"
        ));
    }
    match i64::try_from(d.as_millis()) {
        Ok(ms) if (MIN_WINDOW_MS..=MAX_WINDOW_MS).contains(&ms) => Ok(ms),
        _ if d.as_millis() < MIN_WINDOW_MS as u128 => {
            Err(format!("{field} {text:?} is too short ({range})"))
        }
        _ => Err(format!("{field} {text:?} is too long ({range})")),
    }
}

/// A workload defined by a spec file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadSpec {
    /// The workload's name (also its name in the registry).
    pub name: String,
    /// The topic it reads.
    pub topic: String,
    /// How it groups events in time.
    pub window: WindowSpec,
    /// The group-by columns.
    pub group_by: Vec<String>,
    /// The aggregates, one value column each.
    pub aggregates: Vec<Aggregate>,
    /// Only rows for which this is true count.
    pub filter: Option<Filter>,
    /// The filter as written, for display.
    pub filter_text: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: String,
    topic: String,
    window: RawWindow,
    #[serde(default)]
    group_by: Vec<String>,
    aggregates: Vec<String>,
    filter: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    kind: String,
    size: Option<String>,
    slide: Option<String>,
    gap: Option<String>,
}

impl WorkloadSpec {
    /// Read and check a spec file.
    pub fn from_file(path: &Path) -> Result<WorkloadSpec> {
        let text = std::fs::read_to_string(path).map_err(|e| WorkloadError::Io {
            context: format!("read workload spec {}", path.display()),
            source: e,
        })?;
        Self::parse(&text, path)
    }

    /// Parse and check spec text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<WorkloadSpec> {
        let err = |line: Option<usize>, reason: String| WorkloadError::Spec {
            file: path.to_path_buf(),
            line,
            reason,
        };
        let raw: RawSpec = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            err(line, e.message().to_owned())
        })?;
        let line_of = |needle: &str| {
            text.lines()
                .position(|l| l.trim_start().starts_with(needle))
                .map(|i| i + 1)
        };
        master_log::validate_name(&raw.name)
            .map_err(|e| err(line_of("name"), format!("name: {e}")))?;
        if let Some(clash) = builtin_name_clash(&raw.name) {
            return Err(err(line_of("name"), format!("name: {clash}")));
        }
        master_log::validate_name(&raw.topic)
            .map_err(|e| err(line_of("topic"), format!("topic: {e}")))?;
        let wline = line_of("window");
        let dur = |field: &str, v: &Option<String>| -> Result<i64> {
            let s = v.as_deref().ok_or_else(|| {
                err(
                    wline,
                    format!("a {} window needs `{field}`", raw.window.kind),
                )
            })?;
            window_ms(field, s).map_err(|r| err(wline, r))
        };
        let window = match raw.window.kind.as_str() {
            "tumbling" => WindowSpec::Tumbling {
                size_ms: dur("size", &raw.window.size)?,
            },
            "hopping" | "sliding" => WindowSpec::Hopping {
                size_ms: dur("size", &raw.window.size)?,
                slide_ms: dur("slide", &raw.window.slide)?,
            },
            "session" => WindowSpec::Session {
                gap_ms: dur("gap", &raw.window.gap)?,
            },
            other => {
                return Err(err(
                    wline,
                    format!("window kind {other:?}: expected tumbling, hopping or session"),
                ));
            }
        };
        window.validate().map_err(|r| err(wline, r))?;
        if raw.aggregates.is_empty() {
            return Err(err(
                line_of("aggregates"),
                "at least one aggregate is needed".into(),
            ));
        }
        let aggregates = raw
            .aggregates
            .iter()
            .map(|a| Aggregate::parse(a).map_err(|r| err(line_of("aggregates"), r)))
            .collect::<Result<Vec<_>>>()?;
        let filter = match &raw.filter {
            Some(f) => Some(Filter::parse(f).map_err(|e| err(line_of("filter"), e.to_string()))?),
            None => None,
        };
        let mut seen = std::collections::BTreeSet::new();
        for c in &raw.group_by {
            if !seen.insert(c) {
                return Err(err(
                    line_of("group_by"),
                    format!("column {c:?} is grouped twice"),
                ));
            }
        }
        Ok(WorkloadSpec {
            name: raw.name,
            topic: raw.topic,
            window,
            group_by: raw.group_by,
            aggregates,
            filter,
            filter_text: raw.filter,
        })
    }

    /// Every column the workload reads.
    pub fn columns(&self) -> Vec<&str> {
        let mut cols: Vec<&str> = self.group_by.iter().map(String::as_str).collect();
        cols.extend(self.aggregates.iter().filter_map(Aggregate::column));
        if let Some(f) = &self.filter {
            cols.extend(f.columns());
        }
        let mut seen = std::collections::BTreeSet::new();
        cols.retain(|c| seen.insert(*c));
        cols
    }

    /// Check that every column the workload reads is one of `available`.
    pub fn check_columns(&self, available: &[&str]) -> Result<()> {
        for c in self.columns() {
            if !available.contains(&c) {
                return Err(WorkloadError::UnknownColumn {
                    topic: self.topic.clone(),
                    column: c.to_owned(),
                    available: available.join(", "),
                });
            }
        }
        Ok(())
    }

    /// The spec as TOML text again (for the registry).
    pub fn to_toml(&self) -> String {
        let dur = |ms: i64| format!("{ms}ms");
        let window = match self.window {
            WindowSpec::Tumbling { size_ms } => {
                format!("{{ kind = \"tumbling\", size = \"{}\" }}", dur(size_ms))
            }
            WindowSpec::Hopping { size_ms, slide_ms } => format!(
                "{{ kind = \"hopping\", size = \"{}\", slide = \"{}\" }}",
                dur(size_ms),
                dur(slide_ms)
            ),
            WindowSpec::Session { gap_ms } => {
                format!("{{ kind = \"session\", gap = \"{}\" }}", dur(gap_ms))
            }
        };
        let list = |v: Vec<String>| {
            let items: Vec<String> = v
                .iter()
                .map(|s| toml::Value::String(s.clone()).to_string())
                .collect();
            format!("[{}]", items.join(", "))
        };
        let mut out = format!(
            "name = {}\ntopic = {}\nwindow = {window}\ngroup_by = {}\naggregates = {}\n",
            toml::Value::String(self.name.clone()),
            toml::Value::String(self.topic.clone()),
            list(self.group_by.clone()),
            list(self.aggregates.iter().map(|a| a.to_string()).collect()),
        );
        if let Some(f) = &self.filter_text {
            out.push_str(&format!("filter = {}\n", toml::Value::String(f.clone())));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FARES: &str = r#"
name = "fares_by_zone"
topic = "trips"
window = { kind = "tumbling", size = "1h" }
group_by = ["pickup_zone"]
aggregates = ["count", "avg(fare)", "max(fare)", "count_distinct(driver_id)"]
filter = "fare > 0"
"#;

    #[test]
    fn parses_the_documented_example() {
        let s = WorkloadSpec::parse(FARES, Path::new("f.toml")).unwrap();
        assert_eq!(s.name, "fares_by_zone");
        assert_eq!(s.window, WindowSpec::Tumbling { size_ms: 3_600_000 });
        assert_eq!(s.aggregates.len(), 4);
        assert_eq!(s.columns(), vec!["pickup_zone", "fare", "driver_id"]);
        let again = WorkloadSpec::parse(&s.to_toml(), Path::new("g.toml")).unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            (FARES.replace("tumbling", "wobbly"), 4, "window kind"),
            (FARES.replace("\"1h\"", "\"an hour\""), 4, "size"),
            (
                FARES.replace("avg(fare)", "median(fare)"),
                6,
                "unknown function",
            ),
            (FARES.replace("fare > 0", "fare >"), 7, "filter"),
            (FARES.replace("trips", "../trips"), 3, "topic"),
            (FARES.replace("group_by", "groupby"), 5, "unknown field"),
            (
                FARES.replace("[\"pickup_zone\"]", "[\"a\", \"a\"]"),
                5,
                "twice",
            ),
        ];
        for (text, line, needle) in cases {
            match WorkloadSpec::parse(&text, Path::new("f.toml")) {
                Err(e @ WorkloadError::Spec { .. }) => {
                    let msg = e.to_string();
                    assert!(msg.contains(&format!("line {line}")), "{msg}");
                    assert!(msg.contains(needle), "{msg}");
                }
                other => panic!("{needle}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_builtin_name_is_refused_in_any_case() {
        for name in ["nexmark-q5", "Pageviews-Per-Minute", "YSB-CAMPAIGN-10S"] {
            let text = FARES.replace("fares_by_zone", name);
            let e = WorkloadSpec::parse(&text, Path::new("f.toml")).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains("line 2") && msg.contains("built-in workload"),
                "{msg}"
            );
        }
        // A name that only contains a built-in's is fine.
        let text = FARES.replace("fares_by_zone", "nexmark-q5-by-zone");
        WorkloadSpec::parse(&text, Path::new("f.toml")).unwrap();
    }

    #[test]
    fn window_durations_are_range_checked() {
        let window = |w: &str| FARES.replace("{ kind = \"tumbling\", size = \"1h\" }", w);
        for (w, needle) in [
            (r#"{ kind = "tumbling", size = "367days" }"#, "too long"),
            (r#"{ kind = "tumbling", size = "100000000000y" }"#, "size"),
            (r#"{ kind = "tumbling", size = "0s" }"#, "too short"),
            (r#"{ kind = "tumbling", size = "999us" }"#, "whole number"),
            (r#"{ kind = "tumbling", size = "1500us" }"#, "whole number"),
            (r#"{ kind = "session", gap = "400d" }"#, "gap"),
            (
                r#"{ kind = "hopping", size = "1h", slide = "0ms" }"#,
                "slide",
            ),
        ] {
            let e = WorkloadSpec::parse(&window(w), Path::new("f.toml")).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains("line 4") && msg.contains(needle), "{w}: {msg}");
        }
        for (w, ms) in [
            (r#"{ kind = "tumbling", size = "1ms" }"#, 1),
            (r#"{ kind = "tumbling", size = "366days" }"#, MAX_WINDOW_MS),
        ] {
            let s = WorkloadSpec::parse(&window(w), Path::new("f.toml")).unwrap();
            assert_eq!(s.window, WindowSpec::Tumbling { size_ms: ms }, "{w}");
        }
    }

    /// A duration: plausible, huge, tiny or malformed.
    fn duration() -> impl Strategy<Value = String> + Clone {
        prop_oneof![
            3 => "[1-9][0-9]{0,2}(ms|s|m|h|d)",
            1 => "[0-9]{1,25}(ns|us|ms|s|m|h|d|days|w|y)",
            1 => "[0-9 a-z.]{0,8}",
            1 => Just("1h".to_owned()),
        ]
    }

    /// A `window = {…}` line: one of each kind with its fields, or any kind with any.
    fn window_line() -> impl Strategy<Value = String> + Clone {
        let d = duration;
        prop_oneof![
            d().prop_map(|s| format!("window = {{ kind = \"tumbling\", size = \"{s}\" }}\n")),
            (d(), d()).prop_map(|(a, b)| format!(
                "window = {{ kind = \"hopping\", size = \"{a}\", slide = \"{b}\" }}\n"
            )),
            d().prop_map(|s| format!("window = {{ kind = \"session\", gap = \"{s}\" }}\n")),
            any_window_line(),
        ]
    }

    /// A `window = {…}` line of any kind with any fields.
    fn any_window_line() -> impl Strategy<Value = String> + Clone {
        (
            prop::sample::select(vec!["tumbling", "hopping", "sliding", "session", "x"]),
            prop::collection::vec(
                (
                    prop::sample::select(vec!["size", "slide", "gap", "kind"]),
                    duration(),
                ),
                0..3,
            ),
        )
            .prop_map(|(kind, fields)| {
                let mut t = format!("window = {{ kind = \"{kind}\"");
                for (k, v) in fields {
                    t.push_str(&format!(", {k} = \"{v}\""));
                }
                t.push_str(" }\n");
                t
            })
    }

    /// TOML-ish text: the spec's keys and the values they take, window tables with any
    /// kind and duration (huge, tiny, malformed), aggregates and filters, mixed with
    /// the TOML syntax that breaks them and any text.
    fn spec_text() -> impl Strategy<Value = String> {
        let line = prop_oneof![
            "name = \"[a-zA-Z0-9_.-]{0,12}\"\n",
            Just("name = \"nexmark-q5\"\n".to_owned()),
            "topic = \"[a-z./]{0,8}\"\n",
            window_line(),
            "group_by = \\[(\"[a-z]{1,3}\", ?){0,3}\\]\n",
            "aggregates = \\[(\"(count|sum|avg|min|max|count_distinct|median)(\\([a-z]{0,3}\\))?\", ?){0,3}\\]\n",
            "filter = \"[a-z0-9 <>=!'().-]{0,16}\"\n",
            "[\\[\\]{}=\",\n#a-z ]{0,12}",
            any::<String>().prop_map(|s| format!("{s}\n")),
        ];
        let junk = prop::collection::vec(line.clone(), 0..8).prop_map(|v| v.concat());
        // Whole specs with a random window and name, and sometimes a line more.
        let whole = (
            prop_oneof!["[a-z][a-z0-9_-]{0,10}", Just("Top-Pages-Hourly".to_owned())],
            window_line(),
            "(\"[a-z]{1,3}\", ){0,2}",
            prop::option::weighted(0.2, line),
        )
            .prop_map(|(name, window, group, extra)| {
                format!(
                    "name = \"{name}\"\ntopic = \"t\"\n{window}group_by = [{group}]\n\
                     aggregates = [\"count\", \"max(v)\"]\n{}",
                    extra.unwrap_or_default()
                )
            });
        prop_oneof![junk, whole]
    }

    proptest::proptest! {
        #![proptest_config(ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn arbitrary_spec_text_never_panics_and_what_parses_round_trips(text in spec_text()) {
            if let Ok(spec) = WorkloadSpec::parse(&text, Path::new("p.toml")) {
                prop_assert!(builtin_name_clash(&spec.name).is_none());
                prop_assert!(spec.window.validate().is_ok());
                let again = WorkloadSpec::parse(&spec.to_toml(), Path::new("q.toml"));
                let again = again.ok();
                prop_assert_eq!(again.as_ref(), Some(&spec));
            }
        }
    }

    #[test]
    fn unknown_columns_are_reported() {
        let s = WorkloadSpec::parse(FARES, Path::new("f.toml")).unwrap();
        let e = s.check_columns(&["pickup_zone", "fare"]).unwrap_err();
        assert!(e.to_string().contains("driver_id"), "{e}");
    }
}
