//! Spec workloads: the filter evaluated row by row (three-valued), the rows of each cell
//! collected, and each aggregate computed from a cell's full list of rows.

use std::collections::{BTreeMap, BTreeSet};

use workloads::{Aggregate, CmpOp, Filter, Row, Scalar, Window, WindowSpec, WorkloadSpec};

use crate::read::{Event, Events};
use crate::window::sessions;
use crate::{OracleError, Result, windows_of};

/// A column's value in an event.
fn get<'e>(ev: &Events, e: &'e Event, column: &str) -> Result<&'e Scalar> {
    Ok(&e.values[ev.column(column)?])
}

/// Three-valued evaluation of a filter: `None` is SQL's unknown.
fn eval(f: &Filter, ev: &Events, e: &Event) -> Result<Option<bool>> {
    Ok(match f {
        Filter::IsNull { column, negated } => Some(get(ev, e, column)?.is_null() != *negated),
        Filter::Cmp {
            column,
            op,
            literal,
        } => {
            let v = get(ev, e, column)?;
            let ord = match (v, literal) {
                (Scalar::Null, _) => None,
                (Scalar::Str(a), Scalar::Str(b)) => Some(a.cmp(b)),
                (Scalar::Bool(a), Scalar::Bool(b)) => Some(a.cmp(b)),
                (Scalar::Int(a), Scalar::Int(b)) => Some(a.cmp(b)),
                (Scalar::Timestamp(a), Scalar::Int(b)) => Some(a.cmp(b)),
                (Scalar::Int(a), Scalar::Float(b)) => (*a as f64).partial_cmp(b),
                (Scalar::Float(a), Scalar::Int(b)) => a.partial_cmp(&(*b as f64)),
                (Scalar::Float(a), Scalar::Float(b)) => a.partial_cmp(b),
                _ => None,
            };
            ord.map(|o| match op {
                CmpOp::Eq => o.is_eq(),
                CmpOp::Ne => o.is_ne(),
                CmpOp::Lt => o.is_lt(),
                CmpOp::Le => o.is_le(),
                CmpOp::Gt => o.is_gt(),
                CmpOp::Ge => o.is_ge(),
            })
        }
        Filter::Not(a) => eval(a, ev, e)?.map(|b| !b),
        Filter::And(a, b) => match (eval(a, ev, e)?, eval(b, ev, e)?) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Filter::Or(a, b) => match (eval(a, ev, e)?, eval(b, ev, e)?) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
    })
}

/// The rows of spec `s` over `ev`.
pub(crate) fn rows(s: &WorkloadSpec, ev: &Events) -> Result<Vec<Row>> {
    let mut kept: Vec<&Event> = Vec::new();
    for e in &ev.events {
        let pass = match &s.filter {
            Some(f) => eval(f, ev, e)? == Some(true),
            None => true,
        };
        if pass {
            kept.push(e);
        }
    }
    let key_of = |e: &Event| -> Result<Vec<Scalar>> {
        s.group_by.iter().map(|c| get(ev, e, c).cloned()).collect()
    };
    let mut cells: BTreeMap<(Window, Vec<Scalar>), Vec<&Event>> = BTreeMap::new();
    if let WindowSpec::Session { gap_ms } = s.window {
        let mut by_key: BTreeMap<Vec<Scalar>, Vec<&Event>> = BTreeMap::new();
        for e in kept {
            by_key.entry(key_of(e)?).or_default().push(e);
        }
        for (key, evs) in by_key {
            let times: Vec<i64> = evs.iter().map(|e| e.time).collect();
            for (w, members) in sessions(&times, gap_ms) {
                cells.insert((w, key.clone()), members.iter().map(|&i| evs[i]).collect());
            }
        }
    } else {
        for e in kept {
            let key = key_of(e)?;
            for w in windows_of(s.window, e.time)? {
                cells.entry((w, key.clone())).or_default().push(e);
            }
        }
    }
    let mut rows = Vec::with_capacity(cells.len());
    for ((window, key), evs) in cells {
        let values = s
            .aggregates
            .iter()
            .map(|a| aggregate(a, ev, &evs))
            .collect::<Result<Vec<_>>>()?;
        rows.push(Row {
            window,
            key,
            values,
        });
    }
    Ok(rows)
}

/// An aggregate over the full list of a cell's rows.
fn aggregate(a: &Aggregate, ev: &Events, evs: &[&Event]) -> Result<Scalar> {
    let column = |c: &str| -> Result<Vec<&Scalar>> {
        let i = ev.column(c)?;
        Ok(evs
            .iter()
            .map(|e| &e.values[i])
            .filter(|v| !v.is_null())
            .collect())
    };
    Ok(match a {
        Aggregate::Count => Scalar::Int(evs.len() as i64),
        Aggregate::CountColumn(c) => Scalar::Int(column(c)?.len() as i64),
        Aggregate::Sum(c) | Aggregate::Avg(c) => {
            let vals = column(c)?;
            if vals.is_empty() {
                return Ok(Scalar::Null);
            }
            let mut int_sum: i128 = 0;
            let mut float_sum = 0.0f64;
            let mut any_float = false;
            for v in &vals {
                match v {
                    Scalar::Int(i) => int_sum += i128::from(*i),
                    Scalar::Float(f) => {
                        float_sum += f;
                        any_float = true;
                    }
                    other => {
                        return Err(OracleError::Type(format!("{a}: {other:?} is not a number")));
                    }
                }
            }
            let total = int_sum as f64 + float_sum;
            match a {
                Aggregate::Avg(_) => Scalar::Float(total / vals.len() as f64),
                _ if any_float => Scalar::Float(total),
                _ => i64::try_from(int_sum).map_or(Scalar::Float(total), Scalar::Int),
            }
        }
        Aggregate::Min(c) => column(c)?
            .into_iter()
            .min()
            .cloned()
            .unwrap_or(Scalar::Null),
        Aggregate::Max(c) => column(c)?
            .into_iter()
            .max()
            .cloned()
            .unwrap_or(Scalar::Null),
        Aggregate::CountDistinct(c) => {
            let set: BTreeSet<&Scalar> = column(c)?.into_iter().collect();
            Scalar::Int(set.len() as i64)
        }
    })
}
