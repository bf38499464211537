//! In-memory state: a replay without `--state`, and the reference for the contract.

use foldhash::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::{
    Counted, DistinctCount, StateError, StateStore, count_into, counter_bytes, counter_value, crossed_of,
    ids_bytes, ids_value,
};

/// A map behind a mutex; entries expire lazily and on [`StateStore::flush`].
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<String, (Vec<u8>, i64)>,
    /// Latest `now` seen: flush drops what expired by then.
    now: i64,
    /// Size at which the next sweep of expired entries runs.
    sweep_at: usize,
}

/// Entries are swept when the map has doubled since the last sweep (at least this many).
const MIN_SWEEP: usize = 4096;
/// Within an input, entries are kept this long past their expiry, measured on the latest
/// event time seen: a record a little older than the newest still sees what it would have,
/// and so do the reads of the stateful detections' waiting work, which settles before its
/// records span a third of this (`detect::stateful`).
const SWEEP_GRACE_SECS: i64 = 15 * 60;

impl Inner {
    fn insert(&mut self, key: &str, value: Vec<u8>, expires: i64) {
        self.map.insert(key.to_string(), (value, expires));
        if self.map.len() >= self.sweep_at.max(MIN_SWEEP) {
            // Memory follows the live state, not the length of the replay.
            let horizon = self.now.saturating_sub(SWEEP_GRACE_SECS);
            self.map.retain(|_, (_, exp)| *exp > horizon);
            self.sweep_at = 2 * self.map.len();
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self, now: i64) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-written entry: every
        // operation is one map call, so a poisoned map is still consistent.
        let mut inner = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        inner.now = inner.now.max(now);
        inner
    }

    /// Entries held (expired or not).
    pub fn len(&self) -> usize {
        self.lock(i64::MIN).map.len()
    }

    /// Whether the store holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl StateStore for MemoryStore {
    fn get(&self, key: &str, now: i64) -> Result<Option<Vec<u8>>, StateError> {
        let inner = self.lock(now);
        Ok(inner
            .map
            .get(key)
            .filter(|(_, exp)| *exp > now)
            .map(|(v, _)| v.clone()))
    }

    fn put(&self, key: &str, value: &[u8], expires: i64) -> Result<(), StateError> {
        self.lock(i64::MIN).insert(key, value.to_vec(), expires);
        Ok(())
    }

    fn put_if_absent(&self, key: &str, value: &[u8], now: i64, expires: i64) -> Result<bool, StateError> {
        let mut inner = self.lock(now);
        match inner.map.get(key) {
            Some((_, exp)) if *exp > now => Ok(false),
            _ => {
                inner.insert(key, value.to_vec(), expires);
                Ok(true)
            }
        }
    }

    fn increment(&self, key: &str, by: u64, now: i64, expires: i64) -> Result<u64, StateError> {
        let mut inner = self.lock(now);
        let (total, exp) = match inner.map.get(key) {
            Some((v, exp)) if *exp > now => (counter_value(v) + by, *exp),
            _ => (by, expires),
        };
        inner.insert(key, counter_bytes(total).to_vec(), exp);
        Ok(total)
    }

    fn count_distinct(&self, ask: &DistinctCount<'_>) -> Result<Counted, StateError> {
        let mut inner = self.lock(ask.now);
        let (mut known, exp) = match inner.map.get(&ask.key) {
            Some((v, exp)) if *exp > ask.now => (ids_value(v), *exp),
            _ => (Vec::new(), ask.expires),
        };
        let (counted, added) = count_into(&known, crossed_of(&known, ask.cap), &ask.ids, ask.cap);
        if !added.is_empty() {
            known.extend(added);
            inner.insert(&ask.key, ids_bytes(&known), exp);
        }
        Ok(counted)
    }

    fn read_grace(&self) -> Option<i64> {
        Some(SWEEP_GRACE_SECS)
    }

    fn flush(&self) -> Result<(), StateError> {
        let mut inner = self.lock(i64::MIN);
        let now = inner.now;
        inner.map.retain(|_, (_, exp)| *exp > now);
        inner.sweep_at = 2 * inner.map.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_entries_are_swept_as_the_map_grows() {
        let store = MemoryStore::new();
        // Each entry lives 60 s and event time advances 1 s an entry.
        for t in 0..100_000i64 {
            assert!(store.put_if_absent(&format!("k{t}"), b"", t, t + 60).unwrap());
        }
        // Live entries (60 s plus the grace) stay, the rest went in sweeps.
        assert!(store.len() <= 2 * MIN_SWEEP, "{} entries", store.len());
        assert_eq!(store.get("k99999", 99_999).unwrap(), Some(vec![]));
        assert!(!store.put_if_absent("k99990", b"", 99_995, 100_100).unwrap());
        // Within the grace, a slightly older record still sees what it would have.
        let old = 99_999 - SWEEP_GRACE_SECS + 30;
        assert_eq!(store.get(&format!("k{}", old - 50), old).unwrap(), Some(vec![]));
    }
}
