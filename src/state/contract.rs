//! The contract every [`StateStore`] must meet, as a suite any implementation's tests
//! call: `trailwatch::state::contract::check(&store)`. It panics, naming the broken rule.
//!
//! Keys are prefixed with `prefix` so that a shared backend (a DynamoDB table) can run
//! the suite more than once.

// A test suite for other crates to run: a panic is how it reports a broken rule.
#![allow(clippy::unwrap_used)]

use std::sync::Barrier;

use super::{Counted, DistinctCount, NewEntry, StateStore};

/// Runs every rule against `store`, with keys under `prefix`.
pub fn check(store: &dyn StateStore, prefix: &str) {
    let key = |k: &str| format!("{prefix}{k}");
    let t0 = 1_800_000_000; // an event time

    // get / put / overwrite
    assert_eq!(
        store.get(&key("absent"), t0).unwrap(),
        None,
        "absent key reads as None"
    );
    store.put(&key("a"), b"one", t0 + 60).unwrap();
    assert_eq!(
        store.get(&key("a"), t0).unwrap().as_deref(),
        Some(&b"one"[..]),
        "put then get"
    );
    store.put(&key("a"), b"two", t0 + 60).unwrap();
    assert_eq!(
        store.get(&key("a"), t0).unwrap().as_deref(),
        Some(&b"two"[..]),
        "put overwrites"
    );
    let binary: Vec<u8> = (0..=255).collect();
    store.put(&key("binary"), &binary, t0 + 60).unwrap();
    assert_eq!(
        store.get(&key("binary"), t0).unwrap(),
        Some(binary),
        "values are bytes, not text"
    );
    let long = key(&format!("unicode-日本-{}", "k".repeat(400)));
    store.put(&long, b"x", t0 + 60).unwrap();
    assert!(store.get(&long, t0).unwrap().is_some(), "long and non-ASCII keys");

    // expiry: live until `expires`, gone at it
    assert!(
        store.get(&key("a"), t0 + 59).unwrap().is_some(),
        "live one second before expiry"
    );
    assert_eq!(
        store.get(&key("a"), t0 + 60).unwrap(),
        None,
        "expired at its expiry"
    );
    assert!(
        store.get(&key("a"), t0).unwrap().is_some(),
        "expiry is relative to the caller's now"
    );

    // put_if_absent
    assert!(
        store.put_if_absent(&key("once"), b"first", t0, t0 + 10).unwrap(),
        "first put_if_absent stores"
    );
    assert!(
        !store
            .put_if_absent(&key("once"), b"second", t0 + 5, t0 + 10)
            .unwrap(),
        "second is refused"
    );
    assert_eq!(
        store.get(&key("once"), t0).unwrap().as_deref(),
        Some(&b"first"[..]),
        "refused write changes nothing"
    );
    assert!(
        store
            .put_if_absent(&key("once"), b"third", t0 + 10, t0 + 20)
            .unwrap(),
        "an expired key is absent"
    );
    assert_eq!(
        store.get(&key("once"), t0 + 10).unwrap().as_deref(),
        Some(&b"third"[..])
    );

    // a put is seen by every later operation, even before a flush
    store.put(&key("held"), b"h", t0 + 60).unwrap();
    assert!(
        !store.put_if_absent(&key("held"), b"x", t0, t0 + 60).unwrap(),
        "put_if_absent sees an earlier put"
    );
    assert_eq!(
        store.get(&key("held"), t0).unwrap().as_deref(),
        Some(&b"h"[..]),
        "a refused put_if_absent leaves the put"
    );

    // batches: more keys than one request carries, duplicates, each key's own `now`
    let many: Vec<String> = (0..250).map(|i| key(&format!("many/{i}"))).collect();
    for (i, k) in many.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        store.put(k, format!("{i}").as_bytes(), t0 + 60).unwrap();
    }
    let mut lookups: Vec<(String, i64)> = many.iter().map(|k| (k.clone(), t0)).collect();
    lookups.push((many[3].clone(), t0));
    lookups.push((many[3].clone(), t0 + 60));
    let got = store.get_many(&lookups).unwrap();
    assert_eq!(got.len(), lookups.len(), "get_many answers every key");
    for (i, value) in got.iter().take(250).enumerate() {
        let expected = (i % 3 == 0).then(|| format!("{i}").into_bytes());
        assert_eq!(value, &expected, "get_many in order, key {i}");
    }
    assert_eq!(
        got[250].as_deref(),
        Some(&b"3"[..]),
        "a repeated key is answered again"
    );
    assert_eq!(got[251], None, "get_many honours each key's now");
    assert!(store.get_many(&[]).unwrap().is_empty(), "an empty batch");

    let entry = |k: &str, v: &str, now: i64| NewEntry {
        key: key(k),
        value: v.as_bytes().to_vec(),
        now,
        expires: now + 10,
    };
    store.put(&key("claimed"), b"old", t0 + 5).unwrap();
    let mut entries: Vec<NewEntry> = (0..60).map(|i| entry(&format!("claim/{i}"), "new", t0)).collect();
    entries.push(entry("claimed", "new", t0));
    entries.push(entry("claimed", "later", t0 + 5));
    entries.push(entry("claim/7", "again", t0));
    let won = store.put_if_absent_many(&entries).unwrap();
    assert_eq!(won.len(), entries.len(), "put_if_absent_many answers every entry");
    assert!(
        won[..60].iter().enumerate().all(|(i, w)| *w || i == 7),
        "absent keys are stored"
    );
    assert!(!won[60], "a live key is refused");
    assert!(won[61], "an expired key is absent");
    assert_eq!(
        u8::from(won[7]) + u8::from(won[62]),
        1,
        "of two entries for one key, exactly one wins"
    );
    assert_eq!(
        store.get(&key("claimed"), t0 + 5).unwrap().as_deref(),
        Some(&b"later"[..])
    );
    assert!(
        !store.put_if_absent(&key("claim/59"), b"x", t0, t0 + 10).unwrap(),
        "a batch's writes are seen afterwards"
    );

    // counters
    assert_eq!(
        store.increment(&key("n"), 1, t0, t0 + 100).unwrap(),
        1,
        "a counter starts at zero"
    );
    assert_eq!(store.increment(&key("n"), 1, t0 + 1, t0 + 999).unwrap(), 2);
    assert_eq!(
        store.increment(&key("n"), 5, t0 + 2, t0 + 999).unwrap(),
        7,
        "increments add"
    );
    assert_eq!(
        store.increment(&key("m"), 1, t0, t0 + 100).unwrap(),
        1,
        "counters are independent"
    );
    assert_eq!(
        store.increment(&key("n"), 1, t0 + 100, t0 + 200).unwrap(),
        1,
        "a counter keeps its first expiry and restarts after it"
    );

    // distinct counters
    let ask = |k: &str, ids: &[&'static str], cap: u64, now: i64, expires: i64| DistinctCount {
        key: key(k),
        ids: ids.to_vec(),
        cap,
        now,
        expires,
    };
    let count = |k: &str, ids: &[&'static str], cap: u64, now: i64, expires: i64| {
        store.count_distinct(&ask(k, ids, cap, now, expires)).unwrap()
    };
    assert_eq!(
        count("d", &["a", "b", "a"], 10, t0, t0 + 100),
        Counted {
            before: 0,
            new: vec![true, true, false],
            crossed: None,
        },
        "a distinct counter starts at zero and counts a repeated id once"
    );
    assert_eq!(
        count("d", &["b", "c"], 10, t0 + 1, t0 + 999),
        Counted {
            before: 2,
            new: vec![false, true],
            crossed: None,
        },
        "an id counted before counts nothing (a redelivery)"
    );
    assert_eq!(
        count("d", &[], 10, t0 + 2, t0 + 999).before,
        3,
        "asking with no ids reads the total"
    );
    let at_cap = count("d", &["x", "y"], 3, t0 + 2, t0 + 999);
    assert_eq!(
        (at_cap.before, at_cap.new),
        (3, vec![false, false]),
        "a counter at its cap counts nothing more"
    );
    assert_eq!(
        count("d", &["x", "y", "z"], 4, t0 + 2, t0 + 999).after(),
        6,
        "below its cap, a call counts all its new ids"
    );
    // the id that reached the cap (a counter's cap is the same on every call)
    assert_eq!(
        count("dc", &["a", "b"], 3, t0, t0 + 100).crossed,
        None,
        "below its cap, a counter names no id"
    );
    assert_eq!(
        count("dc", &["b", "c", "d"], 3, t0 + 1, t0 + 100),
        Counted {
            before: 2,
            new: vec![false, true, true],
            crossed: Some("c".to_string()),
        },
        "the call that reaches the cap names the id that reached it"
    );
    assert_eq!(
        count("dc", &["c", "e"], 3, t0 + 2, t0 + 100),
        Counted {
            before: 4,
            new: vec![false, false],
            crossed: Some("c".to_string()),
        },
        "a counter past its cap names the id that reached it (to a redelivery of it)"
    );
    assert_eq!(
        count("dc1", &["a", "b", "c"], 2, t0, t0 + 100).crossed.as_deref(),
        Some("b"),
        "a new counter's first call can reach its cap"
    );

    assert_eq!(
        count("d2", &["a"], 10, t0, t0 + 100).before,
        0,
        "distinct counters are independent"
    );
    assert_eq!(
        count("d", &["a"], 10, t0 + 100, t0 + 200),
        Counted {
            before: 0,
            new: vec![true],
            crossed: None,
        },
        "a distinct counter keeps its first expiry and restarts after it"
    );
    let many: Vec<String> = (0..300).map(|i| format!("{i:036}")).collect();
    let big = DistinctCount {
        ids: many.iter().map(String::as_str).collect(),
        ..ask("big", &[], 1000, t0, t0 + 100)
    };
    assert_eq!(
        store.count_distinct(&big).unwrap().after(),
        300,
        "hundreds of event ids in one call"
    );

    // distinct counters in a batch
    let asks = [
        ask("m1", &["a", "b"], 10, t0, t0 + 100),
        ask("m2", &["a"], 10, t0, t0 + 100),
        ask("m1", &["b", "c"], 10, t0, t0 + 100),
    ];
    let out: Vec<Counted> = store
        .count_distinct_many(&asks)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(out.len(), 3, "one outcome per entry");
    assert_eq!(
        out[1],
        Counted {
            before: 0,
            new: vec![true],
            crossed: None,
        },
        "a batch's counters are independent"
    );
    let m1: usize = out[0].new.iter().chain(&out[2].new).filter(|&&n| n).count();
    assert_eq!(m1, 3, "a counter asked twice in a batch counts each id once");
    assert_eq!(count("m1", &[], 10, t0, t0 + 100).before, 3);
    let again: Vec<Counted> = store
        .count_distinct_many(&asks[..2])
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        again,
        [
            Counted {
                before: 3,
                new: vec![false, false],
                crossed: None,
            },
            Counted {
                before: 1,
                new: vec![false],
                crossed: None,
            }
        ],
        "a redelivered batch counts nothing"
    );
    assert!(store.count_distinct_many(&[]).is_empty(), "an empty batch");

    // concurrency: exactly one winner, no lost increments, each id counted once
    let threads = 8;
    let per_thread = 25;
    let barrier = Barrier::new(threads);
    let winners: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let barrier = &barrier;
                let key = &key;
                s.spawn(move || {
                    barrier.wait();
                    let won = store
                        .put_if_absent(&key("race"), format!("{i}").as_bytes(), t0, t0 + 60)
                        .unwrap();
                    for _ in 0..per_thread {
                        store.increment(&key("shared"), 1, t0, t0 + 60).unwrap();
                    }
                    // Every thread offers ids 0..12, each its own 3 more; in twos.
                    let ids: Vec<String> = (0..12)
                        .map(|n| format!("shared-{n}"))
                        .chain((0..3).map(|n| format!("own-{i}-{n}")))
                        .collect();
                    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                    let counted: usize = ids
                        .chunks(2)
                        .map(|pair| {
                            // Half the threads count one at a time, half in batches that
                            // ask the same counter twice.
                            let ask = DistinctCount {
                                key: key("distinct-shared"),
                                ids: pair.to_vec(),
                                cap: 1000,
                                now: t0,
                                expires: t0 + 60,
                            };
                            let outcomes = if i % 2 == 0 {
                                vec![store.count_distinct(&ask)]
                            } else {
                                store.count_distinct_many(&[ask.clone(), ask])
                            };
                            outcomes
                                .into_iter()
                                .map(|c| c.unwrap().new.iter().filter(|&&n| n).count())
                                .sum::<usize>()
                        })
                        .sum();
                    (usize::from(won), counted)
                })
            })
            .collect();
        let results: Vec<(usize, usize)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let counted: usize = results.iter().map(|r| r.1).sum();
        assert_eq!(
            counted,
            12 + 3 * threads,
            "of concurrent distinct counts, each id is counted by exactly one"
        );
        results.iter().map(|r| r.0).sum()
    });
    assert_eq!(winners, 1, "exactly one concurrent put_if_absent wins");
    assert_eq!(
        count("distinct-shared", &[], 1000, t0, t0 + 60).before,
        (12 + 3 * threads) as u64,
        "concurrent distinct counts are not lost"
    );
    assert_eq!(
        store.increment(&key("shared"), 0, t0, t0 + 60).unwrap(),
        (threads * per_thread) as u64,
        "concurrent increments are not lost"
    );

    store.put(&key("kept"), b"k", t0 + 10_000).unwrap();
    store.flush().unwrap();
    assert!(
        store.get(&key("kept"), t0 + 200).unwrap().is_some(),
        "flush keeps live entries"
    );
}
