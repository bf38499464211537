//! `record::skim` on any bytes: never a panic, and on valid JSON the same view as the
//! simd-json tape (`RecordView::from_value`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailwatch::record::{Parser, RecordView, Scratch, skim, skim_prefix};

fuzz_target!(|data: &[u8]| {
    let scratch = Scratch::new();
    let skimmed = skim(data, &scratch);
    // Read where it lies, a whole record reads the same and ends where the data does.
    let mut view = RecordView::default();
    if let (Ok(len), Ok(whole)) = (skim_prefix(data, &scratch, &mut view), &skimmed)
        && data.first() == Some(&b'{')
    {
        assert_eq!(&view, whole, "read where it lies, the record reads otherwise");
        assert_eq!(data[len..].trim_ascii(), b"", "read where it lies, the record ends elsewhere");
    }
    // Compare on valid JSON only (serde_json is strict; simd-json lets some damage pass,
    // such as NUL bytes after a number). Escapes are compared too: both parsers read a
    // lone surrogate as U+FFFD, though serde_json refuses one, so those inputs stop here.
    if serde_json::from_slice::<serde_json::Value>(data).is_err() {
        return;
    }
    let mut slow = data.to_vec();
    let _ = Parser::default().parse(&mut slow, |value| {
        if let Some(view) = RecordView::from_value(value) {
            assert_eq!(skimmed.as_ref().ok(), Some(&view), "skim and tape disagree");
        }
    });
});
