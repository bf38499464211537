//! Bytes through `Engine::process`: gzip sniffing and multi-member inflate, the caps,
//! the splitter, envelopes (awslogs, logEvents, EventBridge), parsing and every detection.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailwatch::Finding;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let mut findings: Vec<Finding> = Vec::new();
    let stats = match common::engine().process(data, &mut findings) {
        Ok(stats) => stats,
        Err(e) => e.stats,
    };
    assert!(
        stats.bytes <= common::MAX_DECOMPRESSED,
        "read past max_decompressed_bytes: {stats:?}"
    );
    assert_eq!(stats.findings, findings.len() as u64);
    for finding in &findings {
        common::check(finding);
    }
});
