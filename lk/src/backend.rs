//! Which master log a command works on: the embedded engine inside `--data` (the
//! default), or a Kafka-protocol cluster with `--log kafka://HOST:PORT[,HOST:PORT…]`
//! (cargo feature `kafka`, on by default).
//!
//! ```text
//!   --log embedded (default)          --log kafka://b1:9092,b2:9092
//!   ┌──────────── --data ───────────┐ ┌──────────── --data ───────────┐  ┌── cluster ──┐
//!   │ topics/  (the log's segments) │ │ batch views, realtime views,  │  │ topics,     │
//!   │ batch views, realtime views,  │ │ Kappa state stores and tables │  │ changelogs, │
//!   │ Kappa state stores and tables │ │ dataset descriptions          │  │ groups      │
//!   └───────────────────────────────┘ └───────────────────────────────┘  └─────────────┘
//! ```
//!
//! Every command works through the [`Log`] trait and so runs unchanged on both, except
//! `lk log verify|maintain`, which read the embedded engine's files.

use std::path::Path;
use std::sync::Arc;

use clap::Args;
use master_log::Log;

/// The flags that choose and tune the master log (global: valid after any subcommand).
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// The master log: `embedded` (the engine in --data) or kafka://HOST:PORT[,HOST:PORT…].
    #[arg(
        long = "log",
        global = true,
        default_value = "embedded",
        env = "LK_LOG_URI",
        value_name = "URI"
    )]
    pub uri: String,

    /// When appended data is forced to disk (embedded log): always, never, or
    /// interval:DURATION.
    #[arg(long, global = true, default_value = "never")]
    pub fsync: String,

    /// Let readers step over offsets lost to damage (embedded log) instead of failing
    /// with "offsets N..M of TOPIC/P were lost to damage": answers then leave those
    /// records out. `lk log verify` and `lk topic describe` list the lost offsets.
    #[arg(long, global = true)]
    pub accept_gaps: bool,

    /// Producer acknowledgements: all (every in-sync replica), 1 (the leader) or 0.
    #[arg(
        long,
        global = true,
        default_value = "all",
        help_heading = "Kafka (--log kafka://…)"
    )]
    pub kafka_acks: String,

    /// Batch compression: none, lz4, zstd, snappy or gzip.
    #[arg(
        long,
        global = true,
        default_value = "none",
        help_heading = "Kafka (--log kafka://…)"
    )]
    pub kafka_compression: String,

    /// How long the producer waits to fill a batch (linger.ms).
    #[arg(
        long,
        global = true,
        default_value = "5ms",
        value_name = "DURATION",
        value_parser = crate::text::duration,
        help_heading = "Kafka (--log kafka://…)"
    )]
    pub kafka_linger: std::time::Duration,

    /// Timeout of admin, metadata, offset, commit and fetch requests (and of connecting).
    #[arg(
        long,
        global = true,
        default_value = "30s",
        value_name = "DURATION",
        value_parser = crate::text::duration,
        help_heading = "Kafka (--log kafka://…)"
    )]
    pub kafka_timeout: std::time::Duration,

    /// A librdkafka setting for every client, repeatable: security.protocol=SASL_SSL,
    /// sasl.mechanism=SCRAM-SHA-512, sasl.username=…, ssl.ca.location=…
    #[arg(
        short = 'X',
        long = "kafka-option",
        global = true,
        value_name = "KEY=VALUE",
        help_heading = "Kafka (--log kafka://…)"
    )]
    pub kafka_options: Vec<String>,

    /// Work around the gaps of the tansu 0.6 broker (inexact latest offsets, fetches
    /// from inside a batch); slower, and not needed with Kafka or Redpanda.
    #[arg(
        long,
        global = true,
        env = "LK_KAFKA_TANSU_COMPAT",
        help_heading = "Kafka (--log kafka://…)"
    )]
    pub kafka_tansu_compat: bool,
}

/// Where the master log is, as chosen by `--log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The embedded engine in the data directory.
    Embedded,
    /// A Kafka-protocol cluster at this `kafka://` URI.
    Kafka(String),
}

impl LogArgs {
    /// The backend `--log` names; a malformed value is an error before anything opens.
    pub fn backend(&self) -> anyhow::Result<Backend> {
        let uri = self.uri.trim();
        if uri == "embedded" {
            return Ok(Backend::Embedded);
        }
        if uri.starts_with("kafka://") {
            #[cfg(feature = "kafka")]
            master_log::parse_kafka_uri(uri)?;
            return Ok(Backend::Kafka(uri.to_owned()));
        }
        anyhow::bail!("--log {uri:?}: expected `embedded` or kafka://HOST:PORT[,HOST:PORT…]")
    }

    /// Check every flag (including the Kafka ones when `--log` is Kafka) without
    /// connecting to anything.
    pub fn validate(&self) -> anyhow::Result<()> {
        let _: master_log::FsyncPolicy = self.fsync.parse()?;
        if let Backend::Kafka(_) = self.backend()? {
            self.kafka_options()?;
        }
        Ok(())
    }

