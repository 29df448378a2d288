//! The shared fixtures (crate `testkit`) and what only the speed layer's tests need.
#![allow(dead_code)]

use std::sync::Arc;

use master_log::EmbeddedLog;
use speed_layer::{SpeedConfig, SpeedLayer};
pub use testkit::*;
use workloads::Workload;

/// A fixture's speed layer.
pub trait SpeedFixture {
    fn config(&self) -> SpeedConfig;
    fn layer(&self, log: &Arc<EmbeddedLog>, w: &Workload, horizon: Vec<u64>) -> SpeedLayer;
}

impl SpeedFixture for Fixture {
    fn config(&self) -> SpeedConfig {
        SpeedConfig::new(&self.topic, &self.side)
    }

    fn layer(&self, log: &Arc<EmbeddedLog>, w: &Workload, horizon: Vec<u64>) -> SpeedLayer {
        SpeedLayer::new(log.clone(), w.clone(), self.config(), horizon).unwrap()
    }
}
