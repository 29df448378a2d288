//! The connection: the clients and caches that a [`super::KafkaLog`] and all its clones
//! share, and how they are made.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use event_listener::Event;
use parking_lot::{Mutex, RwLock};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::ThreadedProducer;

use super::client::{Ctx, base_config, config_error, kerr, new_consumer};
use super::options::{KafkaOptions, parse_kafka_uri};
use super::producer::{ProducerCtx, new_producer};
use super::readers::ReaderPool;
use crate::config::TopicConfig;
use crate::error::Result;

/// Everything one connected log holds; the operations on it are in the sibling modules
/// (`topics`, `offsets`, `append`, `fetch`, `commit`, `listen`, `group`).
pub(super) struct Inner {
    pub(super) bootstrap: String,
    pub(super) options: KafkaOptions,
    pub(super) admin: AdminClient<Ctx>,
    pub(super) producer: ThreadedProducer<ProducerCtx>,
    /// A consumer without a group for metadata, watermarks and offsets by time.
    pub(super) meta: BaseConsumer<Ctx>,
    /// What the log caches of each topic it has used.
    pub(super) topics: RwLock<HashMap<String, Arc<TopicMeta>>>,
    pub(super) readers: ReaderPool,
    /// Reads last batches to confirm end offsets (see `offsets`).
    pub(super) prober: Mutex<Option<BaseConsumer<Ctx>>>,
    /// End offsets come from fetches, not from ListOffsets alone: set by `tansu_compat`,
    /// or once a fetch found records past the broker's listed end.
    pub(super) fetch_end: AtomicBool,
    /// (topic, partition) → the listed end a fetch last confirmed.
    pub(super) confirmed_ends: Mutex<HashMap<(String, u32), u64>>,
    /// One wake-up source per listened topic.
    pub(super) watchers: Mutex<HashMap<String, Arc<Watch>>>,
    /// Consumers with `group.id` set, for standalone commits and committed offsets.
    pub(super) committers: Mutex<HashMap<String, Arc<BaseConsumer<Ctx>>>>,
}

/// What the log caches of a topic.
#[derive(Debug)]
pub(super) struct TopicMeta {
    pub(super) config: TopicConfig,
}

/// The wake-ups of one listened topic: fired by this log's own appends at once and by a
/// background thread that polls the topic's end offsets (see `listen`).
pub(super) struct Watch {
    pub(super) event: Event,
    /// When a listener was last handed out (the thread stops some time after).
    pub(super) last_listen: Mutex<Instant>,
}

impl Inner {
    /// Make the clients for the cluster at `uri`. Fails when no broker answers a metadata
    /// request within [`KafkaOptions::request_timeout`].
    pub(super) fn connect(uri: &str, options: KafkaOptions) -> Result<Inner> {
        let servers = parse_kafka_uri(uri)?;
        options.validate()?;
        let bootstrap = servers.join(",");
        let admin: AdminClient<Ctx> = base_config(&bootstrap, &options, "lk-admin")
            .create_with_context(Ctx)
            .map_err(|e| config_error("connect", e))?;
        let producer = new_producer(&bootstrap, &options)?;
        let meta = new_consumer(&bootstrap, &options, "lk-meta", None, false)?;
        // Fail now, with the client's reason, when no broker answers.
        meta.fetch_metadata(None, options.request_timeout)
            .map_err(|e| kerr("connect", format!("no broker of {uri} answered: {e}")))?;
        let pool = options.fetch_pool;
        let fetch_end = AtomicBool::new(options.tansu_compat);
        Ok(Inner {
            bootstrap,
            options,
            admin,
            producer,
            meta,
            topics: RwLock::new(HashMap::new()),
            readers: ReaderPool::new(pool),
            prober: Mutex::new(None),
            fetch_end,
            confirmed_ends: Mutex::new(HashMap::new()),
            watchers: Mutex::new(HashMap::new()),
            committers: Mutex::new(HashMap::new()),
        })
    }

    /// Timeouts of an admin request: the request timeout for both.
    pub(super) fn admin_options(&self) -> AdminOptions {
        let t = self.options.request_timeout;
        AdminOptions::new()
            .request_timeout(Some(t))
            .operation_timeout(Some(t))
    }
}
