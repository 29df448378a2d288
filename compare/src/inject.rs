//! **Tests only**: a delay or a loss injected into one pipeline, so that the harness's
//! tests can check that a pipeline's latency and correctness are what the report shows
//! of it (a harness that measured the wrong pipeline, the wrong level or the wrong
//! start would fail them). Set through the hidden [`crate::CompareOptions::inject`]
//! ([`Injection`]),
//! which `lk` never sets.
//!
//! The delay is a delay line on the pipeline's visibility: a thread records every change
//! of what each level shows, and the wrapped pipeline shows at each moment what the real
//! one showed `delay` earlier (to within the 1 ms the recorder polls at). The loss
//! removes cells from the pipeline's final answer of the first workload.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use workloads::PartialTable;

use crate::alloc::{self, Owner};
pub use crate::options::Injection;
use crate::pipelines::{Architecture, Final, Pipeline, Recompute, Visibility};
use crate::{CompareError, Result};

/// How often the recorder looks at the real pipeline.
const RECORD_EVERY: Duration = Duration::from_millis(1);

/// `p`, with `inject` if it is meant for `p`'s architecture.
pub(crate) fn wrap(p: Box<dyn Pipeline>, inject: Option<&Injection>) -> Result<Box<dyn Pipeline>> {
    match inject {
        Some(i) if i.pipeline == p.architecture() => Ok(Box::new(Injected::start(p, i.clone())?)),
        _ => Ok(p),
    }
}

/// Per level, every change of what the real pipeline showed: (when, positions).
type History = [Mutex<VecDeque<(Instant, Vec<u64>)>>; 2];

/// A pipeline with an injection.
struct Injected {
    inner: Arc<Box<dyn Pipeline>>,
    inject: Injection,
    history: Arc<History>,
    recorder: Recorder,
}

/// The thread that records what the real pipeline shows; stopped when dropped.
struct Recorder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl Recorder {
    /// Stop the thread; its error, if it failed.
    fn end(&mut self) -> Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| CompareError::Run("the injection's recorder panicked".into()))?,
            None => Ok(()),
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.end();
    }
}

fn index(level: Visibility) -> usize {
    match level {
        Visibility::Fresh => 0,
        Visibility::Stable => 1,
    }
}

fn covers(positions: &[u64], target: &[u64]) -> bool {
    positions.len() == target.len() && positions.iter().zip(target).all(|(p, t)| p >= t)
}

impl Injected {
    fn start(inner: Box<dyn Pipeline>, inject: Injection) -> Result<Injected> {
        let inner = Arc::new(inner);
        let history: Arc<History> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (p, h, s) = (inner.clone(), history.clone(), stop.clone());
        let recorder = thread::Builder::new()
            .name("lk-inject".into())
            .spawn(move || {
                alloc::set_thread_owner(Owner::Harness);
                while !s.load(Ordering::SeqCst) {
                    for level in Visibility::BOTH {
                        let now = p.visible(level)?;
                        let mut h = h[index(level)].lock();
                        if h.back().is_none_or(|(_, last)| *last != now) {
                            h.push_back((Instant::now(), now));
                        }
                    }
                    thread::sleep(RECORD_EVERY);
                }
                Ok(())
            })
            .map_err(CompareError::io("start the injection's recorder"))?;
        Ok(Injected {
            inner,
            inject,
            history,
            recorder: Recorder {
                stop,
                thread: Some(recorder),
            },
        })
    }

    /// When the real pipeline first showed `target` at `level`, if it has; older
    /// changes are forgotten (the observer asks for targets in order).
    fn shown_at(&self, level: Visibility, target: &[u64]) -> Option<Instant> {
        let mut h = self.history[index(level)].lock();
        let i = h.iter().position(|(_, p)| covers(p, target))?;
        h.drain(..i.saturating_sub(1));
        h.iter().find(|(_, p)| covers(p, target)).map(|(t, _)| *t)
    }
}

impl Pipeline for Injected {
    fn architecture(&self) -> Architecture {
        self.inner.architecture()
    }

    fn describe(&self, level: Visibility) -> &'static str {
        self.inner.describe(level)
    }

    fn visible(&self, level: Visibility) -> Result<Vec<u64>> {
        let h = self.history[index(level)].lock();
        let then = Instant::now().checked_sub(self.inject.delay);
        let shown = h
            .iter()
            .rev()
            .find(|(t, _)| then.is_some_and(|then| *t <= then))
            .map(|(_, p)| p.clone());
        match shown {
            Some(p) => Ok(p),
            None => Ok(vec![0; self.inner.visible(level)?.len()]),
        }
    }

    fn wait_visible(&self, level: Visibility, target: &[u64], timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            let due = self.shown_at(level, target).map(|t| t + self.inject.delay);
            if due.is_some_and(|d| d <= now) {
                return Ok(true);
            }
            if now >= deadline {
                return Ok(false);
            }
            let wake = due.unwrap_or(now + RECORD_EVERY).min(deadline);
            thread::sleep(wake.saturating_duration_since(now).max(RECORD_EVERY / 4));
        }
    }

    fn tables(&self) -> Result<Vec<PartialTable>> {
        self.inner.tables()
    }

    fn recomputes(&self) -> Vec<Recompute> {
        self.inner.recomputes()
    }

    fn stable_updates(&self) -> u64 {
        self.inner.stable_updates()
    }

    fn state_cells(&self) -> Option<u64> {
        self.inner.state_cells()
    }

    fn stop(self: Box<Self>) -> Result<Vec<Final>> {
        let Injected {
            inner,
            inject,
            mut recorder,
            ..
        } = *self;
        let recorded = recorder.end();
        let inner = Arc::try_unwrap(inner)
            .map_err(|_| CompareError::Run("the injected pipeline is still shared".into()))?;
        let mut finals = inner.stop()?;
        recorded?;
        if let Some(f) = finals.first_mut() {
            let cells: Vec<_> = f
                .table
                .iter()
                .take(inject.drop_cells as usize)
                .map(|(w, k, _)| (*w, k.clone()))
                .collect();
            for (w, k) in cells {
                f.table.remove(w, &k);
            }
        }
        Ok(finals)
    }
}
