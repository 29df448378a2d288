//! Aggregates and their mergeable partial forms.
//!
//! Every aggregate keeps a *partial* that two halves of the data can each build and then
//! merge: this is what lets the serving layer combine a batch view with a realtime view,
//! and what a Kappa table stores. All partials here are exact:
//!
//! | aggregate          | partial                        | final value                  |
//! |--------------------|--------------------------------|------------------------------|
//! | `count`            | rows                           | integer                      |
//! | `count(col)`       | non-null values                | integer                      |
//! | `sum(col)`         | integer part (i128), float part, non-null count | null if no value, else int or float |
//! | `avg(col)`         | the same as sum                | float (sum / count), null if none |
//! | `min(col)`, `max(col)` | the extreme non-null value | the value, null if none      |
//! | `count_distinct(col)` | the set of distinct non-null values | its size (exact)      |
//! | `max_by(order)`    | the best (order, payload) pair | the payload (ties: smallest payload) |
//! | SQL `median`, `quantile_cont`, `quantile_disc` | every non-null value with its count | the quantile (exact) |
//! | SQL window top-N over rows | the best `n` rows of the cell | the rows, ranked |
//!
//! Integer inputs are summed exactly in an i128, so integer sums and averages do not
//! depend on the order the data was seen in; float inputs are summed as f64, whose result
//! may differ in the last bits between merge orders (correctness checks compare floats
//! with a relative tolerance of 1e-9).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkloadError};
use crate::scalar::Scalar;

/// An aggregate of a spec file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Aggregate {
    /// `count` or `count(*)`: rows.
    Count,
    /// `count(col)`: rows where `col` is not null.
    CountColumn(String),
    /// `sum(col)`: the sum of the non-null values.
    Sum(String),
    /// `avg(col)`: the mean of the non-null values.
    Avg(String),
    /// `min(col)`: the smallest non-null value.
    Min(String),
    /// `max(col)`: the largest non-null value.
    Max(String),
    /// `count_distinct(col)`: how many distinct non-null values.
    CountDistinct(String),
}

impl Aggregate {
    /// Parse `count`, `count(*)`, `count(col)`, `sum(col)`, `avg(col)`, `min(col)`,
    /// `max(col)`, `count_distinct(col)` (case-insensitive function names).
    pub fn parse(text: &str) -> std::result::Result<Aggregate, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("count") {
            return Ok(Aggregate::Count);
        }
        let open = t
            .find('(')
            .ok_or_else(|| format!("aggregate {t:?}: expected FUNCTION(column) or count"))?;
        let func = t[..open].trim().to_ascii_lowercase();
        let arg = t[open + 1..]
            .strip_suffix(')')
            .ok_or_else(|| format!("aggregate {t:?}: missing ')'"))?
            .trim();
        let col = || -> std::result::Result<String, String> {
            if arg.is_empty() || arg == "*" {
                Err(format!("aggregate {t:?}: {func} needs a column"))
            } else {
                Ok(arg.trim_matches('"').to_owned())
            }
        };
        Ok(match func.as_str() {
            "count" if arg == "*" => Aggregate::Count,
            "count" => Aggregate::CountColumn(col()?),
            "sum" => Aggregate::Sum(col()?),
            "avg" | "mean" => Aggregate::Avg(col()?),
            "min" => Aggregate::Min(col()?),
            "max" => Aggregate::Max(col()?),
            "count_distinct" => Aggregate::CountDistinct(col()?),
            other => {
                return Err(format!(
                    "aggregate {t:?}: unknown function {other:?} (count, sum, avg, min, max, count_distinct)"
                ));
            }
        })
    }

    /// The column it reads, if any.
    pub fn column(&self) -> Option<&str> {
        match self {
            Aggregate::Count => None,
            Aggregate::CountColumn(c)
            | Aggregate::Sum(c)
            | Aggregate::Avg(c)
            | Aggregate::Min(c)
            | Aggregate::Max(c)
            | Aggregate::CountDistinct(c) => Some(c),
        }
    }

    /// An empty partial of this aggregate.
    pub fn empty(&self) -> Partial {
        match self {
            Aggregate::Count | Aggregate::CountColumn(_) => Partial::Count(0),
            Aggregate::Sum(_) | Aggregate::Avg(_) => Partial::Sum(SumState::default()),
            Aggregate::Min(_) => Partial::Min(None),
            Aggregate::Max(_) => Partial::Max(None),
            Aggregate::CountDistinct(_) => Partial::Distinct(BTreeSet::new()),
        }
    }

    /// Fold one row's value (`Scalar::Null` for `count`) into a partial of this aggregate.
    pub fn update(&self, partial: &mut Partial, value: &Scalar) -> Result<()> {
        match (self, partial) {
            (Aggregate::Count, Partial::Count(n)) => *n += 1,
            (Aggregate::CountColumn(_), Partial::Count(n)) => *n += u64::from(!value.is_null()),
            (Aggregate::Sum(c) | Aggregate::Avg(c), Partial::Sum(s)) => match value {
                Scalar::Null => {}
                Scalar::Int(i) => s.add_int(i128::from(*i)),
                Scalar::Float(f) => s.add_float(*f),
                other => {
                    return Err(WorkloadError::Type(format!(
                        "{self}: column {c:?} holds {other:?}, not a number"
                    )));
                }
            },
            (Aggregate::Min(_), Partial::Min(m)) => {
                if !value.is_null() && m.as_ref().is_none_or(|cur| value < cur) {
                    *m = Some(value.clone());
                }
            }
            (Aggregate::Max(_), Partial::Max(m)) => {
                if !value.is_null() && m.as_ref().is_none_or(|cur| value > cur) {
                    *m = Some(value.clone());
                }
            }
            (Aggregate::CountDistinct(_), Partial::Distinct(set)) => {
                if !value.is_null() && !set.contains(value) {
                    set.insert(value.clone());
                }
            }
            (agg, p) => {
                return Err(WorkloadError::Merge(format!(
                    "{agg} cannot update a {} partial",
                    p.kind()
                )));
            }
        }
        Ok(())
    }

    /// The final value of a partial of this aggregate.
    pub fn finish(&self, partial: &Partial) -> Scalar {
        match (self, partial) {
            (Aggregate::Avg(_), Partial::Sum(s)) => s.avg(),
            (_, p) => p.finish(),
        }
    }
}

