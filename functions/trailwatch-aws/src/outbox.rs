//! The outbox: alerts on their way to SNS, kept in the state table under the input they
//! came from until SNS has taken them, and published first when that input is processed
//! again.
//!
//! An alert is claimed before it is published. Processing its input again finds it
//! again, but finds it claimed and does not send it, so what SNS has not taken has to be
//! kept: each new
//! alert is written here as soon as it is claimed, before it is published, and leaves when
//! SNS takes it. A run stopped in between (Lambda's timeout, a crash, SNS failing) leaves
//! it here. The outbox keeps the rendered messages under `outbox/<digest of the input>`;
//! the redelivery of the same input (SQS delivers the message again, Lambda retries the
//! event) publishes them with its own alerts.
//!
//! Each kept alert has a slot of its own, numbered by an atomic counter, and leaves it
//! only when it is published: two deliveries of one input at once, a run stopped after
//! publishing, or a write that fails half-way, may send an alert twice but do not lose one.

use trailwatch::alert::digest;
use trailwatch::state::{StateError, StateStore};

use crate::objects::ObjectRef;
use crate::sns::Outgoing;

/// How long kept alerts wait for their input to come again: SQS keeps a message at most
/// 14 days from when it was sent (on the wall clock, which is also the time the outbox is
/// read at).
const KEEP_SECS: i64 = 14 * 86_400;

/// Where the unsent alerts of one input are kept: a marker under the outbox key (one
/// `GetItem` tells an input without kept alerts), the number of slots taken under
/// `<key>/n`, and each alert under `<key>/<slot>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbox {
    key: String,
}

/// A kept alert and its slot.
pub type Kept = (usize, Outgoing);

/// A kept alert: its attributes as JSON, a line break, and its message as it is. Escaped
/// into JSON once more the message could grow past DynamoDB's 400 KB item limit.
fn encode(alert: &Outgoing) -> Result<Vec<u8>, StateError> {
    let mut bytes = serde_json::to_vec(alert).map_err(|e| StateError::backend("outbox", e))?;
    bytes.push(b'\n');
    bytes.extend_from_slice(alert.message.as_bytes());
    Ok(bytes)
}

