//! The ingest function: S3 object notifications in (through SQS, or direct), findings
//! through the engine, alerts to SNS, metrics to CloudWatch.
//!
//! Each SQS message succeeds or fails alone (`ReportBatchItemFailures`): a missing or
//! corrupt object, or an alert SNS would not take, fails its own message so SQS delivers
//! it again; alerts already sent are claimed in the state table and are not repeated,
//! and alerts SNS has not taken (it failed, or the run stopped first) wait in the
//! message's [outbox](crate::outbox) for it.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures::StreamExt;
use serde_json::Value;
use tokio_util::io::SyncIoBridge;
use tracing::Instrument;

use trailwatch::Severity;
use trailwatch::alert::{Alert, AlertBatch, Fresh};
use trailwatch::decode::Stoppable;
use trailwatch::engine::FileStats;
use trailwatch::finding::clean;
use trailwatch::state::{StateError, StateStore};

use crate::Services;
use crate::metrics::Metrics;
use crate::objects::{self, ObjectRef, Objects};
use crate::outbox::{Kept, Outbox};
use crate::services::error_chain;
use crate::sns::Outgoing;

/// Why a message was not started, or not finished, within its invocation's time.
const NOT_STARTED: &str = "not started: the invocation's time was running out";
const GIVEN_UP: &str = "still running when the invocation's time ran out";

/// S3 keys are at most 1024 bytes; one that escaping makes longer is cut.
const MAX_KEY_CHARS: usize = 1024;
/// The longest error logged for one message.
const MAX_ERROR_CHARS: usize = 8192;

/// A message or event that could not be processed completely.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct IngestError(pub String);

/// Time an SQS batch keeps, at the end of its invocation, to answer and send its metrics.
const ANSWER_RESERVE: Duration = Duration::from_secs(3);
/// Of that, how long the messages given up have to stop (their engines at their next read)
/// and to finish what they were doing: one claiming or publishing its alerts may end.
const GIVE_UP_GRACE: Duration = Duration::from_secs(1);
/// The end of the invocation, when sending metrics stops.
const METRICS_MARGIN: Duration = Duration::from_millis(500);

/// Set when an SQS batch gives up the messages still running: their engines stop at their
/// next read instead of running on, detached, into the next invocation.
#[derive(Debug, Clone, Default)]
pub(crate) struct GiveUp(Arc<AtomicBool>);

impl GiveUp {
    fn now(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// When an SQS batch stops starting messages (in the last quarter of its time), and stops
/// waiting for them ([`ANSWER_RESERVE`] before the end), from Lambda's deadline for the
/// invocation. Answered in time, a batch's failures are the messages it
/// did not finish; cut off by the timeout, the whole batch comes again, those it finished
/// too; the state a message stopped mid-way wrote (a first-seen marker, a counted denial)
/// is its own to the redelivery, which finds its alerts again.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    end: Instant,
    /// No message starts with less than this left: the last quarter of the invocation.
    start_reserve: Duration,
}

impl Deadline {
    /// The deadline `remaining` from now, the invocation's whole time.
    pub fn after(remaining: Duration) -> Self {
        Self {
            end: Instant::now() + remaining,
            start_reserve: remaining / 4,
        }
    }

    /// Lambda's deadline for an invocation (`Context::deadline`), read as it starts. None
    /// when it has passed already: not Lambda's (`cargo lambda watch` sends 600 000 ms
    /// after the epoch).
    pub fn at(deadline: SystemTime) -> Option<Self> {
        let remaining = deadline.duration_since(SystemTime::now()).ok()?;
        Some(Self::after(remaining))
    }

    /// Messages start only while more than `reserve` is left.
    pub fn starting_until(self, reserve: Duration) -> Self {
        Self {
            start_reserve: reserve,
            ..self
        }
    }

    fn may_start(&self) -> bool {
        Instant::now() + self.start_reserve.max(ANSWER_RESERVE) < self.end
    }

    /// When the messages still running are given up.
    fn answer_by(&self) -> Instant {
        self.end.checked_sub(ANSWER_RESERVE).unwrap_or(self.end)
    }

