//! The skim (`record::skim`, the fast path for the records of a CloudTrail file) against
//! the full simd-json tape view: on valid JSON both must read the same view. Read where it
//! lies (`record::skim_prefix`, followed by more input), a record must read the same and
//! end where it ends; cut short, it must ask for more.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Read;
use std::path::Path;

use proptest::prelude::*;
use serde_json::{Value, json};
use trailwatch::record::{Parser, RecordView, Scratch, Short, skim, skim_prefix};

/// The view both ways, as text (the tape's view borrows its own copy of the bytes). On
/// an object, the view read where it lies must be the skim's, and end where it ends.
fn both(record: &[u8]) -> (String, String) {
    let scratch = Scratch::new();
    let skimmed = skim(record, &scratch);
    let fast = format!("{skimmed:?}");
    let text = record.trim_ascii();
    if text.first() == Some(&b'{') {
        let followed = [text, b",{\"eventName\":\"Next\"}]"].concat();
        let mut view = RecordView::default();
        let read = skim_prefix(&followed, &scratch, &mut view);
        match &skimmed {
            Ok(skimmed) => {
                assert_eq!(read, Ok(text.len()), "{}", String::from_utf8_lossy(record));
                assert_eq!(&view, skimmed);
            }
            Err(_) => assert_eq!(read, Err(Short::Broken), "{}", String::from_utf8_lossy(record)),
        }
    }
    let mut b = record.to_vec();
    let slow = Parser::default()
        .parse(&mut b, |v| format!("{:?}", RecordView::from_value(v).ok_or(())))
        .unwrap();
    (
        fast.replace("Ok(", "").replace("Err(NotObject)", "()"),
        slow.replace("Ok(", "").replace("Err(())", "()"),
    )
}

fn assert_same(record: &[u8]) {
    let (fast, slow) = both(record);
    assert_eq!(fast, slow, "{}", String::from_utf8_lossy(record));
}

