//! The state store: what the stateful detections and the alert policy remember across
//! records, files and invocations.
//!
//! Time is event time (epoch seconds): an entry expires when the *events* pass its
//! expiry, so replaying last week's logs behaves like live traffic. Implementations:
//! [`MemoryStore`] (one process), [`RedbStore`] (embedded, survives between replays) and,
//! in `functions/`, DynamoDB. All must pass [`contract::check`].

pub mod contract;
mod memory;
mod redb_store;

pub use memory::MemoryStore;
pub use redb_store::RedbStore;

/// Why a state operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The backend failed (I/O, database, network).
    #[error("state store {op} failed: {message}")]
    Backend {
        /// The operation.
        op: &'static str,
        /// What the backend said.
        message: String,
    },
}

impl StateError {
    /// A backend error for `op`.
    pub fn backend(op: &'static str, error: impl std::fmt::Display) -> Self {
        Self::Backend {
            op,
            message: error.to_string(),
        }
    }
}

/// The operations detectors and the alert policy need, and no more. Every method takes
/// `now`, the event time of the record being processed: entries whose expiry is at or
/// before `now` are treated as absent.
pub trait StateStore: Send + Sync {
    /// The value under `key`, unless absent or expired.
    fn get(&self, key: &str, now: i64) -> Result<Option<Vec<u8>>, StateError>;

    /// Stores `value` under `key` until `expires` (overwriting).
    fn put(&self, key: &str, value: &[u8], expires: i64) -> Result<(), StateError>;

    /// Stores `value` only if `key` is absent or expired; true when this call stored it.
    /// Of any number of concurrent callers, exactly one gets true.
    fn put_if_absent(&self, key: &str, value: &[u8], now: i64, expires: i64) -> Result<bool, StateError>;

    /// Adds `by` to the counter under `key` and returns the new total. An absent or expired
    /// counter starts from zero and lives until `expires`; a live one keeps its expiry.
    fn increment(&self, key: &str, by: u64, now: i64, expires: i64) -> Result<u64, StateError>;

    /// Counts each of `ask.ids` that the counter under `ask.key` has not counted before,
    /// once (also when the ids repeat it), and returns the counter's total before the call
    /// and the id that brought it to `ask.cap`, if one has.
    ///
    /// The counter remembers the ids it counted, in the same entry as its total, and
    /// changes both at once: a redelivered id counts nothing, and of concurrent callers
    /// each id is counted by exactly one. A counter whose total has reached `ask.cap` counts
    /// nothing more, so its entry stays bounded (the caller asks only whether the total
    /// crossed the cap). An absent or expired counter starts from zero and lives until
    /// `ask.expires`; a live one keeps its expiry.
    fn count_distinct(&self, ask: &DistinctCount<'_>) -> Result<Counted, StateError>;

    /// [`StateStore::count_distinct`] for each entry, in order, each with its own outcome:
    /// what the others counted stays counted when one fails, and the caller must hear it.
    /// Remote backends answer a batch in a few round trips.
    fn count_distinct_many(&self, entries: &[DistinctCount<'_>]) -> Vec<Result<Counted, StateError>> {
        entries.iter().map(|e| self.count_distinct(e)).collect()
    }

    /// The value under each key as [`StateStore::get`] would read it at its `now`, in
    /// order. Remote backends answer a batch in a few round trips.
    fn get_many(&self, keys: &[(String, i64)]) -> Result<Vec<Option<Vec<u8>>>, StateError> {
        keys.iter().map(|(key, now)| self.get(key, *now)).collect()
    }

    /// [`StateStore::put_if_absent`] for each entry, in order; remote backends run them
    /// concurrently. Of entries with the same key, exactly one gets true when the key
    /// was absent, but not necessarily the first.
    fn put_if_absent_many(&self, entries: &[NewEntry]) -> Result<Vec<bool>, StateError> {
        entries
            .iter()
            .map(|e| self.put_if_absent(&e.key, &e.value, e.now, e.expires))
            .collect()
    }

    /// How far behind the latest event time it has seen a read still finds what it would
    /// have found at its own time: the store removes expired entries only this long past
    /// their expiry. `None`: it keeps them at least until [`StateStore::flush`] (or, like
    /// DynamoDB's TTL, for days). The stateful detections settle their waiting reads
    /// well within it.
    fn read_grace(&self) -> Option<i64> {
        None
    }

    /// Whether reading keys in batches saves round trips (a remote store): the engine
    /// then fetches what records cut ahead will look up with [`StateStore::get_many`].
    fn prefers_batches(&self) -> bool {
        false
    }

    /// Makes what was written durable (called at the end of a file or invocation). A
    /// backend may hold plain [`StateStore::put`]s until then; its reads see them.
    fn flush(&self) -> Result<(), StateError> {
        Ok(())
    }
}

/// What [`StateStore::count_distinct`] is asked: ids to count on one counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistinctCount<'a> {
    /// The counter.
    pub key: String,
    /// The ids to count.
    pub ids: Vec<&'a str>,
    /// The total past which the counter counts nothing (the same on every call of a
    /// counter).
    pub cap: u64,
    /// The event time of the call.
    pub now: i64,
    /// When a new counter expires.
    pub expires: i64,
}

/// What one [`StateStore::count_distinct`] call counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    /// The counter's total before the call.
    pub before: u64,
    /// For each id asked, whether this call counted it.
    pub new: Vec<bool>,
    /// The id whose count brought the total to the cap, in this call or an earlier one
    /// (None while below it, and for a counter that reached it before the store kept
    /// this): a redelivery of that id learns that it crossed.
    pub crossed: Option<String>,
}

