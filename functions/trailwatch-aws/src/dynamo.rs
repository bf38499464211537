//! The state store on DynamoDB, for Lambda: conditional writes make put-if-absent and
//! counters atomic across concurrent invocations.
//!
//! Table: partition key `pk` (S); attributes `v` (B, the value), `n` (N, counters),
//! `exp` (N, epoch seconds of event time) and [`TTL`] (N), the table's TTL attribute;
//! a conditional put and a counter's addition also write [`WRITER`] (S), their token.
//! Expiry is in event time and DynamoDB's TTL runs on the wall clock, so they are two
//! attributes: records arrive minutes after their events (hours when a queue backs up,
//! weeks when archived logs are replayed), and an item TTL deleted at its `exp` could be
//! gone while records it still counts for are on their way. The write that creates an
//! item sets the TTL to [`TTL_GRACE`] past the later of `exp` and the wall clock, so the
//! item outlives both.
//!
//! The engine's store trait is synchronous (the engine runs in `spawn_blocking`), so each
//! call blocks on the runtime it was made on.
//!
//! Round trips are what a file costs here, so the store batches: plain puts are held
//! and written by `BatchWriteItem` on [`StateStore::flush`] (or when many are held),
//! `get_many` is `BatchGetItem`, and `put_if_absent_many` runs its conditional writes
//! concurrently. Every operation of this process reads held puts first; other
//! processes see them after the flush.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, PutRequest, ReturnValue, ReturnValuesOnConditionCheckFailure,
    WriteRequest,
};
use futures::{StreamExt, TryStreamExt};
use tokio::runtime::Handle;

use trailwatch::state::{Counted, DistinctCount, NewEntry, StateError, StateStore, count_into};

use crate::services::error_chain;

/// How often a counter reset may lose a race before giving up.
const RESET_ATTEMPTS: usize = 5;
/// How often a distinct count may find its counter changed by another writer before
/// giving up (each writer that loses reads again; one of them wins each round).
const COUNT_ATTEMPTS: u32 = 12;
/// Requests in flight at once for one batch.
const CONCURRENCY: usize = 16;
/// DynamoDB's limits: items per `BatchWriteItem`, keys per `BatchGetItem`.
const WRITE_BATCH: usize = 25;
const GET_BATCH: usize = 100;
/// Held puts that make a put flush (one round of full concurrent batches).
const HOLD_LIMIT: usize = WRITE_BATCH * CONCURRENCY;
/// Rounds for what a batch request returns unprocessed (throttling), with backoff.
const BATCH_ATTEMPTS: u32 = 8;

/// The table's TTL attribute (epoch seconds, wall clock): `infra/` enables TTL on it.
pub const TTL: &str = "ttl";
/// The token of the last write that made or added to an item (a conditional put, a
/// counter's addition or reset): a retry of that write that finds it knows it was made.
pub const WRITER: &str = "w";
/// How long past its expiry, and past its creation, DynamoDB keeps an item: records
/// later than this after their events find their state gone.
pub const TTL_GRACE: i64 = 2 * 24 * 3600;

/// A stored item as read: value and expiry.
type Item = (Option<Vec<u8>>, Option<i64>);
/// An item as DynamoDB returns it.
type Attributes = HashMap<String, AttributeValue>;
/// Plain puts not yet written: value and expiry by key.
type Held = HashMap<String, (Vec<u8>, i64)>;

/// The DynamoDB state store.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    handle: Handle,
    held: Arc<Mutex<Held>>,
    /// Taken for the whole of a flush: one flush at a time, so that a flush that finds
    /// nothing held has nothing in flight either.
    flushing: Arc<Mutex<()>>,
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The TTL of an item created now that expires at `expires` (event time).
fn ttl(expires: i64) -> AttributeValue {
    n(expires.max(crate::ingest::now()).saturating_add(TTL_GRACE))
}