    /// When sending metrics stops.
    fn metrics_by(&self) -> Instant {
        self.end.checked_sub(METRICS_MARGIN).unwrap_or(self.end)
    }
}

/// Handles one invocation: an SQS batch (answered with the failed message ids), or a
/// direct S3 / EventBridge event (an error makes Lambda retry it). With no deadline, as
/// tests and benchmarks call it: [`handle_within`] is the function's.
pub async fn handle(svc: Arc<Services>, event: Value) -> Result<Value, IngestError> {
    handle_event(svc, event, None).await
}

/// [`handle`] within Lambda's deadline, if it has one: an SQS batch starts no message in
/// the last quarter of its time, and answers before the end with what it could not finish
/// as failures.
pub async fn handle_within(
    svc: Arc<Services>,
    event: Value,
    deadline: Option<Deadline>,
) -> Result<Value, IngestError> {
    handle_event(svc, event, deadline).await
}

async fn handle_event(
    svc: Arc<Services>,
    event: Value,
    deadline: Option<Deadline>,
) -> Result<Value, IngestError> {
    let metrics = Arc::new(Mutex::new(Metrics::default()));
    let is_sqs = event.pointer("/Records/0/eventSource").and_then(Value::as_str) == Some("aws:sqs");
    let result = if is_sqs {
        let batch: SqsEvent =
            serde_json::from_value(event).map_err(|e| IngestError(format!("bad SQS event: {e}")))?;
        let response = handle_sqs(&svc, batch, &metrics, deadline).await;
        serde_json::to_value(response).map_err(|e| IngestError(e.to_string()))
    } else {
        let objects = objects::from_message(&event.to_string()).map_err(|e| IngestError(e.to_string()))?;
        process_message(&svc, objects, &metrics, &GiveUp::default())
            .await
            .map(|()| Value::Null)
            .map_err(IngestError)
    };
    let metrics = std::mem::take(&mut *metrics.lock().unwrap_or_else(|e| e.into_inner()));
    let flush = svc.metrics.flush(metrics);
    match deadline {
        // Metrics never fail the ingest, nor make it miss its deadline.
        Some(d) => {
            if tokio::time::timeout_at(d.metrics_by().into(), flush)
                .await
                .is_err()
            {
                tracing::warn!("Metrics not sent: the invocation's time ran out");
            }
        }
        None => {
            flush.await;
        }
    }
    result
}

async fn handle_sqs(
    svc: &Arc<Services>,
    batch: SqsEvent,
    metrics: &Arc<Mutex<Metrics>>,
    deadline: Option<Deadline>,
) -> SqsBatchResponse {
    let ids: Vec<String> = batch
        .records
        .iter()
        .map(|m| m.message_id.clone().unwrap_or_default())
        .collect();
    let give_up = GiveUp::default();
    let running = futures::stream::iter(batch.records)
        .map(|message| {
            let id = message.message_id.clone().unwrap_or_default();
            let span = tracing::info_span!("message", id = %id);
            let give_up = &give_up;
            async move {
                if deadline.is_some_and(|d| !d.may_start()) {
                    return (id, Err(NOT_STARTED.to_string()));
                }
                let result = match objects::from_message(message.body.as_deref().unwrap_or_default()) {
                    Ok(objects) => process_message(svc, objects, metrics, give_up).await,
                    Err(e) => Err(e.to_string()),
                };
                (id, result)
            }
            .instrument(span)
        })
        .buffer_unordered(svc.concurrency);
    let mut outcomes: Vec<(String, Result<(), String>)> = Vec::with_capacity(ids.len());
    {
        let mut collect = std::pin::pin!(running.for_each(|outcome| {
            outcomes.push(outcome);
            std::future::ready(())
        }));
        match deadline {
            Some(d) => {
                if tokio::time::timeout_at(d.answer_by().into(), collect.as_mut())
                    .await
                    .is_err()
                {
                    // The engines still running stop at their next read; what is left
                    // after the grace is given up, as a timeout would stop it, but the
                    // others are answered.
                    give_up.now();
                    let _ = tokio::time::timeout(GIVE_UP_GRACE, collect).await;
                }
            }
            None => collect.await,
        }
    }
    for id in &ids {
        if !outcomes.iter().any(|(done, _)| done == id) {
            outcomes.push((id.clone(), Err(GIVEN_UP.to_string())));
        }
    }
    let mut response = SqsBatchResponse::default();
    for (id, result) in outcomes {
        if let Err(error) = result {
            let error = clean(&error, MAX_ERROR_CHARS);
            tracing::error!(message = %id, %error, "Message failed; SQS will deliver it again");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// All objects of one message, then its alerts. Err when anything must be redone.
async fn process_message(
    svc: &Arc<Services>,
    objects: Objects,
    metrics: &Arc<Mutex<Metrics>>,
    give_up: &GiveUp,
) -> Result<(), String> {
    let mut batch = svc.engine.policy().batch();
    let mut errors = Vec::new();
    for object in &objects.objects {
        // Whoever can write to the bucket chooses key names: escaped in logs and errors.
        let key = clean(&object.key, MAX_KEY_CHARS);
        let span = tracing::info_span!("object", bucket = %object.bucket, key = %key);
        let (folded, result) = process_object(svc, object, batch, give_up).instrument(span).await;
        batch = folded;
        match result {
            Ok(stats) => lock(metrics).file(&stats, now()),
            Err(error) => errors.push(format!("s3://{}/{key}: {error}", object.bucket)),
        }
    }
    lock(metrics).objects(objects.skipped, errors.len() as u64);
    conclude(
        svc,
        batch,
        metrics,
        &Outbox::for_objects(&objects.objects),
        give_up,
        errors,
    )
    .await
}

/// A message's alerts, once its objects are read (`errors`: those that failed). They go
/// out even when an object failed, also those found in it before it failed: they are
/// claimed, so the redelivery will not send them twice. What SNS does not take waits in
/// the message's outbox for the redelivery. A message given up claims nothing: its
/// redelivery finds its findings again (the state that decided them is its own), where
/// claims made in the invocation's last second could be left running, detached, into
/// the next one (the redelivery itself, which would find the alerts taken and not yet
/// kept).
async fn conclude(
    svc: &Arc<Services>,
    batch: AlertBatch,
    metrics: &Arc<Mutex<Metrics>>,
    outbox: &Outbox,
    give_up: &GiveUp,
    mut errors: Vec<String>,
) -> Result<(), String> {
    if give_up.is_set() {
        errors.push(GIVEN_UP.to_string());
    } else if let Err(e) = send_alerts(svc, batch, metrics, outbox).await {
        errors.push(e);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

fn lock(metrics: &Mutex<Metrics>) -> std::sync::MutexGuard<'_, Metrics> {
    metrics.lock().unwrap_or_else(|e| e.into_inner())
}

/// The wall clock, in epoch seconds.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Streams one object from S3 through the engine, never holding it whole; its findings
/// are folded into `batch` ([`run_engine`]).
async fn process_object(
    svc: &Arc<Services>,
    object: &ObjectRef,
    batch: AlertBatch,
    give_up: &GiveUp,
) -> (AlertBatch, Result<FileStats, String>) {
    let response = svc
        .s3
        .get_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .send()
        .await;
    match response {
        Ok(response) => {
            let reader = SyncIoBridge::new(response.body.into_async_read());
            run_engine(svc, reader, batch, give_up).await
        }
        Err(e) => (batch, Err(error_chain(&e))),
    }
}

/// Runs the engine on a blocking thread (decoding is CPU work, the state store blocks).
/// Its findings are folded into `batch`, unclaimed until the alerts are sent: a run
/// stopped before then (Lambda's timeout) has claimed nothing, so the redelivery alerts
/// them. The batch comes back also when the input fails, with what was found before. Once
/// `give_up` is set, the next read fails the input.
pub(crate) async fn run_engine<R: Read + Send + 'static>(
    svc: &Arc<Services>,
    reader: R,
    mut batch: AlertBatch,
    give_up: &GiveUp,
) -> (AlertBatch, Result<FileStats, String>) {
    let task_svc = Arc::clone(svc);
    let reader = Stoppable::new(reader, Arc::clone(&give_up.0), GIVEN_UP);
    let task = tokio::task::spawn_blocking(move || {
        let svc = task_svc;
        // Above ~1.8 GB of memory a Lambda has two vCPUs, and decoding runs on the
        // second. On one vCPU the decode thread still pays: it reads the records' keys
        // ahead, so their state comes in a few batch reads instead of a round trip each.
        let stats = svc
            .engine
            .process_pipelined(reader, svc.store.as_ref(), &mut batch);
        // The state this input wrote is durable before its alerts are claimed. When the
        // flush fails the input fails, and its findings are alerted all the same: their
        // claims keep the redelivery, which writes the state again, from sending them twice.
        let flushed = svc.store.flush();
        let result = match (stats, flushed) {
            (Ok(stats), Ok(())) => {
                if stats.bad_records > 0 {
                    tracing::warn!(bad_records = stats.bad_records, "Skipped unusable records");
                }
                Ok(stats)
            }
            (Err(e), Ok(())) => Err(format!("{} (after {} records)", e.source, e.stats.records)),
            (Err(e), Err(f)) => Err(format!("{} (after {} records); {f}", e.source, e.stats.records)),
            (Ok(_), Err(e)) => Err(e.to_string()),
        };
        (batch, result)
    });
    match task.await {
        Ok(done) => done,
        // Only where panics unwind (tests; release builds abort): what the task held is
        // gone, unclaimed, and the failed input's redelivery finds it again.
        Err(e) => (
            svc.engine.policy().batch(),
            Err(format!("engine task failed: {e}")),
        ),
    }
}

/// What the claiming step hands the publisher.
struct Claimed {
    /// The alerts an earlier run of this input kept, with their slots (or why they could
    /// not be read).
    kept: Result<Vec<Kept>, StateError>,
    /// The new alerts, rendered…
    messages: Vec<Outgoing>,
    /// …and as claimed, in the same order.
    alerts: Vec<Alert>,
    /// The outbox slots the new alerts were written to before they are published, in
    /// their order (or why they could not be).
    ahead: Result<Vec<usize>, StateError>,
    /// The findings counted as new, by what metrics tell apart.
    fresh: Vec<(Fresh, u64)>,
    /// Alerts that can never be sent (too large for SNS).
    unrenderable: usize,
}

/// Reads what the outbox kept, claims the new alerts and writes them to the outbox before
/// they go out: a run stopped between its claims and its publishing (Lambda's timeout,
/// a crash) leaves them to the redelivery, which would not find them again.
fn claim(svc: &Services, outbox: &Outbox, mut batch: AlertBatch) -> Result<Claimed, StateError> {
    let store = svc.store.as_ref();
    // The new alerts go out also when the outbox cannot be read; what it keeps waits for
    // the redelivery, as the input fails.
    let kept = outbox.take(store, now());
    let mut claimed = Claimed {
        kept,
        messages: Vec::new(),
        alerts: Vec::new(),
        ahead: Ok(Vec::new()),
        fresh: Vec::new(),
        unrenderable: 0,
    };
    if batch.is_empty() {
        return Ok(claimed);
    }
    let alerts = batch.finish(store);
    if alerts.is_err()
        && let Err(e) = store.flush()
    {
        // The batch gave up its claims, for the redelivery to alert again.
        tracing::error!(error = %e, "Could not give up the claims of unsent alerts");
    }
    // Counted only once claimed: a redelivery that finds them again does not count them.
    claimed.fresh = batch.fresh().map(|(f, n)| (f.clone(), n)).collect();
    for alert in alerts? {
        match Outgoing::new(&alert.finding) {
            Ok(message) => {
                claimed.messages.push(message);
                claimed.alerts.push(alert);
            }
            // It can never be sent: a redelivery would not help.
            Err(e) => {
                claimed.unrenderable += 1;
                tracing::error!(detection = alert.finding.detection, error = %e, "An alert cannot be sent");
            }
        }
    }
    // Slots once taken are this run's: what a failed flush did not write here is written
    // again after publishing (the puts stay held until a flush takes them).
    claimed.ahead = outbox.reserve(store, claimed.messages.len(), now());
    let written = match &claimed.ahead {
        Ok(slots) => outbox
            .fill(store, slots, &claimed.messages, now())
            .and_then(|()| store.flush())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = written {
        tracing::warn!(error = %e, "Could not keep the new alerts before publishing them");
    }
    Ok(claimed)
}

/// The findings of an input (folded in `batch`) → alert policy → SNS, with what the
/// outbox kept for this input. Alerts SNS
/// does not take stay in the outbox and fail the input, so its redelivery sends them.
pub(crate) async fn send_alerts(
    svc: &Arc<Services>,
    batch: AlertBatch,
    metrics: &Arc<Mutex<Metrics>>,
    outbox: &Outbox,
) -> Result<(), String> {
    let task_svc = Arc::clone(svc);
    let task_outbox = outbox.clone();
    let claimed = tokio::task::spawn_blocking(move || claim(&task_svc, &task_outbox, batch))
        .await
        .map_err(|e| format!("alert task failed: {e}"))?
        .map_err(|e| e.to_string())?;
    lock(metrics).findings(&claimed.fresh, svc.engine.inventory());
    let mut errors = Vec::new();
    let kept = claimed.kept.unwrap_or_else(|e| {
        errors.push(format!("could not read the outbox: {e}"));
        Vec::new()
    });
    if kept.is_empty() && claimed.messages.is_empty() {
        if claimed.unrenderable > 0 {
            lock(metrics).alerts(&[], claimed.unrenderable);
        }
        return match errors.pop() {
            Some(e) => Err(e),
            None => Ok(()),
        };
    }
    // The kept messages first, then the new ones.
    let (mut slots, mut messages): (Vec<usize>, Vec<Outgoing>) = kept.into_iter().unzip();
    let k = slots.len();
    messages.extend(claimed.messages);
    let new_alerts = claimed.alerts;
    let ahead = claimed.ahead.is_ok();
    slots.extend(claimed.ahead.unwrap_or_default());

    let failed = svc.alerts.publish(&messages).await;
    let is_failed = |i: usize| failed.binary_search_by_key(&i, |f| f.index).is_ok();
    let sent: Vec<Severity> = (0..messages.len())
        .filter(|&i| !is_failed(i))
        .map(|i| messages[i].severity)
        .collect();
    lock(metrics).alerts(&sent, failed.len() + claimed.unrenderable);
    tracing::info!(alerts = sent.len(), failed = failed.len(), "Alerts published");
    errors.extend(failed.iter().map(ToString::to_string));

    // Alerts that went out leave their slots. New ones that did not stay in theirs, written
    // again in case the write before publishing failed, or, without slots, get some now.
    let sent_slots: Vec<usize> = (0..slots.len())
        .filter(|&i| !is_failed(i))
        .map(|i| slots[i])
        .collect();
    let unsent_new: Vec<usize> = failed.iter().map(|f| f.index).filter(|&i| i >= k).collect();
    let unsent: Vec<Outgoing> = unsent_new.iter().map(|&i| messages[i].clone()).collect();
    let unsent_slots: Option<Vec<usize>> = ahead.then(|| unsent_new.iter().map(|&i| slots[i]).collect());
    let unsent_alerts: Vec<Alert> = unsent_new.iter().map(|&i| new_alerts[i - k].clone()).collect();
    let task_svc = Arc::clone(svc);
    let task_outbox = outbox.clone();
    let lost = tokio::task::spawn_blocking(move || {
        let store = task_svc.store.as_ref();
        let marked = task_outbox.sent(store, &sent_slots);
        let kept = match &unsent_slots {
            Some(slots) => task_outbox.fill(store, slots, &unsent, now()),
            None => task_outbox.keep(store, &unsent, now()).map(drop),
        };
        let error = marked.and(kept).and_then(|()| store.flush()).err()?;
        if unsent.is_empty() {
            // Everything went out. Only a redelivery of this input reads the slots left
            // full, and sends their alerts twice.
            tracing::warn!(error = %error, "Could not empty the outbox slots of published alerts");
            return None;
        }
        // The outbox may not hold them: give up the new alerts' claims instead, so a
        // redelivery that finds them again sends them (stateless detections do).
        for alert in &unsent_alerts {
            if let Err(e) = task_svc.engine.policy().release(alert, store) {
                tracing::error!(error = %e, "Could not release an unsent alert");
            }
        }
        if let Err(e) = store.flush() {
            tracing::error!(error = %e, "Could not release unsent alerts");
        }
        Some(format!("could not write the outbox: {error}"))
    })
    .await
    .map_err(|e| format!("outbox task failed: {e}"))?;
    if let Some(lost) = lost {
        tracing::error!(error = %lost, "Unsent alerts may be lost");
        errors.push(lost);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::{Clients, Settings};
    use trailwatch_aws_test_support::{Moto, create_state_table, sdk_config, unique_name};

    /// A CloudTrail file that goes on, a record per read, until twice `at` reads (then it is
    /// cut off); the `at`th read gives its message up.
    struct Endless {
        reads: Arc<Mutex<usize>>,
        at: usize,
        give_up: GiveUp,
        pending: std::io::Cursor<Vec<u8>>,
    }

    /// A call with a long-term access key: a `long-term-access-key` finding.
    const RECORD: &str = r#"{"eventVersion":"1.09","eventTime":"2026-11-30T10:00:00Z",
        "eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"ap-southeast-1",
        "sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15.0",
        "userIdentity":{"type":"IAMUser","accountId":"111122223333",
        "arn":"arn:aws:iam::111122223333:user/dev","accessKeyId":"AKIAEXAMPLE"},
        "eventID":"e","recipientAccountId":"111122223333"},"#;

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.pending.position() as usize == self.pending.get_ref().len() {
                let mut reads = self.reads.lock().unwrap();
                *reads += 1;
                if *reads == self.at {
                    self.give_up.now();
                }
                let next = match *reads {
                    1 => "{\"Records\":[",
                    n if n > 2 * self.at => return Ok(0),
                    _ => RECORD,
                };
                self.pending = std::io::Cursor::new(next.as_bytes().to_vec());
            }
            self.pending.read(buf)
        }
    }

    /// A message given up while its engine reads (an endless file, which gives it up at
    /// its 5 000th read) stops reading there and claims none of what it found.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_given_up_message_stops_reading_and_claims_nothing() {
        let sdk = sdk_config(Moto::shared().endpoint()).await;
        let clients = Clients::new(&sdk);
        let dynamodb = clients.dynamodb.clone();
        let table = unique_name("state");
        create_state_table(&clients.dynamodb, &table).await;
        let settings = Settings {
            config: concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples/trailwatch.toml").to_string(),
            topic_arn: "arn:aws:sns:ap-southeast-1:111122223333:unused".to_string(),
            table: table.clone(),
            concurrency: 1,
        };
        let svc = Arc::new(Services::new(clients, settings).await.unwrap());
        let give_up = GiveUp::default();
        let reads = Arc::new(Mutex::new(0));
        let endless = Endless {
            reads: Arc::clone(&reads),
            at: 5_000,
            give_up: give_up.clone(),
            pending: std::io::Cursor::new(Vec::new()),
        };
        let (batch, result) = run_engine(&svc, endless, svc.engine.policy().batch(), &give_up).await;
        let error = result.expect_err("a given-up input fails");
        assert!(error.contains(GIVEN_UP), "{error}");
        assert_eq!(*reads.lock().unwrap(), 5_000, "no read after the give-up");

        assert!(!batch.is_empty(), "it found something before");
        let metrics = Arc::new(Mutex::new(Metrics::default()));
        let outbox = Outbox::for_payload(b"given up");
        let done = conclude(&svc, batch, &metrics, &outbox, &give_up, vec![]).await;
        assert_eq!(done, Err(GIVEN_UP.to_string()));
        let items = dynamodb.scan().table_name(&table).send().await.unwrap();
        let keys: Vec<_> = items.items().iter().filter_map(|i| i.get("pk")).collect();
        assert!(keys.is_empty(), "nothing claimed nor kept: {keys:?}");
    }
}
