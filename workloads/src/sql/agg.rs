//! The aggregates of a SQL workload and their mergeable partials.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::error::{Result, WorkloadError};
use crate::partial::{Partial, SumState, TopRows};
use crate::scalar::Scalar;
use crate::sql::expr::{Expr, SqlType};

/// An aggregate function.
#[derive(Debug, Clone, PartialEq)]
pub enum AggFunc {
    /// `COUNT(*)`: rows.
    CountStar,
    /// `COUNT(x)`: rows where `x` is not null.
    Count,
    /// `COUNT(DISTINCT x)`: distinct non-null values.
    CountDistinct,
    /// `SUM(x)`.
    Sum,
    /// `AVG(x)`.
    Avg,
    /// `MIN(x)`.
    Min,
    /// `MAX(x)`.
    Max,
    /// `MEDIAN(x)` = `QUANTILE_CONT(x, 0.5)`.
    Median,
    /// `QUANTILE_CONT(x, q)`: interpolated between the two nearest values.
    QuantileCont(f64),
    /// `QUANTILE_DISC(x, q)` (also `QUANTILE(x, q)`): the value at `ceil(n·q)`.
    QuantileDisc(f64),
    /// The best `n` rows of a window top-N over rows; the arguments are the ORDER BY
    /// values (one per `desc` flag), then the values the rows output.
    Top {
        /// How many rows.
        n: u64,
        /// Per ORDER BY value, whether it is descending.
        desc: Vec<bool>,
    },
}

/// An aggregate call: the function and its row-expression arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct AggCall {
    /// The function.
    pub func: AggFunc,
    /// Its arguments (none for `COUNT(*)`).
    pub args: Vec<Expr>,
}

impl fmt::Display for AggFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AggFunc::CountStar => f.write_str("count_star"),
            AggFunc::Count => f.write_str("count"),
            AggFunc::CountDistinct => f.write_str("count_distinct"),
            AggFunc::Sum => f.write_str("sum"),
            AggFunc::Avg => f.write_str("avg"),
            AggFunc::Min => f.write_str("min"),
            AggFunc::Max => f.write_str("max"),
            AggFunc::Median => f.write_str("median"),
            AggFunc::QuantileCont(q) => write!(f, "quantile_cont_{q}"),
            AggFunc::QuantileDisc(q) => write!(f, "quantile_disc_{q}"),
            AggFunc::Top { n, .. } => write!(f, "top_{n}"),
        }
    }
}

fn not_a_number(func: &AggFunc, v: &Scalar) -> WorkloadError {
    WorkloadError::Type(format!("{func}: {v:?} is not a number"))
}

impl AggCall {
    /// The partial of an empty cell.
    pub fn empty(&self) -> Partial {
        match &self.func {
            AggFunc::CountStar | AggFunc::Count => Partial::Count(0),
            AggFunc::CountDistinct => Partial::Distinct(BTreeSet::new()),
            AggFunc::Sum | AggFunc::Avg => Partial::Sum(SumState::default()),
            AggFunc::Min => Partial::Min(None),
            AggFunc::Max => Partial::Max(None),
            AggFunc::Median | AggFunc::QuantileCont(_) | AggFunc::QuantileDisc(_) => {
                Partial::Values(BTreeMap::new())
            }
            AggFunc::Top { n, desc } => Partial::Top(TopRows {
                n: *n,
                desc: desc.clone(),
                rows: Vec::new(),
            }),
        }
    }

    /// Fold one row into a partial: `args` are the values of the call's arguments.
    pub fn update(&self, partial: &mut Partial, args: &[Scalar]) -> Result<()> {
        let v = args.first().unwrap_or(&Scalar::Null);
        match (&self.func, partial) {
            (AggFunc::CountStar, Partial::Count(n)) => *n += 1,
            (AggFunc::Count, Partial::Count(n)) => *n += u64::from(!v.is_null()),
            (AggFunc::CountDistinct, Partial::Distinct(set)) => {
                if !v.is_null() && !set.contains(v) {
                    set.insert(v.clone());
                }
            }
            (AggFunc::Sum | AggFunc::Avg, Partial::Sum(s)) => match v {
                Scalar::Null => {}
                Scalar::Int(i) => s.add_int(i128::from(*i)),
                Scalar::Float(f) => s.add_float(*f),
                other => return Err(not_a_number(&self.func, other)),
            },
            (AggFunc::Min, Partial::Min(m)) => {
                if !v.is_null() && m.as_ref().is_none_or(|cur| v < cur) {
                    *m = Some(v.clone());
                }
            }
            (AggFunc::Max, Partial::Max(m)) => {
                if !v.is_null() && m.as_ref().is_none_or(|cur| v > cur) {
                    *m = Some(v.clone());
                }
            }
            (
                AggFunc::Median | AggFunc::QuantileCont(_) | AggFunc::QuantileDisc(_),
                Partial::Values(map),
            ) => match v {
                Scalar::Null => {}
                Scalar::Int(_) | Scalar::Float(_) => *map.entry(v.clone()).or_default() += 1,
                other => return Err(not_a_number(&self.func, other)),
            },
            (AggFunc::Top { .. }, Partial::Top(t)) => t.extend([args.to_vec()]),
            (f, p) => {
                return Err(WorkloadError::Merge(format!(
                    "{f} cannot update a {p:?} partial"
                )));
            }
        }
        Ok(())
    }