impl fmt::Display for Aggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Aggregate::Count => f.write_str("count"),
            Aggregate::CountColumn(c) => write!(f, "count({c})"),
            Aggregate::Sum(c) => write!(f, "sum({c})"),
            Aggregate::Avg(c) => write!(f, "avg({c})"),
            Aggregate::Min(c) => write!(f, "min({c})"),
            Aggregate::Max(c) => write!(f, "max({c})"),
            Aggregate::CountDistinct(c) => write!(f, "count_distinct({c})"),
        }
    }
}

/// The partial of `sum` and `avg`: an exact integer part, a float part, and how many
/// non-null values went in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SumState {
    /// The sum of the integer values, exact.
    pub int: i128,
    /// The sum of the float values.
    pub float: f64,
    /// How many non-null values went in.
    pub count: u64,
    /// Whether a float went in (the sum is then a float).
    pub saw_float: bool,
}

impl SumState {
    /// Add an integer value.
    pub fn add_int(&mut self, v: i128) {
        self.int += v;
        self.count += 1;
    }

    /// Add a float value.
    pub fn add_float(&mut self, v: f64) {
        self.float += v;
        self.saw_float = true;
        self.count += 1;
    }

    fn merge(&mut self, o: &SumState) {
        self.int += o.int;
        self.float += o.float;
        self.count += o.count;
        self.saw_float |= o.saw_float;
    }

    /// SQL's `sum`: null when no value went in.
    pub fn sum(&self) -> Scalar {
        if self.count == 0 {
            Scalar::Null
        } else if self.saw_float {
            Scalar::Float(self.int as f64 + self.float)
        } else {
            i64::try_from(self.int).map_or(Scalar::Float(self.int as f64), Scalar::Int)
        }
    }

    /// SQL's `avg`: null when no value went in.
    pub fn avg(&self) -> Scalar {
        if self.count == 0 {
            Scalar::Null
        } else {
            Scalar::Float((self.int as f64 + self.float) / self.count as f64)
        }
    }
}

/// A mergeable partial aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Partial {
    /// Rows (`count`) or non-null values (`count(col)`).
    Count(u64),
    /// The state of a `sum` or an `avg`.
    Sum(SumState),
    /// The smallest value so far (`None` before any).
    Min(Option<Scalar>),
    /// The largest value so far (`None` before any).
    Max(Option<Scalar>),
    /// The distinct values so far.
    Distinct(BTreeSet<Scalar>),
    /// The best `(order, payload)` seen: highest `order`, then smallest payload.
    MaxBy(Option<(Scalar, Vec<Scalar>)>),
    /// Every non-null value with how many times it went in (exact median and quantiles).
    Values(BTreeMap<Scalar, u64>),
    /// The best rows of a window top-N over rows (`ROW_NUMBER() … <= n`).
    Top(TopRows),
}