impl Counted {
    /// The total after the call.
    pub fn after(&self) -> u64 {
        self.before + self.new.iter().filter(|&&n| n).count() as u64
    }
}

/// Counts `ids` against `known`, the ids a counter has counted (its total is their
/// number), of which `crossed` brought it to `cap`: what was counted, and the ids to add
/// to `known`. [`StateStore::count_distinct`] for a backend that holds the whole entry
/// while it changes it.
pub fn count_into(known: &[String], crossed: Option<&str>, ids: &[&str], cap: u64) -> (Counted, Vec<String>) {
    let before = known.len() as u64;
    let mut new = vec![false; ids.len()];
    let mut added = Vec::new();
    let mut crossed = crossed.filter(|_| before >= cap).map(str::to_string);
    if before < cap {
        let mut seen: foldhash::HashSet<&str> = known.iter().map(String::as_str).collect();
        for (&id, new) in ids.iter().zip(&mut new) {
            if seen.insert(id) {
                added.push(id.to_string());
                *new = true;
            }
        }
        crossed = usize::try_from(cap - before)
            .ok()
            .and_then(|n| added.get(n.checked_sub(1)?))
            .cloned();
    }
    (Counted { before, new, crossed }, added)
}

/// The id that brought a counter to `cap`, of the ids it counted in order.
fn crossed_of(known: &[String], cap: u64) -> Option<&str> {
    let n = usize::try_from(cap).ok()?.checked_sub(1)?;
    known.get(n).map(String::as_str)
}

/// Encodes the ids a counter has counted.
fn ids_bytes(ids: &[String]) -> Vec<u8> {
    serde_json::to_vec(ids).unwrap_or_default()
}

/// Decodes the ids a counter has counted (a corrupt entry reads as none).
fn ids_value(bytes: &[u8]) -> Vec<String> {
    serde_json::from_slice(bytes).unwrap_or_default()
}

/// One entry of [`StateStore::put_if_absent_many`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// The key.
    pub key: String,
    /// The value stored when the key is absent.
    pub value: Vec<u8>,
    /// The event time of the write.
    pub now: i64,
    /// When the stored entry expires.
    pub expires: i64,
}

/// Encodes a counter value.
fn counter_bytes(n: u64) -> [u8; 8] {
    n.to_le_bytes()
}

/// Decodes a counter value (a corrupt one reads as zero).
fn counter_value(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_le_bytes).unwrap_or(0)
}
