//! Alerts to SNS: one message per alert, sent with PublishBatch.
//!
//! Each message is the finding JSON (plus a `markdown` rendering, escaped for chat), with
//! a subject for email subscribers and the message attributes `severity` and `detection`
//! for subscription filter policies.
//! Entries SNS did not take are retried with backoff; what still fails is reported per
//! alert, so the caller can fail exactly the SQS message it came from.

use std::time::Duration;

use aws_sdk_sns::Client;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};

use trailwatch::{Finding, Severity};

use crate::services::error_chain;

/// SNS takes at most ten entries per PublishBatch…
const MAX_BATCH: usize = 10;
/// …and 256 KiB in all (a little kept back for attributes and the envelope).
const MAX_BATCH_BYTES: usize = 250 * 1024;
/// The longest message body we send; event id lists are cut to fit.
const MAX_MESSAGE_BYTES: usize = 200 * 1024;
/// SNS subjects: ASCII, no line breaks, fewer than 100 characters.
const MAX_SUBJECT: usize = 99;

/// Publishes alerts to one topic.
#[derive(Debug, Clone)]
pub struct AlertPublisher {
    client: Client,
    topic_arn: String,
    attempts: u32,
    backoff: Duration,
}

/// An alert rendered for SNS: what one PublishBatch entry carries. It is what the outbox
/// keeps of an alert not yet delivered, so a later run sends the same message. Its JSON
/// holds the attributes only: the outbox stores the message beside it, as it is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Outgoing {
    /// [`subject`].
    pub subject: String,
    /// [`message`].
    #[serde(skip)]
    pub message: String,
    /// The `severity` message attribute.
    pub severity: Severity,
    /// The `detection` message attribute.
    pub detection: String,
}

impl Outgoing {
    /// Renders one alert; Err when it cannot fit an SNS message.
    pub fn new(alert: &Finding) -> Result<Self, String> {
        Ok(Self {
            subject: subject(alert),
            message: message(alert)?,
            severity: alert.severity,
            detection: alert.detection.to_string(),
        })
    }
}

/// An alert that could not be published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("publishing alert {index} failed: {reason}")]
pub struct PublishError {
    /// Index of the alert in the slice given to [`AlertPublisher::publish`].
    pub index: usize,
    /// The last error.
    pub reason: String,
}

impl AlertPublisher {
    /// A publisher to `topic_arn`: 4 attempts, backoff from 200 ms.
    pub fn new(client: Client, topic_arn: String) -> Self {
        Self {
            client,
            topic_arn,
            attempts: 4,
            backoff: Duration::from_millis(200),
        }
    }

    /// Sets attempts and first backoff (tests use short ones).
    pub fn with_retries(mut self, attempts: u32, backoff: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.backoff = backoff;
        self
    }

    /// Publishes every alert; returns the ones that failed after all attempts.
    pub async fn publish(&self, alerts: &[Outgoing]) -> Vec<PublishError> {
        let mut pending: Vec<(usize, PublishBatchRequestEntry)> = Vec::new();
        let mut failed = Vec::new();
        for (i, alert) in alerts.iter().enumerate() {
            match entry(i, alert) {
                Ok(e) => pending.push((i, e)),
                Err(reason) => failed.push(PublishError { index: i, reason }),
            }
        }
        let mut delay = self.backoff;
        for attempt in 1..=self.attempts {
            let mut retry = Vec::new();
            for chunk in chunks(pending) {
                let ids: Vec<usize> = chunk.iter().map(|(i, _)| *i).collect();
                let entries: Vec<PublishBatchRequestEntry> = chunk.iter().map(|(_, e)| e.clone()).collect();
                match self
                    .client
                    .publish_batch()
                    .topic_arn(&self.topic_arn)
                    .set_publish_batch_request_entries(Some(entries))
                    .send()
                    .await
                {
                    Ok(out) => {
                        for f in out.failed() {
                            let Some(pos) = chunk.iter().position(|(_, e)| e.id() == f.id()) else {
                                continue;
                            };
                            let reason = format!("{}: {}", f.code(), f.message().unwrap_or_default());
                            if f.sender_fault() || attempt == self.attempts {
                                failed.push(PublishError {
                                    index: chunk[pos].0,
                                    reason,
                                });
                            } else {
                                retry.push(chunk[pos].clone());
                            }
                        }
                    }
                    Err(e) => {
                        let reason = error_chain(&e);
                        tracing::warn!(attempt, error = %reason, "PublishBatch failed");
                        if attempt == self.attempts {
                            failed.extend(ids.into_iter().map(|index| PublishError {
                                index,
                                reason: reason.clone(),
                            }));
                        } else {
                            retry.extend(chunk);
                        }
                    }
                }
            }
            if retry.is_empty() {
                break;
            }
            tokio::time::sleep(delay).await;
            delay *= 2;
            pending = retry;
        }
        failed.sort_by_key(|e| e.index);
        failed
    }
}