fn decode(bytes: &[u8]) -> Result<Outgoing, String> {
    let split = bytes.iter().position(|&b| b == b'\n').ok_or("no message")?;
    let mut alert: Outgoing = serde_json::from_slice(&bytes[..split]).map_err(|e| e.to_string())?;
    alert.message = String::from_utf8(bytes[split + 1..].to_vec()).map_err(|e| e.to_string())?;
    Ok(alert)
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

    fn counter(&self) -> String {
        format!("{}/n", self.key)
    }

    /// The alerts kept for this input, with their slots. An entry that cannot be read is
    /// logged and left out: it cannot be sent.
    pub fn take(&self, store: &dyn StateStore, now: i64) -> Result<Vec<Kept>, StateError> {
        if store.get(&self.key, now)?.is_none() {
            return Ok(Vec::new());
        }
        // Adding nothing reads the counter (stores keep counters their own way).
        let slots = store.increment(&self.counter(), 0, now, now.saturating_add(KEEP_SECS))?;
        let keys: Vec<(String, i64)> = (0..slots as usize).map(|i| (self.slot(i), now)).collect();
        let mut kept = Vec::new();
        for (i, value) in store.get_many(&keys)?.into_iter().enumerate() {
            // A slot is absent once its alert was sent.
            let Some(value) = value else { continue };
            match decode(&value) {
                Ok(alert) => kept.push((i, alert)),
                Err(e) => tracing::error!(key = %keys[i].0, error = %e, "Unreadable kept alert; it is lost"),
            }
        }
        if !kept.is_empty() {
            tracing::info!(alerts = kept.len(), "Publishing alerts kept from an earlier run");
        }
        Ok(kept)
    }

    /// Empties the slots of kept alerts that were published. Held until the store's flush.
    pub fn sent(&self, store: &dyn StateStore, slots: &[usize]) -> Result<(), StateError> {
        for &i in slots {
            // Expired entries are absent: an expiry in the past is a delete.
            store.put(&self.slot(i), b"", i64::MIN)?;
        }
        Ok(())
    }

    /// Keeps `unsent` in slots of their own ([`Outbox::reserve`], then [`Outbox::fill`]),
    /// and returns the slots, in their order.
    pub fn keep(
        &self,
        store: &dyn StateStore,
        unsent: &[Outgoing],
        now: i64,
    ) -> Result<Vec<usize>, StateError> {
        let slots = self.reserve(store, unsent.len(), now)?;
        self.fill(store, &slots, unsent, now)?;
        Ok(slots)
    }

    /// Takes `n` slots (an atomic increment of the counter).
    pub fn reserve(&self, store: &dyn StateStore, n: usize, now: i64) -> Result<Vec<usize>, StateError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let end = store.increment(&self.counter(), n as u64, now, now.saturating_add(KEEP_SECS))? as usize;
        Ok((end.saturating_sub(n)..end).collect())
    }

    /// Writes each alert to its slot, and the marker. The puts are held until the store's
    /// flush, which makes them durable; writing a slot again writes the same alert.
    pub fn fill(
        &self,
        store: &dyn StateStore,
        slots: &[usize],
        alerts: &[Outgoing],
        now: i64,
    ) -> Result<(), StateError> {
        if alerts.is_empty() {
            return Ok(());
        }
        let expires = now.saturating_add(KEEP_SECS);
        for (&i, alert) in slots.iter().zip(alerts) {
            store.put(&self.slot(i), &encode(alert)?, expires)?;
        }
        store.put(&self.key, b"1", expires)
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
            message: format!("{{\"n\":{n},\"quoted\":\"a \\\"b\\\" \\n c\"}}"),
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

    fn alerts(kept: &[Kept]) -> Vec<Outgoing> {
        kept.iter().map(|(_, a)| a.clone()).collect()
    }

    fn slots(kept: &[Kept]) -> Vec<usize> {
        kept.iter().map(|(i, _)| *i).collect()
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
        assert!(outbox.take(&store, now).unwrap().is_empty());

        assert_eq!(
            outbox.keep(&store, &[alert(1), alert(2), alert(3)], now).unwrap(),
            [0, 1, 2]
        );
        let three = outbox.take(&store, now + 60).unwrap();
        assert_eq!(alerts(&three), [alert(1), alert(2), alert(3)]);
        // Another input's outbox is its own.
        assert!(
            Outbox::for_payload(b"other")
                .take(&store, now)
                .unwrap()
                .is_empty()
        );

        // Two were sent, one failed again: it stays in its slot, and a new one joins it.
        outbox.sent(&store, &[0, 1]).unwrap();
        assert_eq!(outbox.keep(&store, &[alert(4)], now + 60).unwrap(), [3]);
        let left = outbox.take(&store, now + 120).unwrap();
        assert_eq!(slots(&left), [2, 3]);
        assert_eq!(alerts(&left), [alert(3), alert(4)]);

        outbox.sent(&store, &slots(&left)).unwrap();
        assert!(outbox.take(&store, now + 180).unwrap().is_empty());

        // Kept alerts wait as long as SQS keeps a message, not longer.
        let later = Outbox::for_payload(b"later");
        later.keep(&store, &[alert(5)], now).unwrap();
        assert_eq!(
            alerts(&later.take(&store, now + KEEP_SECS - 1).unwrap()),
            [alert(5)]
        );
        assert!(later.take(&store, now + KEEP_SECS).unwrap().is_empty());
    }

    /// Two deliveries of one input read the same kept alert K. One cannot publish and
    /// keeps K and its own new alert Y; the other publishes K. Y stays kept.
    #[test]
    fn concurrent_deliveries_lose_nothing() {
        let store = MemoryStore::new();
        let outbox = Outbox::for_payload(b"message");
        let now = 1_764_000_000;
        outbox.keep(&store, &[alert(1)], now).unwrap();
        let a = outbox.take(&store, now + 1).unwrap();
        let b = outbox.take(&store, now + 1).unwrap();
        assert_eq!(alerts(&a), [alert(1)]);
        assert_eq!(a, b);
        // A: SNS took nothing; K stays where it is and Y gets a slot of its own.
        outbox.keep(&store, &[alert(2)], now + 2).unwrap();
        // B: SNS took K.
        outbox.sent(&store, &slots(&b)).unwrap();
        assert_eq!(alerts(&outbox.take(&store, now + 3).unwrap()), [alert(2)]);
    }

    #[test]
    fn a_kept_alert_is_stored_as_it_is_and_an_unreadable_one_loses_only_itself() {
        let store = MemoryStore::new();
        let outbox = Outbox::for_payload(b"delivery");
        let big = Outgoing {
            message: "\"".repeat(200 * 1024),
            ..alert(1)
        };
        assert!(
            encode(&big).unwrap().len() < 200 * 1024 + 200,
            "not escaped again"
        );
        outbox.keep(&store, &[big.clone(), alert(2)], 0).unwrap();
        assert_eq!(alerts(&outbox.take(&store, 0).unwrap()), [big, alert(2)]);
        store.put(&outbox.slot(0), b"not json\n{}", KEEP_SECS).unwrap();
        let kept = outbox.take(&store, 0).unwrap();
        assert_eq!(kept, [(1, alert(2))]);
    }
}
