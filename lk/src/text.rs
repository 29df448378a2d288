//! Turning records and times into text.

use std::time::{Duration, UNIX_EPOCH};

use master_log::SegmentIssue;

/// Escape bytes for one tab-separated field: `\t`, `\n`, `\r` and `\\` are escaped, and
/// bytes that are not UTF-8 are written as `\xNN`.
pub fn escape_field(bytes: &[u8], out: &mut String) {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\\' => out.push_str("\\\\"),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
}

/// A JSON value for bytes: the string when they are UTF-8, else `{"hex": "..."}`.
pub fn json_bytes(bytes: Option<&[u8]>) -> serde_json::Value {
    match bytes {
        None => serde_json::Value::Null,
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => serde_json::Value::String(s.to_owned()),
            Err(_) => {
                let hex: String = b.iter().map(|b| format!("{b:02x}")).collect();
                serde_json::json!({ "hex": hex })
            }
        },
    }
}

/// The value parser of every duration flag: `500ms`, `10s`, `5m`, `1h`, `2d`, `1h 30m`
/// (`master_log::parse_duration`, humantime's syntax). A bad value is a usage error.
pub fn duration(s: &str) -> Result<Duration, String> {
    master_log::parse_duration(s).map_err(|_| {
        format!(
            "{s:?} is not a duration (write a number and a unit, like 500ms, 10s, 5m, 1h or 2d)"
        )
    })
}

/// The value parser of every fraction flag (`--out-of-order`, `--late`, `--duplicates`):
/// a number from 0 to 1. A bad value is a usage error.
pub fn fraction(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!(
            "{s:?} is not a fraction (a number from 0 to 1, like 0.05)"
        )),
    }
}

/// RFC 3339 UTC with milliseconds, for a time in ms since the epoch.
pub fn rfc3339_ms(ms: i64) -> String {
    if ms < 0 {
        return format!("{ms}ms");
    }
    let t = UNIX_EPOCH + Duration::from_millis(ms as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// Parse an RFC 3339 time into ms since the epoch.
pub fn parse_rfc3339(s: &str) -> anyhow::Result<i64> {
    let t = humantime::parse_rfc3339_weak(s).map_err(|e| {
        anyhow::anyhow!("time {s:?} is not RFC 3339 (like 2026-11-25T09:00:00Z): {e}")
    })?;
    let d = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| anyhow::anyhow!("time {s:?} is before 1970"))?;
    Ok(d.as_millis() as i64)
}

/// One line describing what recovery found (the log's own wording).
pub fn describe_issue(issue: &SegmentIssue) -> String {
    issue.to_string()
}

/// `n` (digits grouped) and the noun in the number `n` asks for: `1 entry`, `2 entries`,
/// `1,200 entries`.
pub fn plural(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    let noun = if n == 1 { one } else { many };
    format!("{} {noun}", compare::format::count(n))
}

/// `n` (digits grouped) and the noun with an `s` when `n` is not 1: `1 record`, `0
/// records`, `4,000 records`.
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    plural(n, noun, &format!("{noun}s"))
}

/// Numbers joined by `, ` (offsets, partitions): `0, 12, 40`; `none` for no number.
pub fn join<T: std::fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_separators_and_bad_utf8() {
        let mut s = String::new();
        escape_field(b"a\tb\nc\\d\xffe", &mut s);
        assert_eq!(s, "a\\tb\\nc\\\\d\\xffe");
    }

    #[test]
    fn rfc3339_roundtrip() {
        let ms = parse_rfc3339("2026-11-25T09:00:00.250Z").unwrap();
        assert_eq!(ms, 1_795_597_200_250);
        assert_eq!(rfc3339_ms(ms), "2026-11-25T09:00:00.250Z");
        assert!(parse_rfc3339("yesterday").is_err());
    }

    #[test]
    fn plurals_and_lists() {
        assert_eq!(count(1u64, "event"), "1 event");
        assert_eq!(count(0u64, "event"), "0 events");
        assert_eq!(count(2u32, "event"), "2 events");
        assert_eq!(count(4000u64, "event"), "4,000 events");
        assert_eq!(plural(1u64, "entry", "entries"), "1 entry");
        assert_eq!(plural(3u64, "entry", "entries"), "3 entries");
        assert_eq!(join(&[0u64, 12, 40]), "0, 12, 40");
        assert_eq!(join::<u64>(&[]), "none");
    }
}
