//! The outbox: alerts SNS did not take, kept in the state table under the input they
//! came from, and published first when that input is processed again.
//!
//! An alert is claimed before it is published, and the state that decided it (a crossed
//! threshold, a first-seen marker) is written before that. Processing its input again
//! would therefore not find it again, so what SNS did not take has to be kept. The outbox
//! keeps the rendered messages under `outbox/<digest of the input>`; the redelivery of
//! the same input (SQS delivers the message again, Lambda retries the event) publishes
//! them with its own alerts and keeps what still fails.
//!
//! Two deliveries of one input at the same moment may both publish what was kept: an
//! alert can then arrive twice, but it is not lost.

use trailwatch::alert::digest;
use trailwatch::state::{StateError, StateStore};

use crate::objects::ObjectRef;
use crate::sns::Outgoing;

/// How long kept alerts wait for their input to come again: SQS keeps a message at most
/// 14 days (on the wall clock, which is also the time the outbox is read at).
const KEEP_SECS: i64 = 14 * 86_400;

/// Where the unsent alerts of one input are kept: a count under the outbox key, and each
/// alert under `<key>/<n>` (one DynamoDB item holds at most 400 KB; one alert, 200 KiB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbox {
    key: String,
}

/// What an outbox held when it was read.
#[derive(Debug, Default)]
pub struct Kept {
    /// The alerts, in the order they were kept.
    pub alerts: Vec<Outgoing>,
    /// How many entries the count named (also those that were unreadable).
    slots: usize,
}

impl Outbox {
    /// The outbox of a message's objects, whatever their order.
    pub fn for_objects(objects: &[ObjectRef]) -> Self {
        // Lengths first: names may hold any character, separators included.
        let mut names: Vec<String> = objects
            .iter()
            .map(|o| format!("{}:{}{}:{}", o.bucket.len(), o.bucket, o.key.len(), o.key))
            .collect();
        names.sort_unstable();
        names.dedup();
        Self::for_payload(names.concat().as_bytes())
    }

    /// The outbox of one event's payload (a CloudWatch Logs delivery).
    pub fn for_payload(payload: &[u8]) -> Self {
        Self {
            key: format!("outbox/{}", digest(payload)),
        }
    }

    fn slot(&self, i: usize) -> String {
        format!("{}/{i}", self.key)
    }

    /// The alerts kept for this input. An entry that cannot be read is logged and left
    /// out: it cannot be sent.
    pub fn take(&self, store: &dyn StateStore, now: i64) -> Result<Kept, StateError> {
        let Some(count) = store.get(&self.key, now)? else {
            return Ok(Kept::default());
        };
        let slots = std::str::from_utf8(&count)
            .ok()
            .and_then(|c| c.parse::<usize>().ok())
            .unwrap_or_else(|| {
                tracing::error!(key = %self.key, "Unreadable outbox count; its alerts are lost");
                0
            });
        let keys: Vec<(String, i64)> = (0..slots).map(|i| (self.slot(i), now)).collect();
        let mut alerts = Vec::with_capacity(slots);
        for (value, (key, _)) in store.get_many(&keys)?.into_iter().zip(&keys) {
            match value.map(|v| serde_json::from_slice::<Outgoing>(&v)) {
                Some(Ok(alert)) => alerts.push(alert),
                Some(Err(e)) => tracing::error!(%key, error = %e, "Unreadable kept alert; it is lost"),
                None => tracing::error!(%key, "A kept alert is missing"),
            }
        }
        if !alerts.is_empty() {
            tracing::info!(
                alerts = alerts.len(),
                "Publishing alerts kept from an earlier run"
            );
        }
        Ok(Kept { alerts, slots })
    }