impl DynamoStore {
    /// A store on `table`. Must be created inside a Tokio runtime, which later calls
    /// (from blocking threads) use.
    pub fn new(client: Client, table: String) -> Self {
        Self {
            client,
            table,
            handle: Handle::current(),
            held: Arc::default(),
            flushing: Arc::default(),
        }
    }

    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        // Called from spawn_blocking threads, never from an async task.
        self.handle.block_on(future)
    }

    fn held(&self) -> MutexGuard<'_, Held> {
        // Every operation on the map is one call: a poisoned map is still consistent.
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes held puts before a conditional operation on any of `keys` reads the table.
    fn write_held_of<'k>(&self, mut keys: impl Iterator<Item = &'k str>) -> Result<(), StateError> {
        let any = {
            let held = self.held();
            !held.is_empty() && keys.any(|k| held.contains_key(k))
        };
        if any { self.flush() } else { Ok(()) }
    }

    async fn conditional_put(
        &self,
        key: &str,
        value: &[u8],
        now: i64,
        expires: i64,
    ) -> Result<bool, StateError> {
        // The SDK retries a write whose answer was lost (a timeout, a 500 after the write):
        // the retry then finds the item its own first attempt made. The write's token,
        // returned with the failed condition, tells that apart from another writer's.
        let token = version();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key))
            .item("v", AttributeValue::B(value.to_vec().into()))
            .item("exp", n(expires))
            .item(TTL, ttl(expires))
            .item(WRITER, s(&token))
            .condition_expression("attribute_not_exists(pk) OR #exp <= :now")
            .expression_attribute_names("#exp", "exp")
            .expression_attribute_values(":now", n(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        Ok(!matches!(
            written("put_if_absent", result, &token)?,
            Written::Refused
        ))
    }

    /// A distinct counter as it stands at `now` (a consistent read).
    async fn read_distinct(&self, key: &str, now: i64) -> Result<Distinct, StateError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StateError::backend("count_distinct", error_chain(&e)))?;
        Ok(distinct_state(out.item.as_ref(), now))
    }

    /// Counts `e`'s ids against the counter as read: what it counted, or None when
    /// someone else wrote the counter in between (read again).
    async fn count_known(
        &self,
        e: &DistinctCount<'_>,
        read: Distinct,
    ) -> Result<Option<Counted>, StateError> {
        let (counted, new) = count_into(&read.ids, read.crossed.as_deref(), &e.ids, e.cap);
        if new.is_empty() {
            return Ok(Some(counted));
        }
        let key = e.key.as_str();
        // The set of ids keeps no order: the id that reaches the cap is kept beside it.
        let crossing = counted.crossed.as_deref().filter(|_| counted.before < e.cap);
        // Each write sets a new random version, and holds only if the version is still
        // the one read: a counter that TTL deleted and someone recreated in between has
        // another. An absent or expired entry starts over.
        let version = version();
        let written = if read.live {
            let mut names = HashMap::from([
                ("#ids".to_string(), "ids".to_string()),
                ("#ver".to_string(), "ver".to_string()),
                ("#exp".to_string(), "exp".to_string()),
                ("#ttl".to_string(), TTL.to_string()),
            ]);
            let mut values = HashMap::from([
                (":new".to_string(), AttributeValue::Ss(new)),
                (":ttl".to_string(), ttl(e.expires)),
                (":ver".to_string(), s(&version)),
                (":old".to_string(), s(read.version.as_deref().unwrap_or_default())),
                (":now".to_string(), n(e.now)),
            ]);
            let mut update = "ADD #ids :new SET #ver = :ver, #ttl = if_not_exists(#ttl, :ttl)".to_string();
            if let Some(id) = crossing {
                update.push_str(", #cross = :cross");
                names.insert("#cross".to_string(), "cross".to_string());
                values.insert(":cross".to_string(), s(id));
            }
            conditional(
                "count_distinct",
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .key("pk", s(key))
                    .update_expression(update)
                    .condition_expression("(attribute_not_exists(#ver) OR #ver = :old) AND #exp > :now")
                    .set_expression_attribute_names(Some(names))
                    .set_expression_attribute_values(Some(values))
                    .send()
                    .await,
            )?
            .is_some()
        } else {
            let mut item = HashMap::from([
                ("pk".to_string(), s(key)),
                ("ids".to_string(), AttributeValue::Ss(new)),
                ("ver".to_string(), s(&version)),
                ("exp".to_string(), n(e.expires)),
                (TTL.to_string(), ttl(e.expires)),
            ]);
            if let Some(id) = crossing {
                item.insert("cross".to_string(), s(id));
            }
            conditional(
                "count_distinct",
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk) OR #exp <= :now")
                    .expression_attribute_names("#exp", "exp")
                    .expression_attribute_values(":now", n(e.now))
                    .send()
                    .await,
            )?
            .is_some()
        };
        if written {
            return Ok(Some(counted));
        }
        // A refused write may be this one's own: the SDK retries a request whose answer
        // was lost, and the retry finds the first attempt done. Then the version is ours.
        let now = self.read_distinct(key, e.now).await?;
        Ok((now.version.as_deref() == Some(version.as_str())).then_some(counted))
    }

    /// Every item of `keys` there is, in batches of [`GET_BATCH`], 16 at a time.
    async fn read_all(&self, keys: Vec<String>) -> Result<HashMap<String, Attributes>, StateError> {
        let batches: Vec<Vec<String>> = keys.chunks(GET_BATCH).map(<[String]>::to_vec).collect();
        futures::stream::iter(batches)
            .map(|batch| self.batch_get(batch))
            .buffer_unordered(CONCURRENCY)
            .map_ok(|items| futures::stream::iter(items.into_iter().map(Ok)))
            .try_flatten()
            .try_collect()
            .await
    }

    /// Reads up to [`GET_BATCH`] distinct keys, retrying what comes back unprocessed.
    async fn batch_get(&self, keys: Vec<String>) -> Result<Vec<(String, Attributes)>, StateError> {
        let mut wanted: Vec<HashMap<String, AttributeValue>> = keys
            .into_iter()
            .map(|k| HashMap::from([("pk".to_string(), AttributeValue::S(k))]))
            .collect();
        let mut found = Vec::new();
        for attempt in 0..BATCH_ATTEMPTS {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(wanted))
                .consistent_read(true)
                .build()
                .map_err(|e| StateError::backend("get_many", e))?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| StateError::backend("get_many", error_chain(&e)))?;
            for item in out
                .responses
                .and_then(|mut r| r.remove(&self.table))
                .unwrap_or_default()
            {
                if let Some(AttributeValue::S(pk)) = item.get("pk") {
                    found.push((pk.clone(), item));
                }
            }
            wanted = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if wanted.is_empty() {
                return Ok(found);
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
        Err(StateError::backend("get_many", "DynamoDB kept keys unprocessed"))
    }

    /// Writes up to [`WRITE_BATCH`] puts, retrying what comes back unprocessed.
    async fn batch_put(&self, items: &[(String, (Vec<u8>, i64))]) -> Result<(), StateError> {
        let mut pending: Vec<WriteRequest> = Vec::with_capacity(items.len());
        for (key, (value, expires)) in items {
            let item = HashMap::from([
                ("pk".to_string(), s(key)),
                ("v".to_string(), AttributeValue::B(value.clone().into())),
                ("exp".to_string(), n(expires)),
                (TTL.to_string(), ttl(*expires)),
            ]);
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(|e| StateError::backend("put", e))?;
            pending.push(WriteRequest::builder().put_request(put).build());
        }
        for attempt in 0..BATCH_ATTEMPTS {
            let out = match self
                .client
                .batch_write_item()
                .request_items(&self.table, pending.clone())
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) => return Err(StateError::backend("put", error_chain(&e))),
            };
            pending = out
                .unprocessed_items
                .and_then(|mut u| u.remove(&self.table))
                .unwrap_or_default();
            if pending.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
        Err(StateError::backend("put", "DynamoDB kept items unprocessed"))
    }
}

