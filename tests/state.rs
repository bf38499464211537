//! The state-store contract, run against every implementation in the engine.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use trailwatch::state::{MemoryStore, RedbStore, StateStore, contract};

#[test]
fn memory_store_meets_the_contract() {
    contract::check(&MemoryStore::new(), "");
}

#[test]
fn redb_store_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract::check(&RedbStore::open(dir.path()).unwrap(), "");
}

#[test]
fn redb_store_persists_between_opens() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = RedbStore::open(dir.path()).unwrap();
        store.put("k", b"v", 200).unwrap();
        store.increment("n", 3, 100, 200).unwrap();
        store.put("old", b"x", 50).unwrap();
        store.flush().unwrap();
    }
    let store = RedbStore::open(dir.path()).unwrap();
    assert_eq!(store.get("k", 100).unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(store.increment("n", 1, 100, 200).unwrap(), 4);
    // Flushed after event time 100: what expired by then is gone, not just hidden.
    assert_eq!(store.get("old", 0).unwrap(), None);
}

#[test]
fn memory_store_flush_drops_expired_entries() {
    let store = MemoryStore::new();
    store.put("old", b"x", 50).unwrap();
    store.put("new", b"x", 500).unwrap();
    store.get("new", 100).unwrap();
    store.flush().unwrap();
    assert_eq!(store.len(), 1);
}