/// Groups entries into PublishBatch calls within the count and size limits.
fn chunks(entries: Vec<(usize, PublishBatchRequestEntry)>) -> Vec<Vec<(usize, PublishBatchRequestEntry)>> {
    let mut out: Vec<Vec<_>> = Vec::new();
    let mut bytes = 0;
    for e in entries {
        let size = e.1.message().len() + e.1.subject().map_or(0, str::len) + 256;
        match out.last_mut() {
            Some(last) if last.len() < MAX_BATCH && bytes + size <= MAX_BATCH_BYTES => {
                bytes += size;
                last.push(e);
            }
            _ => {
                bytes = size;
                out.push(vec![e]);
            }
        }
    }
    out
}

/// The SNS subject for an alert: `[SEVERITY] title`, ASCII, one line, < 100 characters.
pub fn subject(alert: &Finding) -> String {
    let raw = format!("[{}] {}", alert.severity.as_str().to_uppercase(), alert.title);
    let mut out: String = raw
        .chars()
        .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' })
        .collect();
    if out.len() > MAX_SUBJECT {
        out.truncate(MAX_SUBJECT - 3);
        out.push_str("...");
    }
    out
}

/// The message body: the finding JSON plus `markdown`, the alert rendered as Markdown
/// with every value escaped ([`Finding::markdown`]) for chat integrations; cut to fit by
/// dropping event ids.
pub fn message(alert: &Finding) -> Result<String, String> {
    let mut alert = alert.clone();
    loop {
        let body = serde_json::to_string(&Message {
            finding: &alert,
            markdown: alert.markdown(),
        })
        .map_err(|e| e.to_string())?;
        if body.len() <= MAX_MESSAGE_BYTES {
            return Ok(body);
        }
        if alert.event_ids.len() <= 1 {
            return Err(format!(
                "alert of {} bytes does not fit an SNS message",
                body.len()
            ));
        }
        let keep = alert.event_ids.len() / 2;
        alert.event_ids.truncate(keep);
    }
}

/// An SNS message body: the finding's fields, then `markdown`.
#[derive(serde::Serialize)]
struct Message<'a> {
    #[serde(flatten)]
    finding: &'a Finding,
    markdown: String,
}

fn attribute(value: &str) -> Result<MessageAttributeValue, String> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| e.to_string())
}

fn entry(index: usize, alert: &Outgoing) -> Result<PublishBatchRequestEntry, String> {
    PublishBatchRequestEntry::builder()
        .id(index.to_string())
        .subject(&alert.subject)
        .message(&alert.message)
        .message_attributes("severity", attribute(alert.severity.as_str())?)
        .message_attributes("detection", attribute(&alert.detection)?)
        .build()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailwatch::record::RecordView;

    fn alert(title: &str) -> Finding {
        Finding::new("irsa-assume-failure", Severity::High, &RecordView::default())
            .text(title.into(), String::new())
    }

    #[test]
    fn subjects_are_ascii_lines_under_100() {
        let cases = [
            ("short", "[HIGH] short"),
            ("line\nbreak\r\ttab", "[HIGH] line?break??tab"),
            ("日本語 → role", "[HIGH] ??? ? role"),
        ];
        for (title, want) in cases {
            assert_eq!(subject(&alert(title)), want, "{title:?}");
        }
        let long = subject(&alert(&"x".repeat(500)));
        assert!(long.len() < 100 && long.ends_with("..."), "{long}");
    }

    #[test]
    fn big_alerts_are_cut_to_fit() {
        let mut a = alert("many");
        a.event_ids = (0..20_000).map(|i| format!("event-{i:08}")).collect();
        let body = message(&a).unwrap();
        assert!(body.len() <= MAX_MESSAGE_BYTES, "{}", body.len());
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(parsed["event_ids"].as_array().is_some_and(|ids| !ids.is_empty()));
    }

    #[test]
    fn batches_respect_count_and_size() {
        let entries: Vec<_> = (0..25)
            .map(|i| (i, entry(i, &Outgoing::new(&alert("a")).unwrap()).unwrap()))
            .collect();
        let sizes: Vec<usize> = chunks(entries).iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 5]);
    }
}