/// A distinct counter as read.
#[derive(Debug, Default)]
struct Distinct {
    /// The ids it has counted (none when absent or expired).
    ids: Vec<String>,
    /// Whether it is there and live.
    live: bool,
    /// The version its last write set.
    version: Option<String>,
    /// The id that brought it to its cap.
    crossed: Option<String>,
}

/// A distinct counter item as it stands at `now`.
fn distinct_state(item: Option<&Attributes>, now: i64) -> Distinct {
    let Some(item) = item else {
        return Distinct::default();
    };
    let live = item
        .get("exp")
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .is_some_and(|exp| exp > now);
    let version = item.get("ver").and_then(|v| v.as_s().ok()).cloned();
    let ids = match item.get("ids") {
        Some(AttributeValue::Ss(ids)) if live => ids.clone(),
        _ => Vec::new(),
    };
    let crossed = match item.get("cross") {
        Some(AttributeValue::S(id)) if live => Some(id.clone()),
        _ => None,
    };
    Distinct {
        ids,
        live,
        version,
        crossed,
    }
}

/// A fresh random version for a distinct counter's write.
fn version() -> String {
    format!("{:016x}{:016x}", random(), random())
}

/// A conditional write's outcome: its output when it was made, None when its condition
/// failed.
fn conditional<O, E>(
    op: &'static str,
    result: Result<O, SdkError<E, HttpResponse>>,
) -> Result<Option<O>, StateError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(out) => Ok(Some(out)),
        Err(e)
            if e.as_service_error().and_then(ProvideErrorMetadata::code)
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(None)
        }
        Err(e) => Err(StateError::backend(op, error_chain(&e))),
    }
}

