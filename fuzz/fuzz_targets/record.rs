//! One record through `record::Parser` and `RecordView::from_value`, then every accessor.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailwatch::decode::event_version;
use trailwatch::record::{Parser, RecordView, parse_expiration, parse_time};

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.to_vec();
    let mut parser = Parser::default();
    let _ = parser.parse(&mut bytes, |value| {
        let Some(view) = RecordView::from_value(value) else {
            return;
        };
        let _ = (view.is_record(), view.account(), view.epoch(), view.action());
        for s in [view.event_time, view.response.expiration].into_iter().flatten() {
            let _ = (parse_time(s), parse_expiration(s));
        }
        if let Some(v) = view.event_version {
            let _ = event_version(v);
        }
    });
    // The parser is reused across records: a second parse of the same bytes must agree.
    let mut again = data.to_vec();
    let first = Parser::default().parse(&mut data.to_vec(), |v| RecordView::from_value(v).is_some());
    let second = parser.parse(&mut again, |v| RecordView::from_value(v).is_some());
    assert_eq!(first, second, "a reused parser disagrees with a fresh one");
});
