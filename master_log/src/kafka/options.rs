//! Options of a [`super::KafkaLog`] and the `kafka://` URI.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{LogError, Result};

/// The codec the producer compresses record batches with (`compression.codec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// No compression (the default).
    #[default]
    None,
    /// LZ4.
    Lz4,
    /// Zstandard.
    Zstd,
    /// Snappy.
    Snappy,
    /// gzip.
    Gzip,
}

impl Compression {
    /// librdkafka's name of the codec.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
            Compression::Snappy => "snappy",
            Compression::Gzip => "gzip",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Compression {
    type Err = LogError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "none" => Compression::None,
            "lz4" => Compression::Lz4,
            "zstd" => Compression::Zstd,
            "snappy" => Compression::Snappy,
            "gzip" => Compression::Gzip,
            other => {
                return Err(LogError::InvalidConfig(format!(
                    "compression {other:?}: expected none, lz4, zstd, snappy or gzip"
                )));
            }
        })
    }
}

/// librdkafka settings the log sets itself: passing them through would break its
/// semantics (which group a client is in, who commits, where records go).
const RESERVED: &[&str] = &[
    "bootstrap.servers",
    "metadata.broker.list",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "auto.offset.reset",
    "enable.partition.eof",
    "partition.assignment.strategy",
    "partitioner",
];

/// How a [`super::KafkaLog`] talks to its cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaOptions {
    /// Producer acknowledgements: `all` (default; every in-sync replica has the
    /// records), `1` (the leader has them) or `0` (none: offsets are then unknown and
    /// [`crate::Log::append`] fails).
    pub acks: String,
    /// How long the producer waits for more records before sending a batch
    /// (`linger.ms`). An append waits for its delivery reports, so this adds to its
    /// latency; records of concurrent appends to one partition share batches.
    pub linger: Duration,
    /// Batch compression (`compression.codec`).
    pub compression: Compression,
    /// How often a failed produce request is retried (`retries`); bounded so that an
    /// append fails rather than hangs.
    pub retries: u32,
    /// Upper bound on the time from an append to its acknowledgement, retries included
    /// (`message.timeout.ms`, Java's `delivery.timeout.ms`).
    pub delivery_timeout: Duration,
    /// Idempotent producer (`enable.idempotence`): retries neither duplicate nor reorder
    /// records. Needs `acks=all`.
    pub idempotence: bool,
    /// Timeout of every request that is not a produce: admin operations, metadata,
    /// offsets, commits.
    pub request_timeout: Duration,
    /// Replication factor of created topics; `None` uses the broker's default
    /// (`default.replication.factor`).
    pub replication_factor: Option<i32>,
    /// How often a listened topic's end offsets are polled to notice records of other
    /// producers (see [`super::KafkaLog`]).
    pub listen_interval: Duration,
    /// How long [`crate::Log::fetch`] waits for records known to exist before it fails.
    pub fetch_timeout: Duration,
    /// Idle fetch consumers kept for reuse.
    pub fetch_pool: usize,
    /// Group session timeout (`session.timeout.ms`): how soon a crashed member is
    /// noticed. A member that is dropped leaves at once.
    pub session_timeout: Duration,
    /// How long [`crate::Log::join_group`] waits for the member's first assignment.
    pub join_timeout: Duration,
    /// Work around two gaps of tansu 0.6, the Kafka-protocol broker of the tests: its
    /// ListOffsets(latest) answers the last batch's *base* offset + 1, and its fetch
    /// from inside a batch starts at the next batch. When on, every latest offset is
    /// confirmed by reading the last batch to the end, and a fetch that starts past the
    /// requested offset steps back to the batch that holds it. Off (the default) for
    /// Kafka, whose answers are exact; on, it still works with Kafka, only slower.
    pub tansu_compat: bool,
    /// Further librdkafka settings, applied to every client (producer, consumers, admin)
    /// after the ones above: `security.protocol`, `sasl.mechanism`, `sasl.username`,
    /// `sasl.password`, `ssl.ca.location`, `client.id`, …
    pub extra: BTreeMap<String, String>,
}

