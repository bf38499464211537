//! A whole document through `decode::classify`, directly and via the engine, wrapped in
//! each envelope the engine unwraps: the fuzzer reaches inside base64 and gzip this way.
#![no_main]

use std::io::Write;

use base64::Engine as _;
use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::fuzz_target;
use trailwatch::Finding;
use trailwatch::decode::{DocumentKind, classify};
use trailwatch::record::{Parser, RecordView};

#[path = "common.rs"]
mod common;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn text(data: &[u8]) -> String {
    serde_json::Value::String(String::from_utf8_lossy(data).into_owned()).to_string()
}

fuzz_target!(|input: &[u8]| {
    let Some((&shape, rest)) = input.split_first() else {
        return;
    };
    let raw = String::from_utf8_lossy(rest);
    let document: Vec<u8> = match shape % 7 {
        0 => rest.to_vec(),
        // The fuzzer writes the decoded CloudWatch Logs payload; the harness packs it.
        1 => format!(r#"{{"awslogs":{{"data":"{}"}}}}"#, b64(&gzip(rest))).into_bytes(),
        // The fuzzer writes the gzip stream itself.
        2 => format!(r#"{{"awslogs":{{"data":"{}"}}}}"#, b64(rest)).into_bytes(),
        3 => format!(
            r#"{{"messageType":"DATA_MESSAGE","logEvents":[{{"id":"1","timestamp":1,"message":{}}}]}}"#,
            text(rest)
        )
        .into_bytes(),
        4 => format!(r#"{{"detail-type":"AWS API Call via CloudTrail","detail":{raw}}}"#).into_bytes(),
        5 => format!(r#"{{"x":1,"Records":[{raw}]}}"#).into_bytes(),
        _ => format!(r#"{{"Records":[{raw}]}}"#).into_bytes(),
    };

    // classify on its own: every shape's contents must be walkable.
    let mut bytes = document.clone();
    let _ = Parser::default().parse(&mut bytes, |doc| match classify(doc) {
        DocumentKind::Records(records) | DocumentKind::LogEvents(records) => {
            records.iter().filter_map(RecordView::from_value).count()
        }
        DocumentKind::Record(record) => usize::from(RecordView::from_value(record).is_some()),
        DocumentKind::AwsLogs(data) => data.len(),
        _ => 0,
    });

    let mut findings: Vec<Finding> = Vec::new();
    let stats = match common::engine().process(&document[..], &mut findings) {
        Ok(stats) => stats,
        Err(e) => e.stats,
    };
    assert_eq!(stats.findings, findings.len() as u64);
    for finding in &findings {
        common::check(finding);
    }
});
