//! In-memory state: a replay without `--state`, and the reference for the contract.

use foldhash::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::{StateError, StateStore, counter_bytes, counter_value};

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
        self.lock(i64::MIN)
            .map
            .insert(key.to_string(), (value.to_vec(), expires));
        Ok(())
    }

    fn put_if_absent(&self, key: &str, value: &[u8], now: i64, expires: i64) -> Result<bool, StateError> {
        let mut inner = self.lock(now);
        match inner.map.get(key) {
            Some((_, exp)) if *exp > now => Ok(false),
            _ => {
                inner.map.insert(key.to_string(), (value.to_vec(), expires));
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
        inner
            .map
            .insert(key.to_string(), (counter_bytes(total).to_vec(), exp));
        Ok(total)
    }

    fn flush(&self) -> Result<(), StateError> {
        let mut inner = self.lock(i64::MIN);
        let now = inner.now;
        inner.map.retain(|_, (_, exp)| *exp > now);
        Ok(())
    }
}
