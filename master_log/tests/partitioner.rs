//! Kafka's default partitioner, checked against reference values computed with Kafka's
//! Java algorithm and librdkafka (`tests/data/kafka_murmur2.csv`).

use std::collections::BTreeSet;

use master_log::{Bytes, EmbeddedLog, FetchLimits, Log, NewRecord, TopicConfig};
use master_log::{murmur2, partition_for_key};

/// Partition counts of the columns p1..p100, in order.
const COUNTS: [u32; 10] = [1, 2, 3, 4, 5, 7, 8, 12, 16, 100];

struct Row {
    key: Vec<u8>,
    murmur2: i32,
    partitions: Vec<u32>,
}

fn decode_hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length: {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn load_rows() -> Vec<Row> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/kafka_murmur2.csv");
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header = lines.next().unwrap();
    assert_eq!(
        header,
        "key_hex,murmur2_i32,p1,p2,p3,p4,p5,p7,p8,p12,p16,p100"
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split(',').collect();
            assert_eq!(cols.len(), 12, "bad row {line:?}");
            Row {
                key: decode_hex(cols[0]),
                murmur2: cols[1].parse().unwrap(),
                partitions: cols[2..].iter().map(|c| c.parse().unwrap()).collect(),
            }
        })
        .collect()
}

#[test]
fn reference_file_has_200_distinct_keys() {
    let rows = load_rows();
    assert_eq!(rows.len(), 200);
    let keys: BTreeSet<&[u8]> = rows.iter().map(|r| r.key.as_slice()).collect();
    assert_eq!(keys.len(), 200);
    // Both the empty key and keys of every tail length (0..4 bytes past a multiple of 4)
    // are covered, so every branch of murmur2's tail handling is exercised.
    let tails: BTreeSet<usize> = rows.iter().map(|r| r.key.len() % 4).collect();
    assert_eq!(tails, BTreeSet::from([0, 1, 2, 3]));
    assert!(rows.iter().any(|r| r.key.is_empty()));
}

#[test]
fn murmur2_matches_kafka_for_all_reference_keys() {
    let rows = load_rows();
    let mismatches: Vec<String> = rows
        .iter()
        .filter(|r| murmur2(&r.key) != r.murmur2)
        .map(|r| {
            format!(
                "{:02x?}: got {}, Kafka {}",
                r.key,
                murmur2(&r.key),
                r.murmur2
            )
        })
        .collect();
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
fn partition_for_key_matches_kafka_for_all_counts() {
    let rows = load_rows();
    let mut mismatches = Vec::new();
    for r in &rows {
        for (&n, &want) in COUNTS.iter().zip(&r.partitions) {
            let got = partition_for_key(&r.key, n);
            if got != want {
                mismatches.push(format!("{:02x?} over {n}: got {got}, Kafka {want}", r.key));
            }
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
fn produce_puts_each_key_in_its_partition() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    let rows = load_rows();
    for &n in &[1u32, 3, 7, 12] {
        let topic = format!("keys-{n}");
        log.create_topic(&topic, TopicConfig::with_partitions(n))
            .unwrap();
        let records: Vec<NewRecord> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| NewRecord::keyed(r.key.clone(), format!("{i}"), i as i64))
            .collect();
        let landed = log.produce(&topic, records).unwrap();
        // One group per partition that got keys, in partition order.
        let parts: Vec<u32> = landed.iter().map(|(p, _)| *p).collect();
        let mut sorted = parts.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(parts, sorted);

        let mut seen = 0;
        for p in 0..n {
            let got = log.fetch(&topic, p, 0, FetchLimits::default()).unwrap();
            let mut last_index = None;
            for rec in &got {
                let key: &Bytes = rec.key.as_ref().unwrap();
                assert_eq!(
                    partition_for_key(key, n),
                    p,
                    "key {key:02x?} landed in partition {p} of {n}"
                );
                let i: usize = std::str::from_utf8(rec.value.as_ref().unwrap())
                    .unwrap()
                    .parse()
                    .unwrap();
                assert_eq!(rows[i].key, key.as_ref());
                // Records keep their relative order within a partition.
                assert!(last_index < Some(i));
                last_index = Some(i);
            }
            seen += got.len();
        }
        assert_eq!(seen, rows.len(), "every record landed somewhere, once");
    }
}