    /// The final value of a partial (for `Top`, the number of rows: its rows are read by
    /// the finishing step).
    pub fn finish(&self, partial: &Partial) -> Scalar {
        match (&self.func, partial) {
            (AggFunc::Avg, Partial::Sum(s)) => s.avg(),
            (AggFunc::Median, Partial::Values(m)) => quantile_cont(m, 0.5),
            (AggFunc::QuantileCont(q), Partial::Values(m)) => quantile_cont(m, *q),
            (AggFunc::QuantileDisc(q), Partial::Values(m)) => quantile_disc(m, *q),
            (_, p) => p.finish(),
        }
    }

    /// The type of the aggregate's value, given its argument's (`None`: unknown).
    pub fn result_type(&self, arg: Option<SqlType>) -> Option<SqlType> {
        match self.func {
            AggFunc::CountStar | AggFunc::Count | AggFunc::CountDistinct | AggFunc::Top { .. } => {
                Some(SqlType::Bigint)
            }
            AggFunc::Avg | AggFunc::Median | AggFunc::QuantileCont(_) => Some(SqlType::Double),
            AggFunc::Sum | AggFunc::Min | AggFunc::Max | AggFunc::QuantileDisc(_) => arg,
        }
    }

    /// Whether the aggregate needs numbers.
    pub fn needs_numbers(&self) -> bool {
        matches!(
            self.func,
            AggFunc::Sum
                | AggFunc::Avg
                | AggFunc::Median
                | AggFunc::QuantileCont(_)
                | AggFunc::QuantileDisc(_)
        )
    }
}

/// The `i`-th value (from 0) of a multiset in order.
fn nth(m: &BTreeMap<Scalar, u64>, i: u64) -> Option<&Scalar> {
    let mut seen = 0;
    for (v, n) in m {
        seen += n;
        if i < seen {
            return Some(v);
        }
    }
    None
}

fn as_f64(v: &Scalar) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// DuckDB's `quantile_cont`: position `(n − 1)·q`, interpolated between its neighbours.
pub fn quantile_cont(m: &BTreeMap<Scalar, u64>, q: f64) -> Scalar {
    let n: u64 = m.values().sum();
    if n == 0 {
        return Scalar::Null;
    }
    let pos = (n - 1) as f64 * q;
    let (lo, hi) = (pos.floor(), pos.ceil());
    let (Some(a), Some(b)) = (nth(m, lo as u64), nth(m, hi as u64)) else {
        return Scalar::Null;
    };
    let (a, b) = (as_f64(a), as_f64(b));
    if lo == hi {
        return Scalar::Float(a);
    }
    Scalar::Float(a + (pos - lo) * (b - a))
}

/// DuckDB's `quantile_disc`: the value at index `ceil(n·q) − 1` (at least 0).
pub fn quantile_disc(m: &BTreeMap<Scalar, u64>, q: f64) -> Scalar {
    let n: u64 = m.values().sum();
    if n == 0 {
        return Scalar::Null;
    }
    let i = ((n as f64 * q).ceil() as u64).saturating_sub(1).min(n - 1);
    nth(m, i).cloned().unwrap_or(Scalar::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(vs: &[i64]) -> BTreeMap<Scalar, u64> {
        let mut m = BTreeMap::new();
        for v in vs {
            *m.entry(Scalar::Int(*v)).or_default() += 1;
        }
        m
    }

    #[test]
    fn quantiles_match_duckdb() {
        let m = values(&[4, 1, 3, 2]);
        assert_eq!(quantile_cont(&m, 0.5), Scalar::Float(2.5));
        assert_eq!(quantile_cont(&m, 0.25), Scalar::Float(1.75));
        assert_eq!(quantile_cont(&m, 0.3), Scalar::Float(1.9));
        assert_eq!(quantile_disc(&m, 0.25), Scalar::Int(1));
        assert_eq!(quantile_disc(&m, 0.3), Scalar::Int(2));
        assert_eq!(quantile_disc(&m, 0.5), Scalar::Int(2));
        assert_eq!(quantile_disc(&m, 0.6), Scalar::Int(3));
        assert_eq!(
            quantile_disc(&values(&[1, 2, 3, 4, 5]), 0.5),
            Scalar::Int(3)
        );
        assert_eq!(quantile_cont(&values(&[]), 0.5), Scalar::Null);
        assert_eq!(quantile_cont(&values(&[7, 7, 9]), 0.5), Scalar::Float(7.0));
    }

    #[test]
    fn top_rows_keep_the_best_n_however_split() {
        let call = AggCall {
            func: AggFunc::Top {
                n: 2,
                desc: vec![true],
            },
            args: vec![],
        };
        let rows = [[5, 9], [7, 1], [7, 0], [1, 1], [7, 3]];
        let fold = |rs: &[[i64; 2]]| {
            let mut p = call.empty();
            for r in rs {
                call.update(&mut p, &[Scalar::Int(r[0]), Scalar::Int(r[1])])
                    .unwrap();
            }
            p
        };
        let whole = fold(&rows);
        let mut left = fold(&rows[..2]);
        left.merge(&fold(&rows[2..])).unwrap();
        assert_eq!(left, whole);
        let Partial::Top(t) = whole else { panic!() };
        assert_eq!(
            t.rows,
            vec![
                vec![Scalar::Int(7), Scalar::Int(0)],
                vec![Scalar::Int(7), Scalar::Int(1)]
            ]
        );
    }
}
