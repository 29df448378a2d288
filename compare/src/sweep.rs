//! `--sweep NAME=V1,V2,…`: the comparison at each value of one setting, for the
//! trade-off curves of the HTML report (freshness against CPU, correctness against
//! allowed lateness, p99 against rate).

use crate::{CompareError, Result};

/// A setting a sweep can vary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepSetting {
    /// Lambda's batch period (`--batch-every`).
    BatchEvery,
    /// Kappa's checkpoint interval (`--checkpoint-every`).
    CheckpointEvery,
    /// Kappa's allowed lateness (`--allowed-lateness`).
    AllowedLateness,
    /// The feed rate (`--rate`).
    Rate,
    /// Partitions of the generated topic (`--partitions`).
    Partitions,
}

impl SweepSetting {
    /// Every setting, as named on the command line.
    pub const ALL: [SweepSetting; 5] = [
        SweepSetting::BatchEvery,
        SweepSetting::CheckpointEvery,
        SweepSetting::AllowedLateness,
        SweepSetting::Rate,
        SweepSetting::Partitions,
    ];

    /// Its name, as the flag it sets (`batch-every`).
    pub fn name(self) -> &'static str {
        match self {
            SweepSetting::BatchEvery => "batch-every",
            SweepSetting::CheckpointEvery => "checkpoint-every",
            SweepSetting::AllowedLateness => "allowed-lateness",
            SweepSetting::Rate => "rate",
            SweepSetting::Partitions => "partitions",
        }
    }

    /// The unit of its values as numbers.
    pub fn unit(self) -> &'static str {
        match self {
            SweepSetting::BatchEvery
            | SweepSetting::CheckpointEvery
            | SweepSetting::AllowedLateness => "ms",
            SweepSetting::Rate => "records/s",
            SweepSetting::Partitions => "partitions",
        }
    }

    /// Whether the setting needs a generated dataset (an existing topic is not fed).
    pub fn needs_feed(self) -> bool {
        matches!(self, SweepSetting::Rate | SweepSetting::Partitions)
    }

    /// `value` as a number in [`SweepSetting::unit`].
    pub(crate) fn number(self, value: &str) -> Result<f64> {
        let bad = |e: String| {
            CompareError::Options(format!("--sweep {}: value {value:?}: {e}", self.name()))
        };
        match self {
            SweepSetting::BatchEvery
            | SweepSetting::CheckpointEvery
            | SweepSetting::AllowedLateness => {
                let d = master_log::parse_duration(value).map_err(|e| bad(e.to_string()))?;
                if d.is_zero() && self != SweepSetting::AllowedLateness {
                    return Err(bad("must be longer than zero".into()));
                }
                Ok(d.as_millis() as f64)
            }
            SweepSetting::Rate | SweepSetting::Partitions => {
                let n: u64 = value
                    .trim()
                    .parse()
                    .map_err(|e: std::num::ParseIntError| bad(e.to_string()))?;
                if n == 0 || (self == SweepSetting::Partitions && n > u64::from(u32::MAX)) {
                    return Err(bad("must be a whole number from 1".into()));
                }
                Ok(n as f64)
            }
        }
    }
}

/// A sweep: one setting and its values, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    /// The setting varied.
    pub setting: SweepSetting,
    /// Its values as given (`0s`, `20s`).
    pub values: Vec<String>,
}

impl SweepSpec {
    /// Parse `NAME=V1,V2,…` (`allowed-lateness=0s,20s`, `rate=20000,50000`).
    pub fn parse(text: &str) -> Result<SweepSpec> {
        let names = || {
            SweepSetting::ALL
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some((name, values)) = text.split_once('=') else {
            return Err(CompareError::Options(format!(
                "--sweep {text:?}: write NAME=V1,V2,… with NAME one of {}",
                names()
            )));
        };
        let setting = SweepSetting::ALL
            .into_iter()
            .find(|s| s.name() == name.trim())
            .ok_or_else(|| {
                CompareError::Options(format!("--sweep: no setting {name:?} (one of {})", names()))
            })?;
        let values: Vec<String> = values
            .split(',')
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            return Err(CompareError::Options(format!(
                "--sweep {name}: give at least one value"
            )));
        }
        for v in &values {
            setting.number(v)?;
        }
        Ok(SweepSpec { setting, values })
    }

    /// The flag's text: `NAME=V1,V2`.
    pub fn text(&self) -> String {
        format!("{}={}", self.setting.name(), self.values.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_parse_into_a_setting_and_its_values() {
        let s = SweepSpec::parse("allowed-lateness=0s, 20s").unwrap();
        assert_eq!(s.setting, SweepSetting::AllowedLateness);
        assert_eq!(s.text(), "allowed-lateness=0s,20s");
        assert_eq!(s.setting.number(&s.values[1]).unwrap(), 20_000.0);
        let r = SweepSpec::parse("rate=1000,2000").unwrap();
        assert_eq!(r.setting.number("2000").unwrap(), 2000.0);
        assert!(r.setting.needs_feed() && !s.setting.needs_feed());
    }

    #[test]
    fn bad_sweeps_are_refused() {
        for bad in [
            "rate",
            "speed=1,2",
            "rate=",
            "rate=fast",
            "rate=0",
            "batch-every=0s",
            "checkpoint-every=soon",
            "partitions=-1",
        ] {
            assert!(
                matches!(SweepSpec::parse(bad), Err(CompareError::Options(_))),
                "{bad}"
            );
        }
    }
}
