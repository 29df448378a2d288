//! Topics: creating and deleting them through the admin API, listing them from the
//! cluster's metadata, their configurations (DescribeConfigs, mapped to and from
//! [`TopicConfig`]) and the log's cache of them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{NewTopic, OwnedResourceSpecifier, ResourceSpecifier, TopicReplication};
use rdkafka::consumer::Consumer;
use rdkafka::error::RDKafkaErrorCode;

use super::client::{block_on, kerr};
use super::conn::{Inner, TopicMeta};
use crate::config::{INTERNAL_PREFIX, TopicConfig, validate_name};
use crate::error::{LogError, Result};
use crate::log::TopicInfo;

impl Inner {
    /// Create `name` with `config` (see the `kafka` module docs for the settings) and
    /// wait until the cluster's metadata shows it.
    pub(super) fn create_topic(&self, name: &str, config: TopicConfig) -> Result<()> {
        validate_name(name)?;
        refuse_internal(
            name,
            "names starting with '__' are reserved for the log's internal topics",
        )?;
        config.validate()?;
        let settings = kafka_topic_settings(&config);
        let rf = self.options.replication_factor.unwrap_or(-1);
        let mut topic = NewTopic::new(name, config.partitions as i32, TopicReplication::Fixed(rf));
        for (k, v) in &settings {
            topic = topic.set(k, v);
        }
        let results = block_on(self.admin.create_topics([&topic], &self.admin_options()))
            .map_err(|e| kerr("create topic", e))?;
        for r in results {
            if let Err((_, code)) = r {
                return Err(match code {
                    RDKafkaErrorCode::TopicAlreadyExists => LogError::TopicExists(name.to_owned()),
                    RDKafkaErrorCode::InvalidConfig
                    | RDKafkaErrorCode::InvalidPartitions
                    | RDKafkaErrorCode::InvalidReplicationFactor
                    | RDKafkaErrorCode::PolicyViolation => {
                        LogError::InvalidConfig(format!("topic {name:?}: {code}"))
                    }
                    RDKafkaErrorCode::InvalidTopic => LogError::InvalidName {
                        name: name.to_owned(),
                        reason: "the cluster refused the name",
                    },
                    other => kerr("create topic", format!("{name:?}: {other}")),
                });
            }
        }
        self.topics.write().remove(name);
        self.await_metadata(name, true)
    }

    /// Delete `name` (closing the idle readers of it first) and wait until the cluster's
    /// metadata no longer shows it.
    pub(super) fn delete_topic(&self, name: &str) -> Result<()> {
        validate_name(name)?;
        refuse_internal(name, "internal topics cannot be deleted")?;
        self.readers.forget_topic(name);
        self.close_prober();
        let results = block_on(self.admin.delete_topics(&[name], &self.admin_options()))
            .map_err(|e| kerr("delete topic", e))?;
        self.topics.write().remove(name);
        for r in results {
            if let Err((_, code)) = r {
                return Err(match code {
                    RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic => {
                        LogError::UnknownTopic(name.to_owned())
                    }
                    other => kerr("delete topic", format!("{name:?}: {other}")),
                });
            }
        }
        self.await_metadata(name, false)
    }

    /// Every topic of the cluster with its effective configuration.
    pub(super) fn list_topics(&self) -> Result<Vec<TopicInfo>> {
        let md = self
            .meta
            .fetch_metadata(None, self.options.request_timeout)
            .map_err(|e| kerr("metadata", e))?;
        let mut names: Vec<(String, u32)> = md
            .topics()
            .iter()
            .filter(|t| t.error().is_none() && !t.partitions().is_empty())
            .map(|t| (t.name().to_owned(), t.partitions().len() as u32))
            .collect();
        names.sort();
        let configs = self.topic_configs(&names)?;
        Ok(configs
            .into_iter()
            .map(|(name, config)| TopicInfo {
                internal: name.starts_with(INTERNAL_PREFIX),
                name,
                config,
            })
            .collect())
    }

    /// The partition count of `topic` (cached).
    pub(super) fn partition_count(&self, topic: &str) -> Result<u32> {
        Ok(self.topic_meta(topic)?.config.partitions)
    }

    /// Partition count from metadata; `UnknownTopic` when the cluster has no such topic.
    fn metadata_partitions(&self, name: &str) -> Result<u32> {
        let md = self
            .meta
            .fetch_metadata(Some(name), self.options.request_timeout)
            .map_err(|e| kerr("metadata", e))?;
        let Some(t) = md.topics().iter().find(|t| t.name() == name) else {
            return Err(LogError::UnknownTopic(name.to_owned()));
        };
        if let Some(err) = t.error() {
            let code = RDKafkaErrorCode::from(err);
            return Err(match code {
                RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic => {
                    LogError::UnknownTopic(name.to_owned())
                }
                other => kerr("metadata", format!("topic {name:?}: {other}")),
            });
        }
        if t.partitions().is_empty() {
            return Err(LogError::UnknownTopic(name.to_owned()));
        }
        Ok(t.partitions().len() as u32)
    }