/// What a conditional write that carried a token came to.
enum Written<O> {
    /// Made now.
    Now(O),
    /// Refused on the item an earlier attempt of the same write made (the SDK retried a
    /// write whose answer was lost), which [`WRITER`] tells: made then. The item as found.
    Before(Attributes),
    /// Refused on another writer's item.
    Refused,
}

/// The item a failed condition returned (`ReturnValuesOnConditionCheckFailure::AllOld`):
/// `None` when the error is not a failed condition.
trait RefusedItem {
    fn refused_item(&self) -> Option<Option<&Attributes>>;
}

impl RefusedItem for PutItemError {
    fn refused_item(&self) -> Option<Option<&Attributes>> {
        match self {
            PutItemError::ConditionalCheckFailedException(failed) => Some(failed.item()),
            _ => None,
        }
    }
}

impl RefusedItem for UpdateItemError {
    fn refused_item(&self) -> Option<Option<&Attributes>> {
        match self {
            UpdateItemError::ConditionalCheckFailedException(failed) => Some(failed.item()),
            _ => None,
        }
    }
}

/// A conditional write of `token` ([`Written`]); any other error is the store's.
fn written<O, E>(
    op: &'static str,
    result: Result<O, SdkError<E, HttpResponse>>,
    token: &str,
) -> Result<Written<O>, StateError>
where
    E: RefusedItem + ProvideErrorMetadata + std::error::Error + 'static,
{
    let e = match result {
        Ok(out) => return Ok(Written::Now(out)),
        Err(e) => e,
    };
    match e.as_service_error().and_then(RefusedItem::refused_item) {
        Some(Some(item))
            if item.get(WRITER).and_then(|w| w.as_s().ok()).map(String::as_str) == Some(token) =>
        {
            Ok(Written::Before(item.clone()))
        }
        Some(_) => Ok(Written::Refused),
        None => Err(StateError::backend(op, error_chain(&e))),
    }
}

/// A counter item's total (`n`).
fn counter_value(item: Option<&Attributes>) -> Option<u64> {
    item?.get("n")?.as_n().ok()?.parse().ok()
}

/// 64 random bits (std's hasher keys are random per process and change on every use).
fn random() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(0u8)
}

/// A random pause of less than 2^attempt ms (at most 64 ms), so that writers who lost
/// the same race do not meet again.
fn jitter(attempt: u32) -> Duration {
    Duration::from_millis(random() % (1u64 << attempt.min(6)))
}

/// 10 ms, doubling, capped at 1 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(10u64 << attempt.min(7)).min(Duration::from_secs(1))
}

/// The value and expiry of an item.
fn read_item(item: &HashMap<String, AttributeValue>) -> Item {
    let exp = item
        .get("exp")
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let value = item
        .get("v")
        .and_then(|v| v.as_b().ok())
        .map(|b| b.as_ref().to_vec());
    (value, exp)
}

/// The value of an item at `now`: none when expired (DynamoDB's TTL deletes late).
fn live((value, exp): Item, now: i64) -> Option<Vec<u8>> {
    if exp.is_none_or(|exp| exp <= now) {
        return None;
    }
    value
}

/// The value of a held put at `now`.
fn held_value(held: &Held, key: &str, now: i64) -> Option<Option<Vec<u8>>> {
    held.get(key)
        .map(|(value, exp)| (*exp > now).then(|| value.clone()))
}