/// The partial of a window top-N over rows: the best `n` rows so far, best first. A row is
/// its ORDER BY values then the values it outputs; rows order by [`sql_order`] on the
/// ORDER BY values, then by the rest ascending (so that ties rank the same way however
/// the data was split).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopRows {
    /// How many rows are kept.
    pub n: u64,
    /// Per ORDER BY value, whether it sorts descending.
    pub desc: Vec<bool>,
    /// The rows kept, best first.
    pub rows: Vec<Vec<Scalar>>,
}

impl TopRows {
    /// Add rows, keeping the best `n`.
    pub fn extend(&mut self, rows: impl IntoIterator<Item = Vec<Scalar>>) {
        self.rows.extend(rows);
        let k = self.desc.len();
        let desc = self.desc.clone();
        self.rows.sort_by(|a, b| {
            let (ao, ap) = a.split_at(k.min(a.len()));
            let (bo, bp) = b.split_at(k.min(b.len()));
            sql_order(ao, bo, &desc).then_with(|| ap.cmp(bp))
        });
        self.rows
            .truncate(usize::try_from(self.n).unwrap_or(usize::MAX));
    }
}

/// The order of an ORDER BY: value by value, each ascending or descending (`desc`), nulls
/// last either way (DuckDB's default); numbers by value, NaN above every other number.
pub fn sql_order(a: &[Scalar], b: &[Scalar], desc: &[bool]) -> Ordering {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => {
                let o = match (x, y) {
                    (Scalar::Float(p), Scalar::Float(q)) => crate::scalar::cmp_f64(*p, *q),
                    _ => x.cmp(y),
                };
                if desc.get(i).copied().unwrap_or(false) {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

impl Partial {
    fn kind(&self) -> &'static str {
        match self {
            Partial::Count(_) => "count",
            Partial::Sum(_) => "sum",
            Partial::Min(_) => "min",
            Partial::Max(_) => "max",
            Partial::Distinct(_) => "distinct",
            Partial::MaxBy(_) => "max_by",
            Partial::Values(_) => "values",
            Partial::Top(_) => "top",
        }
    }

    /// Merge `other` into `self`. Merging is associative and commutative (up to float
    /// rounding for float sums).
    pub fn merge(&mut self, other: &Partial) -> Result<()> {
        match (self, other) {
            (Partial::Count(a), Partial::Count(b)) => *a += b,
            (Partial::Sum(a), Partial::Sum(b)) => a.merge(b),
            (Partial::Min(a), Partial::Min(b)) => {
                if let Some(b) = b
                    && a.as_ref().is_none_or(|a| b < a)
                {
                    *a = Some(b.clone());
                }
            }
            (Partial::Max(a), Partial::Max(b)) => {
                if let Some(b) = b
                    && a.as_ref().is_none_or(|a| b > a)
                {
                    *a = Some(b.clone());
                }
            }
            (Partial::Distinct(a), Partial::Distinct(b)) => {
                a.extend(b.iter().cloned());
            }
            (Partial::MaxBy(a), Partial::MaxBy(b)) => {
                if let Some((bo, bp)) = b {
                    let better = match a {
                        None => true,
                        Some((ao, ap)) => bo > ao || (bo == ao && bp < ap),
                    };
                    if better {
                        *a = Some((bo.clone(), bp.clone()));
                    }
                }
            }
            (Partial::Values(a), Partial::Values(b)) => {
                for (v, n) in b {
                    *a.entry(v.clone()).or_default() += n;
                }
            }
            (Partial::Top(a), Partial::Top(b)) if a.n == b.n && a.desc == b.desc => {
                a.extend(b.rows.iter().cloned());
            }
            (a, b) => {
                return Err(WorkloadError::Merge(format!(
                    "a {} partial with a {} partial",
                    a.kind(),
                    b.kind()
                )));
            }
        }
        Ok(())
    }

    /// Offer one `(order, payload)` candidate to a `MaxBy` partial.
    pub fn offer(&mut self, order: Scalar, payload: Vec<Scalar>) -> Result<()> {
        self.merge(&Partial::MaxBy(Some((order, payload))))
    }

    /// The final value, as the aggregate's own `finish` gives it for all but `avg`.
    pub fn finish(&self) -> Scalar {
        match self {
            Partial::Count(n) => Scalar::from(*n),
            Partial::Sum(s) => s.sum(),
            Partial::Min(v) | Partial::Max(v) => v.clone().unwrap_or(Scalar::Null),
            Partial::Distinct(s) => Scalar::from(s.len() as u64),
            Partial::MaxBy(v) => v.as_ref().map_or(Scalar::Null, |(o, _)| o.clone()),
            Partial::Values(v) => Scalar::from(v.values().sum::<u64>()),
            Partial::Top(t) => Scalar::from(t.rows.len() as u64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_aggregates() {
        assert_eq!(Aggregate::parse("count").unwrap(), Aggregate::Count);
        assert_eq!(Aggregate::parse("COUNT(*)").unwrap(), Aggregate::Count);
        assert_eq!(
            Aggregate::parse("count(x)").unwrap(),
            Aggregate::CountColumn("x".into())
        );
        assert_eq!(
            Aggregate::parse(" avg( fare ) ").unwrap(),
            Aggregate::Avg("fare".into())
        );
        assert_eq!(
            Aggregate::parse("count_distinct(driver_id)").unwrap(),
            Aggregate::CountDistinct("driver_id".into())
        );
        for bad in ["median(x)", "sum()", "sum(*)", "sum(x", "x"] {
            assert!(Aggregate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sql_null_semantics() {
        let vals = [Scalar::Int(3), Scalar::Null, Scalar::Int(5)];
        let aggs = [
            Aggregate::Count,
            Aggregate::CountColumn("x".into()),
            Aggregate::Sum("x".into()),
            Aggregate::Avg("x".into()),
            Aggregate::Min("x".into()),
            Aggregate::Max("x".into()),
            Aggregate::CountDistinct("x".into()),
        ];
        let got: Vec<Scalar> = aggs
            .iter()
            .map(|a| {
                let mut p = a.empty();
                for v in &vals {
                    a.update(&mut p, v).unwrap();
                }
                a.finish(&p)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                Scalar::Int(3),
                Scalar::Int(2),
                Scalar::Int(8),
                Scalar::Float(4.0),
                Scalar::Int(3),
                Scalar::Int(5),
                Scalar::Int(2),
            ]
        );
        // Only nulls: count(*) counts, the others are 0 or null.
        let got: Vec<Scalar> = aggs
            .iter()
            .map(|a| {
                let mut p = a.empty();
                a.update(&mut p, &Scalar::Null).unwrap();
                a.finish(&p)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                Scalar::Int(1),
                Scalar::Int(0),
                Scalar::Null,
                Scalar::Null,
                Scalar::Null,
                Scalar::Null,
                Scalar::Int(0),
            ]
        );
    }

    #[test]
    fn sum_of_strings_is_a_type_error() {
        let a = Aggregate::Sum("name".into());
        let mut p = a.empty();
        assert!(matches!(
            a.update(&mut p, &Scalar::Str("x".into())),
            Err(WorkloadError::Type(_))
        ));
    }

    #[test]
    fn mismatched_partials_do_not_merge() {
        assert!(Partial::Count(1).merge(&Partial::Max(None)).is_err());
    }

    #[test]
    fn max_by_breaks_ties_by_smallest_payload() {
        let mut p = Partial::MaxBy(None);
        p.offer(Scalar::Int(5), vec![Scalar::Int(9)]).unwrap();
        p.offer(Scalar::Int(5), vec![Scalar::Int(2)]).unwrap();
        p.offer(Scalar::Int(4), vec![Scalar::Int(1)]).unwrap();
        assert_eq!(
            p,
            Partial::MaxBy(Some((Scalar::Int(5), vec![Scalar::Int(2)])))
        );
    }

    use proptest::prelude::*;

    fn scalar() -> impl Strategy<Value = Scalar> {
        prop_oneof![Just(Scalar::Null), (-1000i64..1000).prop_map(Scalar::Int),]
    }

    proptest! {
        /// Splitting the input anywhere and merging the halves gives the same partial as
        /// folding it whole: the property the serving layer relies on.
        #[test]
        fn split_and_merge_equals_whole(values in proptest::collection::vec(scalar(), 0..60), split in 0usize..60) {
            let split = split.min(values.len());
            for agg in [
                Aggregate::Count,
                Aggregate::CountColumn("x".into()),
                Aggregate::Sum("x".into()),
                Aggregate::Avg("x".into()),
                Aggregate::Min("x".into()),
                Aggregate::Max("x".into()),
                Aggregate::CountDistinct("x".into()),
            ] {
                let fold = |vs: &[Scalar]| {
                    let mut p = agg.empty();
                    for v in vs {
                        agg.update(&mut p, v).unwrap();
                    }
                    p
                };
                let whole = fold(&values);
                let mut left = fold(&values[..split]);
                left.merge(&fold(&values[split..])).unwrap();
                prop_assert_eq!(&left, &whole);
                prop_assert_eq!(agg.finish(&left), agg.finish(&whole));
            }
        }
    }
}
