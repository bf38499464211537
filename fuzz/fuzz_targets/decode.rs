//! Bytes through `Engine::process`: gzip sniffing and multi-member inflate, the caps,
//! the splitter, envelopes (awslogs, logEvents, EventBridge), parsing and every detection.
//! And the same bytes through `Engine::process_pipelined`, whose decode thread leaves the
//! gzip checks to the consumer: it must end the same, with the same findings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailwatch::Finding;
use trailwatch::state::MemoryStore;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let engine = common::engine();
    let mut findings: Vec<Finding> = Vec::new();
    let result = engine.process(data, &mut findings);
    let mut piped: Vec<Finding> = Vec::new();
    let piped_result = engine.process_pipelined(data, &MemoryStore::new(), &mut piped);
    let outcome = |r: &Result<trailwatch::FileStats, Box<trailwatch::FileError>>, f: &[Finding]| {
        let ids: Vec<_> = f.iter().map(|f| (&f.detection, &f.event_ids)).collect();
        match r {
            Ok(stats) => format!("{stats:?} {ids:?}"),
            Err(e) => format!("{:?} {e} {ids:?}", e.stats),
        }
    };
    assert_eq!(outcome(&result, &findings), outcome(&piped_result, &piped), "the decode thread changed the outcome");
    let stats = match result {
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
