//! `record::skim` on any bytes: never a panic, and on valid JSON the same view as the
//! simd-json tape (`RecordView::from_value`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailwatch::record::{Parser, RecordView, skim};

fuzz_target!(|data: &[u8]| {
    let mut fast = data.to_vec();
    let skimmed = skim(&mut fast);
    // Compare on valid JSON only (serde_json is strict; simd-json lets some damage pass,
    // such as NUL bytes after a number), and without `\u` escapes: the tape decodes a lone
    // surrogate to U+0000, the skim to U+FFFD.
    if data.windows(2).any(|w| w == b"\\u") || serde_json::from_slice::<serde_json::Value>(data).is_err() {
        return;
    }
    let mut slow = data.to_vec();
    let _ = Parser::default().parse(&mut slow, |value| {
        if let Some(view) = RecordView::from_value(value) {
            assert_eq!(skimmed.as_ref().ok(), Some(&view), "skim and tape disagree");
        }
    });
});
