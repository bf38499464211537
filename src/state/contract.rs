//! The contract every [`StateStore`] must meet, as a suite any implementation's tests
//! call: `trailwatch::state::contract::check(&store)`. It panics, naming the broken rule.
//!
//! Keys are prefixed with `prefix` so that a shared backend (a DynamoDB table) can run
//! the suite more than once.

// A test suite for other crates to run: a panic is how it reports a broken rule.
#![allow(clippy::unwrap_used)]

use std::sync::Barrier;

use super::StateStore;

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

    // concurrency: exactly one winner, no lost increments
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
                    usize::from(won)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(winners, 1, "exactly one concurrent put_if_absent wins");
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
