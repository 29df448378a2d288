//! `Scalar`: one owned, totally ordered value of a column, a group key or an aggregate.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

/// A typed value. Ordered and hashable (floats by their IEEE total order) so that it can
/// be a group key, a `min`/`max` candidate or a member of a distinct set.
///
/// Order across types: `Null < Bool < Int/Float (numerically) < Timestamp < Str`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Scalar {
    /// SQL's null.
    Null,
    /// A bool.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Microseconds since the Unix epoch (the precision of imported timestamps).
    Timestamp(i64),
    /// Text.
    Str(String),
}

impl Scalar {
    /// Whether the value is null.
    pub fn is_null(&self) -> bool {
        matches!(self, Scalar::Null)
    }

    /// The value as a number, for sums and averages.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::Int(i) => Some(*i as f64),
            Scalar::Float(f) => Some(*f),
            Scalar::Timestamp(t) => Some(*t as f64),
            _ => None,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Scalar::Null => 0,
            Scalar::Bool(_) => 1,
            Scalar::Int(_) | Scalar::Float(_) => 2,
            Scalar::Timestamp(_) => 3,
            Scalar::Str(_) => 4,
        }
    }
}

impl Ord for Scalar {
    fn cmp(&self, other: &Self) -> Ordering {
        use Scalar::*;
        match (self, other) {
            (Null, Null) => Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (Float(a), Float(b)) => a.total_cmp(b),
            // Mixed numbers compare by value; an integer equal to a float sorts first so
            // that the order stays total and agrees with `Eq`.
            (Int(a), Float(b)) => (*a as f64).total_cmp(b).then(Ordering::Less),
            (Float(a), Int(b)) => a.total_cmp(&(*b as f64)).then(Ordering::Greater),
            (Timestamp(a), Timestamp(b)) => a.cmp(b),
            (Str(a), Str(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Scalar {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Scalar {
    /// As `cmp(other) == Equal`, with the common cases (the same variant of integers or
    /// text: group keys looked up per event) compared directly.
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Scalar::Str(a), Scalar::Str(b)) => a == b,
            (Scalar::Int(a), Scalar::Int(b)) => a == b,
            _ => self.cmp(other) == Ordering::Equal,
        }
    }
}

impl Eq for Scalar {}

impl Hash for Scalar {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.rank().hash(state);
        match self {
            Scalar::Null => {}
            Scalar::Bool(b) => b.hash(state),
            Scalar::Int(i) => i.hash(state),
            Scalar::Float(f) => f.to_bits().hash(state),
            Scalar::Timestamp(t) => t.hash(state),
            Scalar::Str(s) => s.hash(state),
        }
    }
}

/// DuckDB's order of doubles: NaN equals NaN and is above every other value; -0 = 0.
pub fn cmp_f64(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

impl Scalar {
    /// The value for JSON output: numbers and booleans as such, timestamps as RFC 3339
    /// strings, null as null.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Scalar::Null => serde_json::Value::Null,
            Scalar::Bool(b) => (*b).into(),
            Scalar::Int(i) => (*i).into(),
            Scalar::Float(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Scalar::Timestamp(us) => rfc3339_micros(*us).into(),
            Scalar::Str(s) => s.clone().into(),
        }
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Null => Ok(()),
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Timestamp(us) => f.write_str(&rfc3339_micros(*us)),
            Scalar::Str(s) => f.write_str(s),
        }
    }
}

impl From<i64> for Scalar {
    fn from(v: i64) -> Self {
        Scalar::Int(v)
    }
}

impl From<u64> for Scalar {
    fn from(v: u64) -> Self {
        i64::try_from(v).map_or(Scalar::Float(v as f64), Scalar::Int)
    }
}

impl From<f64> for Scalar {
    fn from(v: f64) -> Self {
        Scalar::Float(v)
    }
}

impl From<&str> for Scalar {
    fn from(v: &str) -> Self {
        Scalar::Str(v.to_owned())
    }
}

impl From<String> for Scalar {
    fn from(v: String) -> Self {
        Scalar::Str(v)
    }
}

impl From<bool> for Scalar {
    fn from(v: bool) -> Self {
        Scalar::Bool(v)
    }
}

/// RFC 3339 UTC with milliseconds (`2026-11-25T09:00:00.000Z`) for ms since the epoch.
pub fn rfc3339_millis(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// RFC 3339 UTC for µs since the epoch: milliseconds, or microseconds when the value has
/// a sub-millisecond part.
pub fn rfc3339_micros(us: i64) -> String {
    let ms = us.div_euclid(1000);
    let sub = us.rem_euclid(1000);
    let text = rfc3339_millis(ms);
    if sub == 0 {
        text
    } else {
        format!("{}{sub:03}Z", &text[..text.len() - 1])
    }
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_order_across_types() {
        let mut v = vec![
            Scalar::Str("a".into()),
            Scalar::Float(1.5),
            Scalar::Int(1),
            Scalar::Null,
            Scalar::Bool(true),
            Scalar::Timestamp(0),
            Scalar::Int(2),
            Scalar::Float(1.0),
        ];
        v.sort();
        assert_eq!(
            v,
            vec![
                Scalar::Null,
                Scalar::Bool(true),
                Scalar::Int(1),
                Scalar::Float(1.0),
                Scalar::Float(1.5),
                Scalar::Int(2),
                Scalar::Timestamp(0),
                Scalar::Str("a".into()),
            ]
        );
        assert_ne!(Scalar::Int(1), Scalar::Float(1.0));
    }

    #[test]
    fn equality_agrees_with_the_order() {
        let values = [
            Scalar::Null,
            Scalar::Bool(false),
            Scalar::Int(1),
            Scalar::Int(2),
            Scalar::Float(1.0),
            Scalar::Float(f64::NAN),
            Scalar::Timestamp(1),
            Scalar::Str("a".into()),
            Scalar::Str("ab".into()),
            Scalar::Str("b".into()),
            Scalar::Str(String::new()),
        ];
        for a in &values {
            for b in &values {
                assert_eq!(a == b, a.cmp(b) == Ordering::Equal, "{a:?} vs {b:?}");
            }
            assert_eq!(a, &a.clone());
        }
    }

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(1_795_597_200_250),
            "2026-11-25T09:00:00.250Z"
        );
        assert_eq!(rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_micros(1_500), "1970-01-01T00:00:00.001500Z");
        assert_eq!(rfc3339_micros(2_000), "1970-01-01T00:00:00.002Z");
    }
}
