//! A topic's metadata file, `topics/NAME/topic.json`: its configuration, with a
//! checksum.
//!
//! ```text
//!  {
//!    "config": { "partitions": 4, "compact": false, … },
//!    "crc32c": "0a1b2c3d"
//!  }
//! ```
//!
//! `crc32c` is the CRC32C of the configuration serialized as compact JSON (fields in
//! their declaration order), as 8 lowercase hex digits: a byte changed anywhere makes
//! the file fail to parse or to match its checksum, never read as another valid
//! configuration. A file holding a bare configuration (written by older versions) is
//! read as it is.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::TopicConfig;
use crate::durable::{Durability, write_atomic};
use crate::error::{IoContext, LogError, Result};

/// The metadata file's name in a topic directory.
pub(crate) const TOPIC_META: &str = "topic.json";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Checked {
    config: TopicConfig,
    crc32c: String,
}

fn checksum(config: &TopicConfig) -> String {
    let canonical = serde_json::to_vec(config).expect("a config serializes");
    format!("{:08x}", crc32c::crc32c(&canonical))
}

/// The bytes of a topic's metadata file for `config`.
pub(crate) fn encode(config: &TopicConfig) -> Vec<u8> {
    let checked = Checked {
        config: config.clone(),
        crc32c: checksum(config),
    };
    let mut out = serde_json::to_vec_pretty(&checked).expect("a config serializes");
    out.push(b'\n');
    out
}

/// Parse a metadata file; `Err` says why it is not a valid one.
pub(crate) fn decode(text: &str) -> Result<TopicConfig, String> {
    let config = match serde_json::from_str::<Checked>(text) {
        Ok(c) => {
            if checksum(&c.config) != c.crc32c {
                return Err("checksum mismatch".into());
            }
            c.config
        }
        Err(checked) => match serde_json::from_str::<TopicConfig>(text) {
            Ok(bare) if !text.contains("\"crc32c\"") => bare,
            _ => return Err(checked.to_string()),
        },
    };
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

/// Read and check the metadata file of the topic in `topic_dir`.
pub(crate) fn read(topic_dir: &Path) -> Result<TopicConfig> {
    let path = topic_dir.join(TOPIC_META);
    let bytes = std::fs::read(&path).ctx(|| format!("read {}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|_| LogError::Metadata {
        file: path.clone(),
        reason: "not UTF-8".into(),
    })?;
    decode(&text).map_err(|reason| LogError::Metadata { file: path, reason })
}

/// Write the metadata file of the topic in `topic_dir` (`Durability::Synced`: a created
/// topic survives a power cut).
pub(crate) fn write(topic_dir: &Path, config: &TopicConfig) -> Result<()> {
    let path = topic_dir.join(TOPIC_META);
    write_atomic(&path, &encode(config), Durability::Synced)
        .ctx(|| format!("write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_reads_bare_configs_and_catches_every_flipped_byte() {
        let config = TopicConfig {
            partitions: 3,
            retention_ms: Some(60_000),
            ..TopicConfig::default()
        };
        let bytes = encode(&config);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(decode(&text).unwrap(), config);
        let bare = serde_json::to_string_pretty(&config).unwrap();
        assert_eq!(decode(&bare).unwrap(), config);
        for i in 0..bytes.len() {
            for bit in [0x01, 0x02, 0x20] {
                let mut copy = bytes.clone();
                copy[i] ^= bit;
                let Ok(text) = String::from_utf8(copy) else {
                    continue;
                };
                // Whitespace may change harmlessly; a different configuration never reads.
                if let Ok(c) = decode(&text) {
                    assert_eq!(c, config, "byte {i} ^ {bit:#x}: {text}");
                }
            }
        }
        for cut in 0..bytes.len() - 1 {
            let text = std::str::from_utf8(&bytes[..cut]).unwrap();
            assert!(decode(text).is_err(), "cut at {cut}");
        }
    }
}
