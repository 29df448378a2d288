//! What `lk generate` takes and gives back: the dataset kinds, the generator's options
//! and the summary of a run (also the content of a generated topic's sidecar).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::codec::Codec;
use crate::error::{DatasetError, Result};

/// The generated datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetKind {
    /// LinkedIn-style page and profile views ([`crate::PageView`]).
    Pageviews,
    /// Yahoo Streaming Benchmark ad events ([`crate::YsbEvent`]).
    Ysb,
    /// NEXMark persons, auctions and bids ([`crate::NexmarkEvent`]).
    Nexmark,
}

impl DatasetKind {
    /// Every dataset.
    pub const ALL: [DatasetKind; 3] = [Self::Pageviews, Self::Ysb, Self::Nexmark];

    /// The name of the dataset on the command line and in sidecars.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pageviews => "pageviews",
            Self::Ysb => "ysb",
            Self::Nexmark => "nexmark",
        }
    }
}

impl std::fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DatasetKind {
    type Err = DatasetError;
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| {
                DatasetError::InvalidOptions(format!(
                    "dataset {s:?}: expected pageviews, ysb or nexmark"
                ))
            })
    }
}

/// The longest delay the options accept: one year, in ms.
pub const MAX_DELAY_MS: u64 = 365 * 24 * 3600 * 1000;

/// Options of `lk generate`, one field per flag. Durations are in milliseconds
/// (parse `5s`-style flags with [`master_log::parse_duration`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenerateOptions {
    /// The dataset to generate.
    pub dataset: DatasetKind,
    /// The topic to write to.
    pub topic: String,
    /// Distinct events to generate (event ids `0..events`); duplicates come on top.
    pub events: u64,
    /// Partitions of the topic when it is created; an existing topic keeps its own.
    pub partitions: u32,
    /// The seed every random draw derives from.
    pub seed: u64,
    /// Pace the writes in real time at this many records per second; `None`: as fast as
    /// possible.
    pub rate: Option<u64>,
    /// Events per second of *event time* (the modelled clock). Default: `rate`, or 1,000.
    pub event_rate: Option<u64>,
    /// Event time of the first event, ms since the Unix epoch (a fixed default, never the
    /// wall clock: 2023-11-14T22:13:20Z).
    pub start_ms: i64,
    /// Zipf exponent of the key distribution (`None`: the dataset's own, mostly uniform).
    pub key_skew: Option<f64>,
    /// Number of distinct keys where the dataset allows it (pageviews: pages, default
    /// 10,000; nexmark: auctions in flight that bids choose from, default 100; ysb: fixed
    /// at its 1,000 ads).
    pub keys: Option<u64>,
    /// Fraction of events that arrive out of order, up to `max_delay_ms` after their
    /// event time.
    pub out_of_order: f64,
    /// The longest delay of an out-of-order event, ms.
    pub max_delay_ms: u64,
    /// Fraction of events that arrive late: `late_delay_ms` to `2 × late_delay_ms` after
    /// their event time (`late_delay_ms` must exceed `max_delay_ms`).
    pub late: f64,
    /// The shortest delay of a late event, ms (the longest is twice this).
    pub late_delay_ms: u64,
    /// Fraction of events sent a second time (same event id, key, value and event time).
    pub duplicates: f64,
    /// How values are encoded.
    pub codec: Codec,
    /// Records per append call per partition.
    pub batch_size: usize,
    /// Allow generating into a topic that already holds records (the determinism
    /// guarantee then covers only the new records).
    pub append: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            dataset: DatasetKind::Pageviews,
            topic: "events".into(),
            events: 100_000,
            partitions: 4,
            seed: 42,
            rate: None,
            event_rate: None,
            start_ms: 1_700_000_000_000,
            key_skew: None,
            keys: None,
            out_of_order: 0.0,
            max_delay_ms: 5_000,
            late: 0.0,
            late_delay_ms: 60_000,
            duplicates: 0.0,
            codec: Codec::Postcard,
            batch_size: 2_000,
            append: false,
        }
    }
}

