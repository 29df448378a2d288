//! Wake-ups for new data: one [`Event`] per listened topic, fired by this log's own
//! appends at once and by a background thread that polls the topic's end offsets.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use event_listener::{Event, EventListener};
use parking_lot::Mutex;

use super::conn::{Inner, Watch};
use crate::error::{LogError, Result};

/// A watcher stops this long after its last listener went away.
const IDLE: Duration = Duration::from_secs(30);

/// A listener for new data in `topic` (starting the topic's watcher thread if it has
/// none).
pub(super) fn listen(inner: &Arc<Inner>, topic: &str) -> Result<EventListener> {
    let partitions = inner.partition_count(topic)?;
    let mut map = inner.watchers.lock();
    if let Some(w) = map.get(topic) {
        *w.last_listen.lock() = Instant::now();
        return Ok(w.event.listen());
    }
    // The baseline is taken before the first listener exists: whatever is appended
    // after it moves an end offset past it and fires the event.
    let baseline = inner.listed_latest_offsets(topic, partitions)?;
    let watch = Arc::new(Watch {
        event: Event::new(),
        last_listen: Mutex::new(Instant::now()),
    });
    map.insert(topic.to_owned(), watch.clone());
    let listener = watch.event.listen();
    let weak = Arc::downgrade(inner);
    let topic_name = topic.to_owned();
    let interval = inner.options.listen_interval;
    std::thread::Builder::new()
        .name(format!("lk-listen-{topic}"))
        .spawn(move || watch_loop(weak, topic_name, watch, baseline, interval))
        .map_err(|e| LogError::Io {
            context: "start the listen thread".into(),
            source: e,
        })?;
    Ok(listener)
}

/// The watcher thread of `topic`: polls the end offsets every `interval` and wakes the
/// listeners when they moved; stops when the log is gone or [`IDLE`] after the last
/// listener.
fn watch_loop(
    weak: Weak<Inner>,
    topic: String,
    watch: Arc<Watch>,
    mut last: Vec<u64>,
    interval: Duration,
) {
    loop {
        std::thread::sleep(interval);
        let Some(inner) = weak.upgrade() else {
            return;
        };
        {
            let mut map = inner.watchers.lock();
            if watch.event.total_listeners() == 0 && watch.last_listen.lock().elapsed() > IDLE {
                if map.get(&topic).is_some_and(|w| Arc::ptr_eq(w, &watch)) {
                    map.remove(&topic);
                }
                return;
            }
        }
        if watch.event.total_listeners() == 0 {
            continue;
        }
        let partitions = match inner.partition_count(&topic) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(topic, %e, "listen: topic unavailable");
                continue;
            }
        };
        match inner.listed_latest_offsets(&topic, partitions) {
            Ok(now) if now != last => {
                last = now;
                watch.event.notify(usize::MAX);
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(topic, %e, "listen: end offsets unavailable"),
        }
    }
}

impl Inner {
    /// Wake the listeners of `topic` (after an append through this log).
    pub(super) fn notify_appended(&self, topic: &str) {
        if let Some(w) = self.watchers.lock().get(topic) {
            w.event.notify(usize::MAX);
        }
    }
}