impl Default for KafkaOptions {
    fn default() -> Self {
        Self {
            acks: "all".into(),
            linger: Duration::from_millis(5),
            compression: Compression::None,
            retries: 10,
            delivery_timeout: Duration::from_secs(30),
            idempotence: true,
            request_timeout: Duration::from_secs(30),
            replication_factor: None,
            listen_interval: Duration::from_millis(20),
            fetch_timeout: Duration::from_secs(10),
            fetch_pool: 8,
            session_timeout: Duration::from_secs(10),
            join_timeout: Duration::from_secs(60),
            tansu_compat: false,
            extra: BTreeMap::new(),
        }
    }
}

impl KafkaOptions {
    /// Reject settings that cannot work.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(LogError::InvalidConfig(m));
        if !matches!(self.acks.as_str(), "all" | "-1" | "0" | "1") {
            return bad(format!("acks {:?}: expected all, 1 or 0", self.acks));
        }
        if self.idempotence && !matches!(self.acks.as_str(), "all" | "-1") {
            return bad(format!(
                "the idempotent producer needs acks=all, not acks={}; turn idempotence off",
                self.acks
            ));
        }
        if self.delivery_timeout.is_zero() || self.request_timeout.is_zero() {
            return bad("delivery and request timeouts must be positive".into());
        }
        if self.listen_interval.is_zero() {
            return bad("listen_interval must be positive".into());
        }
        if self.replication_factor.is_some_and(|r| r < 1) {
            return bad("replication_factor must be at least 1".into());
        }
        if let Some(k) = self.extra.keys().find(|k| RESERVED.contains(&k.as_str())) {
            return bad(format!(
                "the librdkafka setting {k} is set by the log itself and cannot be passed through"
            ));
        }
        Ok(())
    }
}

/// The bootstrap servers of a `kafka://HOST:PORT[,HOST:PORT…]` URI, as `HOST:PORT`
/// strings (IPv6 hosts in brackets: `kafka://[::1]:9092`).
pub fn parse_kafka_uri(uri: &str) -> Result<Vec<String>> {
    let bad = |reason: &str| {
        Err(LogError::InvalidConfig(format!(
            "kafka URI {uri:?}: {reason} (expected kafka://HOST:PORT[,HOST:PORT…])"
        )))
    };
    let Some(rest) = uri.strip_prefix("kafka://") else {
        return bad("it does not start with kafka://");
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return bad("no broker");
    }
    let mut out = Vec::new();
    for server in rest.split(',') {
        let server = server.trim();
        let Some((host, port)) = server.rsplit_once(':') else {
            return bad("a broker without a port");
        };
        let host_ok = if let Some(inner) = host.strip_prefix('[') {
            inner.strip_suffix(']').is_some_and(|h| {
                !h.is_empty()
                    && h.chars()
                        .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
            })
        } else {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        };
        if !host_ok {
            return bad("a broker host that is not a host name or address");
        }
        match port.parse::<u16>() {
            Ok(p) if p > 0 => {}
            _ => return bad("a port that is not a number from 1 to 65535"),
        }
        out.push(server.to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(
            parse_kafka_uri("kafka://127.0.0.1:19092").unwrap(),
            vec!["127.0.0.1:19092"]
        );
        assert_eq!(
            parse_kafka_uri("kafka://a:1,b.example:9092/").unwrap(),
            vec!["a:1", "b.example:9092"]
        );
        assert_eq!(
            parse_kafka_uri("kafka://[::1]:9092").unwrap(),
            vec!["[::1]:9092"]
        );
        for bad in [
            "",
            "kafka://",
            "http://a:1",
            "kafka://a",
            "kafka://a:0",
            "kafka://a:x",
            "kafka://a:70000",
            "kafka://:1",
            "kafka://a b:1",
            "kafka://a:1,",
            "kafka://[]:1",
        ] {
            assert!(
                matches!(parse_kafka_uri(bad), Err(LogError::InvalidConfig(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn options() {
        KafkaOptions::default().validate().unwrap();
        let o = KafkaOptions {
            acks: "1".into(),
            ..KafkaOptions::default()
        };
        assert!(o.validate().is_err());
        KafkaOptions {
            idempotence: false,
            ..o
        }
        .validate()
        .unwrap();
        let reserved = KafkaOptions {
            extra: BTreeMap::from([("group.id".to_owned(), "x".to_owned())]),
            ..KafkaOptions::default()
        };
        assert!(reserved.validate().is_err());
        assert_eq!("zstd".parse::<Compression>().unwrap(), Compression::Zstd);
        assert!("brotli".parse::<Compression>().is_err());
    }
}