impl GenerateOptions {
    /// Options for `dataset` into `topic` with defaults elsewhere.
    pub fn new(dataset: DatasetKind, topic: impl Into<String>, events: u64) -> Self {
        Self {
            dataset,
            topic: topic.into(),
            events,
            ..Self::default()
        }
    }

    /// Reject options that cannot work.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(DatasetError::InvalidOptions(m));
        master_log::validate_name(&self.topic)?;
        for (name, f) in [
            ("out_of_order", self.out_of_order),
            ("late", self.late),
            ("duplicates", self.duplicates),
        ] {
            if !(0.0..=1.0).contains(&f) {
                return bad(format!("{name} must be a fraction in [0, 1], not {f}"));
            }
        }
        if self.out_of_order + self.late > 1.0 {
            return bad("out_of_order + late must not exceed 1".into());
        }
        if self.out_of_order > 0.0 && self.max_delay_ms == 0 {
            return bad("out-of-order events need a positive max_delay".into());
        }
        if self.late > 0.0 && self.late_delay_ms <= self.max_delay_ms {
            return bad(format!(
                "late_delay ({} ms) must exceed max_delay ({} ms): late events arrive after \
                 what a watermark waits for",
                self.late_delay_ms, self.max_delay_ms
            ));
        }
        if self.max_delay_ms > MAX_DELAY_MS || self.late_delay_ms > MAX_DELAY_MS {
            return bad(format!("delays are at most {MAX_DELAY_MS} ms (one year)"));
        }
        if self.partitions == 0 {
            return bad("partitions must be at least 1".into());
        }
        if self.rate == Some(0) || self.event_rate == Some(0) {
            return bad("rates must be positive".into());
        }
        if let Some(s) = self.key_skew
            && !(s.is_finite() && s >= 0.0)
        {
            return bad(format!("key_skew must be a finite exponent ≥ 0, not {s}"));
        }
        if self.keys == Some(0) {
            return bad("keys must be at least 1".into());
        }
        if self.batch_size == 0 {
            return bad("batch_size must be at least 1".into());
        }
        Ok(())
    }

    /// Events per second of event time.
    pub fn effective_event_rate(&self) -> u64 {
        self.event_rate.or(self.rate).unwrap_or(1_000)
    }
}

/// What a generator run produced: returned, and written to the topic's sidecar file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateSummary {
    /// The options of the run.
    pub options: GenerateOptions,
    /// Partitions of the topic (its own, if it existed).
    pub partitions: u32,
    /// Distinct events (event ids).
    pub events: u64,
    /// Records written: events plus duplicates.
    pub records: u64,
    /// Records that arrived at their event time.
    pub in_order: u64,
    /// Records that arrived out of order (within `max_delay_ms`).
    pub out_of_order: u64,
    /// Records that arrived late (`late_delay_ms` or more after their event time).
    pub late: u64,
    /// Second copies of events already sent.
    pub duplicates: u64,
    /// Distinct events per dataset kind (pageviews: page types; ysb: event types;
    /// nexmark: person, auction, bid).
    pub kinds: BTreeMap<String, u64>,
    /// Records written to each partition.
    pub records_per_partition: Vec<u64>,
    /// The earliest event time written, ms.
    pub min_event_time: Option<i64>,
    /// The latest event time written, ms.
    pub max_event_time: Option<i64>,
    /// Bytes of the record values written.
    pub value_bytes: u64,
    /// How long the run took, up to the commit (when staged, copying the records into
    /// the topic afterwards is not counted).
    pub elapsed_ms: u64,
    /// Records written per second of the run.
    pub records_per_s: f64,
    /// The YSB ad → campaign table (`ad_id,campaign_id` CSV), when written.
    pub campaigns_file: Option<PathBuf>,
    /// The sidecar file this summary was written to, when written.
    pub sidecar: Option<PathBuf>,
}