    /// Replaces what `kept` read with `unsent`, durably: an empty `unsent` empties the
    /// outbox. Writes nothing when there was nothing and is nothing.
    pub fn keep(
        &self,
        store: &dyn StateStore,
        kept: &Kept,
        unsent: &[Outgoing],
        now: i64,
    ) -> Result<(), StateError> {
        if kept.slots == 0 && unsent.is_empty() {
            return Ok(());
        }
        let expires = now.saturating_add(KEEP_SECS);
        for (i, alert) in unsent.iter().enumerate() {
            let value = serde_json::to_vec(alert).map_err(|e| StateError::backend("outbox", e))?;
            store.put(&self.slot(i), &value, expires)?;
        }
        // Expired entries are absent: an expiry in the past is a delete.
        for i in unsent.len()..kept.slots {
            store.put(&self.slot(i), b"", i64::MIN)?;
        }
        if unsent.is_empty() {
            store.put(&self.key, b"", i64::MIN)?;
        } else {
            store.put(&self.key, unsent.len().to_string().as_bytes(), expires)?;
        }
        store.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailwatch::Severity;
    use trailwatch::state::MemoryStore;

    fn alert(n: u32) -> Outgoing {
        Outgoing {
            subject: format!("[HIGH] alert {n}"),
            message: format!("{{\"n\":{n}}}"),
            severity: Severity::High,
            detection: "access-denied-burst".into(),
        }
    }

    fn object(bucket: &str, key: &str) -> ObjectRef {
        ObjectRef {
            bucket: bucket.into(),
            key: key.into(),
        }
    }

    #[test]
    fn an_input_has_one_outbox_whatever_the_order_of_its_objects() {
        let (a, b) = (object("logs", "a.json.gz"), object("logs", "b.json.gz"));
        let ab = Outbox::for_objects(&[a.clone(), b.clone()]);
        assert_eq!(ab, Outbox::for_objects(&[b.clone(), a.clone()]));
        assert_ne!(ab, Outbox::for_objects(std::slice::from_ref(&a)));
        // The separator cannot be forged from inside a name.
        assert_ne!(
            Outbox::for_objects(&[object("logs", "a:b")]),
            Outbox::for_objects(&[object("logs:a", "b")])
        );
        assert_ne!(ab, Outbox::for_payload(b"H4sI"));
    }

    #[test]
    fn kept_alerts_come_back_until_they_are_sent() {
        let store = MemoryStore::new();
        let outbox = Outbox::for_payload(b"delivery");
        let now = 1_764_000_000;
        let nothing = outbox.take(&store, now).unwrap();
        assert!(nothing.alerts.is_empty());

        outbox
            .keep(&store, &nothing, &[alert(1), alert(2), alert(3)], now)
            .unwrap();
        let three = outbox.take(&store, now + 60).unwrap();
        assert_eq!(three.alerts, [alert(1), alert(2), alert(3)]);
        // Another input's outbox is its own.
        assert!(
            Outbox::for_payload(b"other")
                .take(&store, now)
                .unwrap()
                .alerts
                .is_empty()
        );

        // One still fails: only it stays, and the slots it does not use are gone.
        outbox.keep(&store, &three, &[alert(3)], now + 60).unwrap();
        let one = outbox.take(&store, now + 120).unwrap();
        assert_eq!(one.alerts, [alert(3)]);
        assert_eq!(store.get(&outbox.slot(1), now + 120).unwrap(), None);

        outbox.keep(&store, &one, &[], now + 120).unwrap();
        assert!(outbox.take(&store, now + 180).unwrap().alerts.is_empty());
        assert_eq!(store.get(&outbox.key, now + 180).unwrap(), None);

        // Kept alerts wait as long as SQS keeps a message, not longer.
        outbox.keep(&store, &Kept::default(), &[alert(4)], now).unwrap();
        assert_eq!(
            outbox.take(&store, now + KEEP_SECS - 1).unwrap().alerts,
            [alert(4)]
        );
        assert!(outbox.take(&store, now + KEEP_SECS).unwrap().alerts.is_empty());
    }

    #[test]
    fn an_unreadable_kept_alert_loses_only_itself() {
        let store = MemoryStore::new();
        let outbox = Outbox::for_payload(b"delivery");
        outbox
            .keep(&store, &Kept::default(), &[alert(1), alert(2)], 0)
            .unwrap();
        store.put(&outbox.slot(0), b"not json", KEEP_SECS).unwrap();
        let kept = outbox.take(&store, 0).unwrap();
        assert_eq!(kept.alerts, [alert(2)]);
        assert_eq!(kept.slots, 2);
    }
}