    /// Open the master log: the embedded engine in `data`, or a connection to the
    /// cluster.
    pub fn open(&self, data: &Path) -> anyhow::Result<Arc<dyn Log>> {
        match self.backend()? {
            Backend::Embedded => Ok(Arc::new(self.open_embedded(data)?)),
            Backend::Kafka(uri) => self.connect(&uri),
        }
    }

    /// Open the embedded engine in `data`, reporting on stderr what recovery repaired.
    pub fn open_embedded(&self, data: &Path) -> anyhow::Result<master_log::EmbeddedLog> {
        let options = master_log::LogOptions {
            fsync: self.fsync.parse()?,
            accept_gaps: self.accept_gaps,
            ..master_log::LogOptions::default()
        };
        let log = master_log::EmbeddedLog::open_with(data, options)?;
        for issue in log.recovery_issues() {
            eprintln!("lk: recovery: {}", crate::text::describe_issue(issue));
        }
        Ok(log)
    }

    #[cfg(feature = "kafka")]
    fn connect(&self, uri: &str) -> anyhow::Result<Arc<dyn Log>> {
        use anyhow::Context;
        let log = master_log::KafkaLog::connect(uri, self.kafka_options()?)
            .with_context(|| format!("connect to {uri}"))?;
        Ok(Arc::new(log))
    }

    #[cfg(not(feature = "kafka"))]
    fn connect(&self, uri: &str) -> anyhow::Result<Arc<dyn Log>> {
        anyhow::bail!(
            "--log {uri}: this lk was built without the `kafka` feature (build it with \
             default features)"
        )
    }

    #[cfg(feature = "kafka")]
    fn kafka_options(&self) -> anyhow::Result<master_log::KafkaOptions> {
        let mut extra = std::collections::BTreeMap::new();
        for kv in &self.kafka_options {
            let Some((k, v)) = kv.split_once('=') else {
                anyhow::bail!("--kafka-option {kv:?}: expected KEY=VALUE");
            };
            let k = k.trim();
            anyhow::ensure!(!k.is_empty(), "--kafka-option {kv:?}: the key is empty");
            extra.insert(k.to_owned(), v.to_owned());
        }
        let timeout = self.kafka_timeout;
        let options = master_log::KafkaOptions {
            acks: self.kafka_acks.clone(),
            // Idempotence needs acks=all: with fewer acknowledgements the user chose
            // speed over the guarantee.
            idempotence: matches!(self.kafka_acks.as_str(), "all" | "-1"),
            compression: self.kafka_compression.parse()?,
            linger: self.kafka_linger,
            request_timeout: timeout,
            // A fetch of records the partition is known to hold waits as long as any
            // other request (a loaded broker can take seconds to answer).
            fetch_timeout: timeout,
            tansu_compat: self.kafka_tansu_compat,
            extra,
            ..master_log::KafkaOptions::default()
        };
        options.validate()?;
        Ok(options)
    }

    #[cfg(not(feature = "kafka"))]
    fn kafka_options(&self) -> anyhow::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        log: LogArgs,
    }

    fn args(a: &[&str]) -> LogArgs {
        Cli::try_parse_from(std::iter::once("lk").chain(a.iter().copied()))
            .unwrap()
            .log
    }

    #[test]
    fn backends() {
        assert_eq!(args(&[]).backend().unwrap(), Backend::Embedded);
        assert_eq!(
            args(&["--log", "kafka://a:1,b:2"]).backend().unwrap(),
            Backend::Kafka("kafka://a:1,b:2".into())
        );
        for bad in ["file:///x", "kafka:/a:1", "", "Embedded"] {
            assert!(args(&["--log", bad]).backend().is_err(), "{bad:?}");
        }
    }

    #[cfg(feature = "kafka")]
    #[test]
    fn kafka_flags_are_checked_before_connecting() {
        assert!(args(&["--log", "kafka://a"]).validate().is_err());
        args(&["--log", "kafka://a:1", "-X", "client.id=me"])
            .validate()
            .unwrap();
        for bad in [
            &["--kafka-option", "no-equals"][..],
            &["-X", "group.id=mine"],
            &["--kafka-acks", "2"],
            &["--kafka-compression", "brotli"],
        ] {
            let mut a = vec!["--log", "kafka://a:1"];
            a.extend_from_slice(bad);
            assert!(args(&a).validate().is_err(), "{bad:?}");
        }
        // A duration that does not parse is a usage error, refused by the parser.
        let linger = ["lk", "--log", "kafka://a:1", "--kafka-linger", "soon"];
        assert!(Cli::try_parse_from(linger).is_err());
        // Kafka flags are not looked at for the embedded log.
        args(&["--kafka-acks", "2"]).validate().unwrap();
        let o = args(&["--log", "kafka://a:1", "--kafka-acks", "1"])
            .kafka_options()
            .unwrap();
        assert!(!o.idempotence);
    }
}