impl StateStore for DynamoStore {
    fn get(&self, key: &str, now: i64) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(value) = held_value(&self.held(), key, now) {
            return Ok(value);
        }
        let out = self
            .block_on(
                self.client
                    .get_item()
                    .table_name(&self.table)
                    .key("pk", s(key))
                    .consistent_read(true)
                    .send(),
            )
            .map_err(|e| StateError::backend("get", error_chain(&e)))?;
        Ok(out.item.and_then(|item| live(read_item(&item), now)))
    }

    fn put(&self, key: &str, value: &[u8], expires: i64) -> Result<(), StateError> {
        let full = {
            let mut held = self.held();
            held.insert(key.to_string(), (value.to_vec(), expires));
            held.len() >= HOLD_LIMIT
        };
        if full { self.flush() } else { Ok(()) }
    }

    fn put_if_absent(&self, key: &str, value: &[u8], now: i64, expires: i64) -> Result<bool, StateError> {
        self.write_held_of(std::iter::once(key))?;
        self.block_on(self.conditional_put(key, value, now, expires))
    }

    fn get_many(&self, keys: &[(String, i64)]) -> Result<Vec<Option<Vec<u8>>>, StateError> {
        let remote: Vec<String> = {
            let held = self.held();
            let distinct: HashSet<&str> = keys
                .iter()
                .map(|(k, _)| k.as_str())
                .filter(|k| !held.contains_key(*k))
                .collect();
            distinct.into_iter().map(str::to_string).collect()
        };
        let found = self.block_on(self.read_all(remote))?;
        let held = self.held();
        Ok(keys
            .iter()
            .map(|(key, now)| match held_value(&held, key, *now) {
                Some(value) => value,
                None => found.get(key).and_then(|item| live(read_item(item), *now)),
            })
            .collect())
    }

    fn count_distinct_many(&self, entries: &[DistinctCount<'_>]) -> Vec<Result<Counted, StateError>> {
        let every = |e: &StateError| {
            entries
                .iter()
                .map(|_| Err(StateError::backend("count_distinct", e)))
                .collect()
        };
        if let Err(e) = self.write_held_of(entries.iter().map(|e| e.key.as_str())) {
            return every(&e);
        }
        // One consistent batch read for every counter, then the writes 16 at a time. A
        // write that lost a race (or a key asked twice) goes the single way: read again.
        let keys: HashSet<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        let found = match self.block_on(self.read_all(keys.into_iter().map(str::to_string).collect())) {
            Ok(found) => found,
            Err(e) => return every(&e),
        };
        let first: Vec<Result<Option<Counted>, StateError>> = self.block_on(
            futures::stream::iter(entries)
                .map(|e| self.count_known(e, distinct_state(found.get(&e.key), e.now)))
                .buffered(CONCURRENCY)
                .collect(),
        );
        first
            .into_iter()
            .zip(entries)
            .map(|(outcome, e)| match outcome {
                Ok(Some(counted)) => Ok(counted),
                Ok(None) => self.count_distinct(e),
                Err(e) => Err(e),
            })
            .collect()
    }

    fn put_if_absent_many(&self, entries: &[NewEntry]) -> Result<Vec<bool>, StateError> {
        self.write_held_of(entries.iter().map(|e| e.key.as_str()))?;
        // Most markers of a steady stream exist already: one batch read refuses those, and
        // only the rest take a conditional write each (which still decides races).
        let lookups: Vec<(String, i64)> = entries.iter().map(|e| (e.key.clone(), e.now)).collect();
        let live = self.get_many(&lookups)?;
        let results: Vec<bool> = self.block_on(
            futures::stream::iter(entries.iter().zip(&live).filter(|(_, live)| live.is_none()))
                .map(|(e, _)| self.conditional_put(&e.key, &e.value, e.now, e.expires))
                .buffered(CONCURRENCY)
                .try_collect(),
        )?;
        let mut written = results.into_iter();
        Ok(live
            .iter()
            .map(|live| live.is_none() && written.next().unwrap_or(false))
            .collect())
    }

    fn prefers_batches(&self) -> bool {
        true
    }

    /// Writes what is held. The messages an instance works on at once share the held
    /// puts: they stay readable while they are written, and leave once written (unless a
    /// newer put replaced them meanwhile); a flush waits for the one in flight, so that
    /// it returns only once every put held before it is in the table, or fails.
    fn flush(&self) -> Result<(), StateError> {
        let _one = self.flushing.lock().unwrap_or_else(|e| e.into_inner());
        let held: Vec<_> = self.held().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut batches = Vec::new();
        let mut rest = held.into_iter().peekable();
        while rest.peek().is_some() {
            batches.push(rest.by_ref().take(WRITE_BATCH).collect::<Vec<_>>());
        }
        let written: Vec<_> = self.block_on(
            futures::stream::iter(batches)
                .map(|batch| async move { (self.batch_put(&batch).await, batch) })
                .buffer_unordered(CONCURRENCY)
                .collect(),
        );
        // A written put leaves, unless a newer one replaced it meanwhile; a batch that
        // failed stays held whole (a put written twice is the same put), for a later flush
        // or the redelivery of this input.
        let mut first = None;
        let mut held = self.held();
        for (result, batch) in written {
            match result {
                Ok(()) => {
                    for (key, value) in batch {
                        if held.get(&key) == Some(&value) {
                            held.remove(&key);
                        }
                    }
                }
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    fn count_distinct(&self, ask: &DistinctCount<'_>) -> Result<Counted, StateError> {
        self.write_held_of(std::iter::once(ask.key.as_str()))?;
        for attempt in 0..COUNT_ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(jitter(attempt)); // a blocking thread (see block_on)
            }
            let counted = self.block_on(async {
                let read = self.read_distinct(&ask.key, ask.now).await?;
                self.count_known(ask, read).await
            })?;
            if let Some(counted) = counted {
                return Ok(counted);
            }
        }
        Err(StateError::backend(
            "count_distinct",
            "counter kept changing under concurrent writers",
        ))
    }

    fn increment(&self, key: &str, by: u64, now: i64, expires: i64) -> Result<u64, StateError> {
        self.write_held_of(std::iter::once(key))?;
        // The SDK retries a write whose answer was lost, and an addition made twice counts
        // twice. Each write of this call carries its token, and a write refused on finding
        // that token was made by an earlier attempt: its total stands (unless another
        // caller wrote in between, whose token is then the one there).
        let token = version();
        let total = |item: Option<&Attributes>| {
            counter_value(item).ok_or_else(|| StateError::backend("increment", "no counter value returned"))
        };
        // Adding nothing reads the total and leaves the token of the last addition there
        // (DynamoDB refuses names and values an expression does not use).
        let mut names: HashMap<String, String> = [("#n", "n"), ("#exp", "exp"), ("#ttl", TTL)]
            .into_iter()
            .map(|(name, attribute)| (name.to_string(), attribute.to_string()))
            .collect();
        let mut values = HashMap::from([
            (":by".to_string(), n(by)),
            (":exp".to_string(), n(expires)),
            (":ttl".to_string(), ttl(expires)),
            (":now".to_string(), n(now)),
        ]);
        let (set_token, if_not_own) = if by == 0 {
            ("", "")
        } else {
            names.insert("#w".into(), WRITER.into());
            values.insert(":w".into(), s(&token));
            (", #w = :w", " AND (attribute_not_exists(#w) OR #w <> :w)")
        };
        for _ in 0..RESET_ATTEMPTS {
            // A live (or new) counter: add atomically, keeping its first expiry.
            let updated = self.block_on(
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .key("pk", s(key))
                    .update_expression(format!(
                        "ADD #n :by SET #exp = if_not_exists(#exp, :exp), #ttl = if_not_exists(#ttl, :ttl){set_token}"
                    ))
                    .condition_expression(format!("(attribute_not_exists(pk) OR #exp > :now){if_not_own}"))
                    .set_expression_attribute_names(Some(names.clone()))
                    .set_expression_attribute_values(Some(values.clone()))
                    .return_values(ReturnValue::AllNew)
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .send(),
            );
            match written("increment", updated, &token)? {
                Written::Now(out) => return total(out.attributes.as_ref()),
                Written::Before(item) => return total(Some(&item)),
                Written::Refused => {}
            }
            // Expired: restart it, unless another caller just did (then add to theirs).
            let reset = self.block_on(
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .item("pk", s(key))
                    .item("n", n(by))
                    .item("exp", n(expires))
                    .item(TTL, ttl(expires))
                    .item(WRITER, s(&token))
                    .condition_expression("#exp <= :now")
                    .expression_attribute_names("#exp", "exp")
                    .expression_attribute_values(":now", n(now))
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .send(),
            );
            match written("increment", reset, &token)? {
                Written::Now(_) => return Ok(by),
                Written::Before(item) => return total(Some(&item)),
                Written::Refused => {}
            }
        }
        Err(StateError::backend(
            "increment",
            "counter kept changing under concurrent resets",
        ))
    }
}