    /// The effective configurations of `names`, from DescribeConfigs. A topic whose
    /// configuration cannot be read gets the defaults (with a warning).
    fn topic_configs(&self, names: &[(String, u32)]) -> Result<BTreeMap<String, TopicConfig>> {
        let mut out: BTreeMap<String, TopicConfig> = names
            .iter()
            .map(|(n, p)| (n.clone(), TopicConfig::with_partitions(*p)))
            .collect();
        if names.is_empty() {
            return Ok(out);
        }
        let specs: Vec<ResourceSpecifier<'_>> = names
            .iter()
            .map(|(n, _)| ResourceSpecifier::Topic(n.as_str()))
            .collect();
        let results = match block_on(self.admin.describe_configs(&specs, &self.admin_options())) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(%e, "describe configs failed; reporting default topic configs");
                return Ok(out);
            }
        };
        for r in results {
            match r {
                Ok(res) => {
                    let OwnedResourceSpecifier::Topic(name) = &res.specifier else {
                        continue;
                    };
                    if let Some(config) = out.get_mut(name) {
                        let get = |k: &str| res.get(k).and_then(|e| e.value.clone());
                        apply_kafka_config(config, &get);
                    }
                }
                Err(code) => tracing::warn!(%code, "describe configs of a topic failed"),
            }
        }
        Ok(out)
    }

    /// The cached metadata of `name`, loading it on a miss.
    pub(super) fn topic_meta(&self, name: &str) -> Result<Arc<TopicMeta>> {
        if let Some(m) = self.topics.read().get(name) {
            return Ok(m.clone());
        }
        self.reload_topic(name)
    }

    /// Read the metadata and configuration of `name` from the cluster into the cache.
    pub(super) fn reload_topic(&self, name: &str) -> Result<Arc<TopicMeta>> {
        let partitions = match self.metadata_partitions(name) {
            Ok(p) => p,
            Err(e) => {
                self.topics.write().remove(name);
                return Err(e);
            }
        };
        let config = self
            .topic_configs(&[(name.to_owned(), partitions)])?
            .remove(name)
            .unwrap_or_else(|| TopicConfig::with_partitions(partitions));
        let meta = Arc::new(TopicMeta { config });
        self.topics.write().insert(name.to_owned(), meta.clone());
        Ok(meta)
    }

    /// Check that `partition` exists in `topic` (reloading the metadata once, in case
    /// partitions were added), and return the topic's metadata.
    pub(super) fn check_partition(&self, topic: &str, partition: u32) -> Result<Arc<TopicMeta>> {
        let meta = self.topic_meta(topic)?;
        if partition < meta.config.partitions {
            return Ok(meta);
        }
        let meta = self.reload_topic(topic)?;
        if partition < meta.config.partitions {
            return Ok(meta);
        }
        Err(LogError::UnknownPartition {
            topic: topic.to_owned(),
            partition,
            partitions: meta.config.partitions,
        })
    }

    /// Wait until the cluster's metadata agrees with `exists` for `name`.
    fn await_metadata(&self, name: &str, exists: bool) -> Result<()> {
        let deadline = Instant::now() + self.options.request_timeout;
        loop {
            let now_exists = match self.metadata_partitions(name) {
                Ok(_) => true,
                Err(LogError::UnknownTopic(_)) => false,
                Err(e) => return Err(e),
            };
            if now_exists == exists {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(kerr(
                    if exists {
                        "create topic"
                    } else {
                        "delete topic"
                    },
                    format!("the cluster's metadata did not show the change to {name:?} in time"),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Fill `config` from a topic's Kafka configuration (`get` returns a setting's value).
fn apply_kafka_config(config: &mut TopicConfig, get: &dyn Fn(&str) -> Option<String>) {
    let num = |k: &str| get(k).and_then(|v| v.parse::<i64>().ok());
    if let Some(policy) = get("cleanup.policy") {
        config.compact = policy.split(',').any(|p| p.trim() == "compact");
    }
    if let Some(v) = num("retention.ms") {
        config.retention_ms = u64::try_from(v).ok();
    }
    if let Some(v) = num("retention.bytes") {
        config.retention_bytes = u64::try_from(v).ok();
    }
    if let Some(v) = num("segment.bytes").and_then(|v| u64::try_from(v).ok()) {
        config.segment_bytes = v;
    }
    if let Some(v) = num("segment.ms") {
        config.segment_ms = u64::try_from(v).ok().filter(|&v| v > 0);
    }
    if let Some(v) = num("max.message.bytes").and_then(|v| u64::try_from(v).ok()) {
        config.max_record_bytes = v;
    }
    if let Some(v) = num("delete.retention.ms").and_then(|v| u64::try_from(v).ok()) {
        config.delete_retention_ms = v;
    }
    if let Some(v) = num("index.interval.bytes").and_then(|v| u64::try_from(v).ok()) {
        config.index_interval_bytes = v;
    }
}

/// The Kafka topic settings for `config`.
fn kafka_topic_settings(config: &TopicConfig) -> Vec<(&'static str, String)> {
    let opt = |v: Option<u64>| v.map_or_else(|| "-1".to_owned(), |v| v.to_string());
    let mut s = vec![
        (
            "cleanup.policy",
            if config.compact { "compact" } else { "delete" }.to_owned(),
        ),
        ("retention.ms", opt(config.retention_ms)),
        ("retention.bytes", opt(config.retention_bytes)),
        ("segment.bytes", config.segment_bytes.to_string()),
        ("max.message.bytes", config.max_record_bytes.to_string()),
        (
            "delete.retention.ms",
            config.delete_retention_ms.to_string(),
        ),
        (
            "index.interval.bytes",
            config.index_interval_bytes.to_string(),
        ),
        ("message.timestamp.type", "LogAppendTime".to_owned()),
    ];
    if let Some(v) = config.segment_ms {
        s.push(("segment.ms", v.to_string()));
    }
    s
}

/// Refuse a name in the internal namespace (`__`), giving `reason`.
fn refuse_internal(name: &str, reason: &'static str) -> Result<()> {
    if name.starts_with(INTERNAL_PREFIX) {
        return Err(LogError::InvalidName {
            name: name.to_owned(),
            reason,
        });
    }
    Ok(())
}
