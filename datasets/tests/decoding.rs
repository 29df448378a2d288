//! Values decode with either codec, and garbage is an error, never a panic.

use datasets::rng::Rng;
use datasets::{
    Codec, Column, ColumnType, DatasetKind, GenerateOptions, Generator, NexmarkEvent, PageView,
    Schema, YsbEvent,
};

fn garbage(rng: &mut Rng, tag: u8) -> Vec<u8> {
    let len = rng.below(80) as usize;
    let mut v: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
    if !v.is_empty() && rng.below(2) == 0 {
        v[0] = tag; // past the tag check, into the decoder proper
    }
    v
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng::new(99, 0);
    let schema = Schema {
        columns: [
            ColumnType::Integer,
            ColumnType::Float,
            ColumnType::String,
            ColumnType::Bool,
            ColumnType::Timestamp,
        ]
        .into_iter()
        .enumerate()
        .map(|(i, ty)| Column {
            name: format!("c{i}"),
            ty,
        })
        .collect(),
        time_column: "c4".into(),
        key_column: None,
    };
    for _ in 0..50_000 {
        let _ = datasets::decode::<PageView>(&garbage(&mut rng, 0x01));
        let _ = datasets::decode::<YsbEvent>(&garbage(&mut rng, 0x02));
        let _ = datasets::decode::<NexmarkEvent<'_>>(&garbage(&mut rng, 0x03));
        let _ = schema.decode(&garbage(&mut rng, 0x04));
    }
    let mut json = b"{\"event_id\":".to_vec();
    json.extend_from_slice(b"1}");
    assert!(datasets::decode::<YsbEvent>(&json).is_err());
    assert!(datasets::decode::<YsbEvent>(&[]).is_err());
}

#[test]
fn generated_values_decode_with_both_codecs_and_match_their_records() {
    for codec in [Codec::Postcard, Codec::Json] {
        for dataset in DatasetKind::ALL {
            let opts = GenerateOptions {
                codec,
                key_skew: Some(1.0),
                ..GenerateOptions::new(dataset, "t", 2_000)
            };
            for r in Generator::new(&opts).unwrap() {
                let r = r.unwrap();
                let (id, time) = match dataset {
                    DatasetKind::Pageviews => {
                        let e: PageView = datasets::decode(&r.value).unwrap();
                        assert_eq!(&r.key[..], e.page_id.to_string().as_bytes());
                        (e.event_id, e.event_time)
                    }
                    DatasetKind::Ysb => {
                        let e: YsbEvent = datasets::decode(&r.value).unwrap();
                        assert_eq!(&r.key[..], &e.ad_id.0[..]);
                        (e.event_id, e.event_time)
                    }
                    DatasetKind::Nexmark => {
                        let e: NexmarkEvent<'_> = datasets::decode(&r.value).unwrap();
                        (
                            datasets::Event::event_id(&e),
                            datasets::Event::event_time(&e),
                        )
                    }
                };
                assert_eq!(
                    (id, time),
                    (r.event_id, r.event_time),
                    "{dataset} {codec:?}"
                );
            }
        }
    }
}
