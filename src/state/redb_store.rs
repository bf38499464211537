//! Embedded state on redb: `trailwatch replay --state DIR`.
//!
//! redb is a pure-Rust, ACID, single-file key-value store: nothing to install, it builds
//! for every target, and one file under DIR is all a replay needs. Each operation is its
//! own write transaction (so put-if-absent and increments are atomic even across
//! threads); they commit without fsync and [`StateStore::flush`] makes them durable once
//! per file, which keeps a replay fast without losing more than the file in flight.

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::{
    Counted, DistinctCount, StateError, StateStore, count_into, counter_bytes, counter_value, crossed_of,
    ids_bytes, ids_value,
};

/// key → (expires, value)
const TABLE: TableDefinition<&str, (i64, &[u8])> = TableDefinition::new("state");

/// State in `DIR/state.redb`.
pub struct RedbStore {
    db: Database,
    /// Latest `now` seen: flush drops what expired by then.
    now: AtomicI64,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore").finish_non_exhaustive()
    }
}

impl RedbStore {
    /// Opens (or creates) the store in directory `dir`.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StateError::backend("open", format!("{}: {e}", dir.display())))?;
        let path = dir.join("state.redb");
        let db = Database::create(&path)
            .map_err(|e| StateError::backend("open", format!("{}: {e}", path.display())))?;
        let store = Self {
            db,
            now: AtomicI64::new(i64::MIN),
        };
        // Create the table so that reads never meet a missing one.
        store.write("open", |_| Ok(()))?;
        Ok(store)
    }

    fn write<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut redb::Table<&str, (i64, &[u8])>) -> Result<T, redb::StorageError>,
    ) -> Result<T, StateError> {
        let err = |e: &dyn std::fmt::Display| StateError::backend(op, e);
        let mut txn = self.db.begin_write().map_err(|e| err(&e))?;
        txn.set_durability(Durability::None).map_err(|e| err(&e))?;
        let out = {
            let mut table = txn.open_table(TABLE).map_err(|e| err(&e))?;
            f(&mut table).map_err(|e| err(&e))?
        };
        txn.commit().map_err(|e| err(&e))?;
        Ok(out)
    }

    fn saw(&self, now: i64) {
        self.now.fetch_max(now, Ordering::Relaxed);
    }
}

impl StateStore for RedbStore {
    fn get(&self, key: &str, now: i64) -> Result<Option<Vec<u8>>, StateError> {
        self.saw(now);
        let err = |e: &dyn std::fmt::Display| StateError::backend("get", e);
        let txn = self.db.begin_read().map_err(|e| err(&e))?;
        let table = txn.open_table(TABLE).map_err(|e| err(&e))?;
        let entry = table.get(key).map_err(|e| err(&e))?;
        Ok(entry.and_then(|e| {
            let (exp, value) = e.value();
            (exp > now).then(|| value.to_vec())
        }))
    }

    fn put(&self, key: &str, value: &[u8], expires: i64) -> Result<(), StateError> {
        self.write("put", |t| t.insert(key, (expires, value)).map(drop))
    }

    fn put_if_absent(&self, key: &str, value: &[u8], now: i64, expires: i64) -> Result<bool, StateError> {
        self.saw(now);
        // Write transactions are serialised, so check-then-insert inside one is atomic.
        self.write("put_if_absent", |t| {
            let live = t.get(key)?.is_some_and(|e| e.value().0 > now);
            if !live {
                t.insert(key, (expires, value))?;
            }
            Ok(!live)
        })
    }

    fn increment(&self, key: &str, by: u64, now: i64, expires: i64) -> Result<u64, StateError> {
        self.saw(now);
        self.write("increment", |t| {
            let current = t.get(key)?.and_then(|e| {
                let (exp, v) = e.value();
                (exp > now).then(|| (exp, counter_value(v)))
            });
            let (exp, total) = match current {
                Some((exp, n)) => (exp, n + by),
                None => (expires, by),
            };
            t.insert(key, (exp, &counter_bytes(total)[..]))?;
            Ok(total)
        })
    }

    fn count_distinct(&self, ask: &DistinctCount<'_>) -> Result<Counted, StateError> {
        self.saw(ask.now);
        self.write("count_distinct", |t| {
            let current = t.get(ask.key.as_str())?.and_then(|e| {
                let (exp, v) = e.value();
                (exp > ask.now).then(|| (exp, ids_value(v)))
            });
            let (exp, mut known) = current.unwrap_or((ask.expires, Vec::new()));
            let (counted, added) = count_into(&known, crossed_of(&known, ask.cap), &ask.ids, ask.cap);
            if !added.is_empty() {
                known.extend(added);
                t.insert(ask.key.as_str(), (exp, &ids_bytes(&known)[..]))?;
            }
            Ok(counted)
        })
    }

    fn flush(&self) -> Result<(), StateError> {
        let now = self.now.load(Ordering::Relaxed);
        let err = |e: &dyn std::fmt::Display| StateError::backend("flush", e);
        let mut txn = self.db.begin_write().map_err(|e| err(&e))?;
        txn.set_durability(Durability::Immediate).map_err(|e| err(&e))?;
        {
            let mut table = txn.open_table(TABLE).map_err(|e| err(&e))?;
            table.retain(|_, (exp, _)| exp > now).map_err(|e| err(&e))?;
        }
        txn.commit().map_err(|e| err(&e))
    }
}