/// The decompressed bytes of every sample and reference file.
fn corpus_files() -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    for dir in [
        Path::new("samples"),
        Path::new("../shared/reference/real-records"),
    ] {
        for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
            let path = entry.unwrap().into_path();
            let name = path.to_string_lossy().into_owned();
            if name.contains("adversarial") || !path.is_file() {
                continue;
            }
            if name.ends_with(".gz") {
                let mut bytes = Vec::new();
                trailwatch::decode::decompress(std::fs::File::open(&path).unwrap(), u64::MAX)
                    .unwrap()
                    .read_to_end(&mut bytes)
                    .unwrap();
                files.push(bytes);
            } else if [".json", ".ndjson", ".jsonl"]
                .iter()
                .any(|ext| name.ends_with(ext))
            {
                files.push(std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// Every record of every sample and reference file.
fn corpus() -> Vec<Value> {
    let mut records = Vec::new();
    for bytes in corpus_files() {
        for doc in serde_json::Deserializer::from_slice(&bytes).into_iter::<Value>() {
            let Ok(doc) = doc else { continue };
            match doc.get("Records").and_then(Value::as_array) {
                Some(list) => records.extend(list.iter().cloned()),
                None => records.push(doc.get("detail").cloned().unwrap_or(doc)),
            }
        }
    }
    records
}

#[test]
fn every_sample_and_reference_record_reads_the_same() {
    let records = corpus();
    assert!(records.len() > 500, "only {} records found", records.len());
    for record in &records {
        assert_same(record.to_string().as_bytes());
        assert_same(serde_json::to_string_pretty(record).unwrap().as_bytes());
    }
}

/// The records of every sample and reference file as they lie, in the order CloudTrail
/// wrote their keys (which [`corpus`], through `serde_json::Value`, sorts): the order the
/// skim tries first.
#[test]
fn every_sample_and_reference_record_as_it_lies_reads_the_same() {
    let mut records = 0;
    for bytes in corpus_files() {
        let mut pieces = trailwatch::decode::Splitter::new(&bytes[..], 1 << 20);
        while let Some((kind, piece)) = pieces.next_piece().unwrap() {
            if kind == trailwatch::decode::PieceKind::Record {
                assert_same(piece);
                records += 1;
            }
        }
    }
    assert!(records > 500, "only {records} records found");
}

#[test]
fn a_record_cut_short_asks_for_more() {
    let scratch = Scratch::new();
    for record in corpus().iter().step_by(5) {
        let text = record.to_string();
        for cut in 1..text.len() {
            let mut view = RecordView::default();
            let read = skim_prefix(&text.as_bytes()[..cut], &scratch, &mut view);
            assert_eq!(read, Err(Short::Incomplete), "{}", &text[..cut]);
        }
    }
}

#[test]
fn a_member_after_a_closing_brace_is_not_read_into_the_object() {
    let scratch = Scratch::new();
    let next = r#",{"eventName":"Next"}]"#;
    for (record, want) in [
        (r#"{"userIdentity":{"type":"a"}"arn":"b"}"#, Err(Short::Broken)),
        (r#"{"eventVersion":"1"}"#, Ok(20)),
        (r#"{"eventVersion":"1"}"eventTime":"t"}"#, Ok(20)),
    ] {
        let bytes = format!("{record}{next}");
        let mut view = RecordView::default();
        let read = skim_prefix(bytes.as_bytes(), &scratch, &mut view);
        assert_eq!(read, want, "{record}");
        assert_eq!(view.event_time, None, "{record}");
        assert_eq!(view.identity.arn, None, "{record}");
    }
}

#[test]
fn escapes_duplicates_and_wrong_types_read_the_same() {
    let cases = [
        r#"{"eventName":"Get\u004fbject","userAgent":"a\"b\\c\/d\n\t caf\u00e9 \ud83d\ude80"}"#,
        r#"{"event\u004eame":"Escaped key","eventName":"Later wins"}"#,
        r#"{"userIdentity":{"sessionContext":{"sessionIssuer":{"arn":"a"},"sessionIssuer":{"arn":"b"}}}}"#,
        r#"{"userIdentity":{"sessionContext":{"ec2RoleDelivery":"2.0","ec2RoleDelivery":"1.0"}}}"#,
        r#"{"userIdentity":{"sessionContext":{"ec2RoleDelivery":"1.0"},"sessionContext":5}}"#,
        r#"{"responseElements":{"credentials":{"accessKeyId":"A"},"credentials":{"expiration":"x"}}}"#,
        r#"{"requestParameters":{"tags":[{"key":"eks-cluster-name","value":"a","value":"b"},7,null]}}"#,
        r#"{"requestParameters":{"durationSeconds":3600.5,"roleArn":["x"],"tags":{"key":"k"}}}"#,
        r#"{"requestParameters":{"durationSeconds":-1}}"#,
        r#"{"requestParameters":{"durationSeconds":-0}}"#,
        r#"{"requestParameters":{"durationSeconds":1e3}}"#,
        r#"{"requestParameters":{"durationSeconds":18446744073709551615}}"#,
        r#"{"eventName":null,"eventSource":true,"userIdentity":"x","requestParameters":[],"responseElements":1}"#,
        r#"{"@timestamp":"2026-11-30T10:00:00Z","eventTime":7}"#,
        r#"{"eventTime":"2026-11-30T10:00:00Z","@timestamp":"2020-01-01T00:00:00Z"}"#,
        r#"{"a":{"b":[{"c":"]}\"{["}]},"eventName":"AfterNested"}"#,
        "  {\n \"eventName\" :\t\"Spaces\" , \"x\" : [ ] , \"y\" : { } }  ",
        r#"{}"#,
        r#"[1,2]"#,
        r#""a string""#,
    ];
    for case in cases {
        assert_same(case.as_bytes());
    }
}

/// JSON values whose keys are often the ones the view reads.
fn value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("eventName".to_string()),
        Just("eventSource".to_string()),
        Just("userIdentity".to_string()),
        Just("sessionContext".to_string()),
        Just("sessionIssuer".to_string()),
        Just("arn".to_string()),
        Just("type".to_string()),
        Just("requestParameters".to_string()),
        Just("responseElements".to_string()),
        Just("credentials".to_string()),
        Just("accessKeyId".to_string()),
        Just("tags".to_string()),
        Just("key".to_string()),
        Just("value".to_string()),
        Just("durationSeconds".to_string()),
        "[a-zA-Z]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u32>().prop_map(Value::from),
        // Any text, quotes, backslashes, controls and astral characters included.
        any::<String>().prop_map(Value::from),
        Just(json!("kubernetes-namespace")),
        Just(json!("eks-cluster-name")),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..8)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// The keys of each object CloudTrail writes, in its order.
const RECORD_KEYS: &[&str] = &[
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "requestID",
    "eventID",
    "readOnly",
    "resources",
    "eventType",
    "apiVersion",
    "managementEvent",
    "recipientAccountId",
    "serviceEventDetails",
    "sharedEventID",
    "vpcEndpointId",
    "vpcEndpointAccountId",
    "eventCategory",
    "addendum",
    "sessionCredentialFromConsole",
    "edgeDeviceDetails",
    "tlsDetails",
    "@timestamp",
];
const IDENTITY_KEYS: &[&str] = &[
    "type",
    "principalId",
    "arn",
    "accountId",
    "accessKeyId",
    "userName",
    "sessionContext",
    "invokedBy",
    "identityProvider",
];
const CONTEXT_KEYS: &[&str] = &[
    "sessionIssuer",
    "webIdFederationData",
    "attributes",
    "sourceIdentity",
    "ec2RoleDelivery",
];
const ISSUER_KEYS: &[&str] = &[
    "type",
    "principalId",
    "assumedRoleId",
    "arn",
    "accountId",
    "userName",
];

/// An object's text with `keys` in their order, each value from `text` but the one of
/// `inner.0`, which is mostly `inner.1`; each member kept, dropped, escaped, spaced (before
/// its colon, after its value or after the comma before it), repeated, swapped with the one
/// before, followed by another key or preceded by a key one letter longer or shorter, as a
/// random byte says.
fn in_order(
    keys: &'static [&'static str],
    text: impl Strategy<Value = String> + Clone + 'static,
    inner: Option<(&'static str, BoxedStrategy<String>)>,
) -> BoxedStrategy<String> {
    let (inner_key, inner) = inner.unwrap_or(("", Just(String::new()).boxed()));
    let members = prop::collection::vec((any::<u8>(), text.clone()), keys.len());
    (members, prop_oneof![3 => inner, 1 => text])
        .prop_map(move |(members, inner)| {
            let mut fields: Vec<(String, String)> = Vec::new();
            let mut repeats = Vec::new();
            for (key, (how, mut value)) in keys.iter().zip(members) {
                if *key == inner_key {
                    value.clone_from(&inner);
                }
                let mut name = format!("{key:?}");
                match how % 16 {
                    0..=2 => continue,
                    3 => name = format!("\"\\u{:04x}{}\"", key.as_bytes()[0], &key[1..]),
                    4 => name = format!("{name} "),
                    5 => repeats.push((name.clone(), "\"again\"".to_string())),
                    6 => fields.push(("\"other\"".into(), "{\"arn\":\"x\"}".into())),
                    7 if !fields.is_empty() => {
                        let before = fields.pop().unwrap_or_default();
                        fields.push((name, value));
                        fields.push(before);
                        continue;
                    }
                    8 => value.push(' '),
                    9 => name = format!(" {name}"),
                    10 => fields.push((format!("\"{key}X\""), "\"longer\"".into())),
                    11 => fields.push((format!("{:?}", &key[..key.len() - 1]), "\"shorter\"".into())),
                    _ => {}
                }
                fields.push((name, value));
            }
            fields.extend(repeats);
            let open = if fields.len() % 4 == 1 { "{ " } else { "{" };
            let members: Vec<String> = fields.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
            format!("{open}{}}}", members.join(","))
        })
        .boxed()
}

/// A record's text with its objects' keys in CloudTrail's order, mostly.
fn ordered_record() -> impl Strategy<Value = String> {
    let text = prop_oneof![
        4 => "[a-zA-Z0-9:/._-]{0,40}".prop_map(|s| format!("{s:?}")),
        1 => any::<String>().prop_map(|s| Value::from(s).to_string()),
        1 => prop_oneof![Just("null"), Just("7"), Just("[]"), Just("{\"a\":[1,{}]}")].prop_map(String::from),
    ];
    let issuer = in_order(ISSUER_KEYS, text.clone(), None);
    let context = in_order(CONTEXT_KEYS, text.clone(), Some(("sessionIssuer", issuer)));
    let identity = in_order(IDENTITY_KEYS, text.clone(), Some(("sessionContext", context)));
    in_order(RECORD_KEYS, text, Some(("userIdentity", identity)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn records_in_cloudtrails_key_order_read_the_same(record in ordered_record()) {
        let (fast, slow) = both(record.as_bytes());
        prop_assert_eq!(fast, slow);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn records_in_cloudtrails_key_order_cut_short_ask_for_more(record in ordered_record()) {
        let scratch = Scratch::new();
        for cut in 1..record.len() {
            let mut view = RecordView::default();
            let read = skim_prefix(&record.as_bytes()[..cut], &scratch, &mut view);
            prop_assert_eq!(read, Err(Short::Incomplete), "{}", &record.as_bytes().escape_ascii().to_string()[..]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_valid_json_reads_the_same(v in value()) {
        let (fast, slow) = both(v.to_string().as_bytes());
        prop_assert_eq!(fast, slow);
    }

    #[test]
    fn any_bytes_are_an_error_or_a_view_never_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let scratch = Scratch::new();
        let _ = skim(&bytes, &scratch);
        let mut view = RecordView::default();
        if let Ok(len) = skim_prefix(&bytes, &scratch, &mut view) {
            prop_assert!(len <= bytes.len());
        }
    }
}
