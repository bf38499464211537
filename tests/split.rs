//! The streaming splitter against a whole-document parse, for any chunking and content.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{self, Read};

use proptest::prelude::*;
use serde_json::{Value, json};
use trailwatch::decode::{PieceKind, Splitter};

/// A reader that hands out its bytes in the given chunk sizes (cycled).
struct Chunked {
    data: Vec<u8>,
    at: usize,
    sizes: Vec<usize>,
    turn: usize,
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.sizes[self.turn % self.sizes.len()].max(1);
        self.turn += 1;
        let n = size.min(buf.len()).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn pieces(data: Vec<u8>, sizes: Vec<usize>, max: usize) -> Result<Vec<(PieceKind, Value)>, String> {
    let mut splitter = Splitter::new(
        Chunked {
            data,
            at: 0,
            sizes,
            turn: 0,
        },
        max,
    );
    let mut out = Vec::new();
    while let Some((kind, bytes)) = splitter.next_piece().map_err(|e| e.to_string())? {
        let value = if kind == PieceKind::Oversized {
            Value::Null
        } else {
            serde_json::from_slice(bytes).map_err(|e| format!("{e}: {:?}", String::from_utf8_lossy(bytes)))?
        };
        out.push((kind, value));
    }
    Ok(out)
}

/// JSON values shaped like CloudTrail records, with strings full of structure characters.
fn record() -> impl Strategy<Value = Value> {
    let text = prop_oneof![
        "[a-z]{0,8}",
        r#"[\[\]{}",:\\ \n\t\u{0}-\u{1f}é日\u{1F600}]{0,12}"#,
        Just("\\\"".to_string()),
        Just("]}".to_string()),
    ];
    let leaf = prop_oneof![
        text.clone().prop_map(Value::String),
        any::<i64>().prop_map(|n| json!(n)),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    let tree = leaf.prop_recursive(4, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z\"\\\\{]{1,6}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    (text, tree).prop_map(|(name, detail)| json!({"eventName": name, "requestParameters": detail}))
}

fn whitespace() -> impl Strategy<Value = String> {
    "[ \t\r\n]{0,3}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn records_array_matches_whole_parse(
        records in prop::collection::vec(record(), 0..12),
        ws in prop::collection::vec(whitespace(), 16),
        sizes in prop::collection::vec(1usize..300, 1..8),
    ) {
        // Build `{"Records":[...]}` with arbitrary whitespace between tokens.
        let mut doc = format!("{}{{{}\"Records\"{}:{}[", ws[0], ws[1], ws[2], ws[3]);
        for (i, r) in records.iter().enumerate() {
            if i > 0 {
                doc.push_str(&ws[4 + i % 4]);
                doc.push(',');
            }
            doc.push_str(&ws[8 + i % 4]);
            doc.push_str(&serde_json::to_string(r).unwrap());
        }
        doc.push_str(&format!("{}]{}}}{}", ws[12], ws[13], ws[14]));
        let whole: Value = serde_json::from_str(&doc).unwrap();
        let expected = whole["Records"].as_array().unwrap().clone();

        let got = pieces(doc.into_bytes(), sizes, 1 << 20).map_err(TestCaseError::fail)?;
        prop_assert!(got.iter().all(|(k, _)| *k == PieceKind::Record), "kinds: {got:?}");
        let got: Vec<Value> = got.into_iter().map(|(_, v)| v).collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn ndjson_matches_line_parse(
        records in prop::collection::vec(record(), 1..12),
        sizes in prop::collection::vec(1usize..300, 1..8),
        pretty in any::<bool>(),
    ) {
        let doc: String = records
            .iter()
            .map(|r| if pretty { serde_json::to_string_pretty(r) } else { serde_json::to_string(r) }.unwrap() + "\n")
            .collect();
        let got = pieces(doc.into_bytes(), sizes, 1 << 20).map_err(TestCaseError::fail)?;
        prop_assert!(got.iter().all(|(k, _)| *k == PieceKind::Document));
        let got: Vec<Value> = got.into_iter().map(|(_, v)| v).collect();
        prop_assert_eq!(got, records);
    }

    #[test]
    fn oversized_records_are_dropped_alone(
        records in prop::collection::vec(record(), 1..8),
        sizes in prop::collection::vec(1usize..300, 1..8),
    ) {
        let max = 64;
        let doc = serde_json::to_string(&json!({"Records": records})).unwrap();
        let got = pieces(doc.into_bytes(), sizes, max).map_err(TestCaseError::fail)?;
        prop_assert_eq!(got.len(), records.len());
        for ((kind, value), original) in got.iter().zip(&records) {
            let len = serde_json::to_string(original).unwrap().len();
            if *kind == PieceKind::Oversized {
                prop_assert!(len > max, "dropped a {len}-byte record");
            } else {
                prop_assert_eq!(value, original);
            }
        }
    }
}

#[test]
fn records_key_not_first_is_one_document() {
    let doc = br#"{"other": 1, "Records": [{"eventName": "A"}]}"#.to_vec();
    let got = pieces(doc, vec![7], 1 << 20).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, PieceKind::Document);
}

#[test]
fn extra_keys_after_records_are_skipped() {
    let doc = br#"{"Records":[{"eventName":"A"}], "trailer": {"x": "]}"}} {"eventName":"B"}"#.to_vec();
    let got = pieces(doc, vec![5], 1 << 20).unwrap();
    let kinds: Vec<PieceKind> = got.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, [PieceKind::Record, PieceKind::Document]);
    assert_eq!(got[1].1["eventName"], "B");
}

#[test]
fn truncated_and_non_json_inputs_fail() {
    let cases: [(&[u8], &str); 4] = [
        (br#"{"Records":[{"eventName":"A"}"#, "ends inside"),
        (br#"{"Records":[{"eventName":"A"#, "ends inside"),
        (b"PK\x03\x04 zip file", "not gzip and not JSON"),
        (b"\xff\xfe\x00\x01", "not gzip and not JSON"),
    ];
    for (input, want) in cases {
        let err = pieces(input.to_vec(), vec![3], 1 << 20).expect_err("must fail");
        assert!(err.contains(want), "{input:?}: {err}");
    }
}

#[test]
fn deep_nesting_does_not_overflow() {
    let depth = 100_000;
    let doc = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let mut splitter = Splitter::new(doc.as_bytes(), 1 << 20);
    let (kind, bytes) = splitter.next_piece().unwrap().unwrap();
    assert_eq!((kind, bytes.len()), (PieceKind::Document, 2 * depth));
}
