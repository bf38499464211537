//! What a whole top-level document is: a record, a batch, or an envelope around records.

use simd_json::prelude::*;
use simd_json::tape::{Array, Value};

/// The shape of one top-level JSON document.
pub enum DocumentKind<'t, 'a> {
    /// A CloudTrail batch whose `Records` key was not first (the splitter streams the
    /// usual layout; this catches the rest).
    Records(Array<'t, 'a>),
    /// A single CloudTrail record (bare, an NDJSON line, or EventBridge's `detail`).
    Record(Value<'t, 'a>),
    /// A decoded CloudWatch Logs subscription payload: each `message` is a record.
    LogEvents(Array<'t, 'a>),
    /// A CloudWatch Logs CONTROL_MESSAGE (a health check): nothing to do.
    Control,
    /// The raw CloudWatch Logs Lambda event: `awslogs.data` is base64 of gzip.
    AwsLogs(&'a str),
    /// A CloudTrail digest file.
    Digest,
    /// A CloudTrail Insights record.
    Insight,
    /// A notification about log files (CloudTrail's delivery notification, bare or in an
    /// SNS envelope): what it is, for the error that says so.
    Notification(String),
    /// Valid JSON that trailwatch does not know.
    Unknown,
    /// Not an object at all.
    NotObject,
}

/// Tells what `doc` is, by the keys each shape is defined by.
pub fn classify<'t, 'a>(doc: Value<'t, 'a>) -> DocumentKind<'t, 'a> {
    let Some(object) = doc.as_object() else {
        return DocumentKind::NotObject;
    };
    if let Some(records) = object.get("Records").and_then(|r| r.as_array()) {
        return DocumentKind::Records(records);
    }
    if let Some(events) = object.get("logEvents").and_then(|e| e.as_array()) {
        return match object.get("messageType").and_then(|m| m.into_string()) {
            Some("CONTROL_MESSAGE") => DocumentKind::Control,
            _ => DocumentKind::LogEvents(events),
        };
    }
    if let Some(data) = object
        .get("awslogs")
        .and_then(|a| a.as_object())
        .and_then(|a| a.get("data"))
        .and_then(|d| d.into_string())
    {
        return DocumentKind::AwsLogs(data);
    }
    if object.get("detail-type").is_some()
        && let Some(detail) = object.get("detail").filter(|d| d.is_object())
    {
        return classify_record(detail);
    }
    if object.get("digestStartTime").is_some() || object.get("digestPublicKeyFingerprint").is_some() {
        return DocumentKind::Digest;
    }
    if object.get("eventName").is_some() || object.get("eventID").is_some() {
        return classify_record(doc);
    }
    if let Some(what) = notification(&object) {
        return DocumentKind::Notification(what);
    }
    DocumentKind::Unknown
}

/// What `object` is when it notifies of log files instead of holding records: the queue
/// message an SQS-triggered reader gets, saved and replayed by mistake.
fn notification(object: &simd_json::tape::Object<'_, '_>) -> Option<String> {
    if let Some(files) = object.get("s3ObjectKey").and_then(|k| k.as_array()) {
        let bucket = object.get("s3Bucket").and_then(|b| b.into_string());
        return Some(delivery("delivery notification", files.len(), bucket));
    }
    let sns = object.get("Type").and_then(|t| t.into_string()) == Some("Notification")
        && object.get("TopicArn").is_some();
    let message = object
        .get("Message")
        .and_then(|m| m.into_string())
        .filter(|_| sns)?;
    // Rare, and the message is a JSON document in a string: read it the plain way.
    let inner: serde_json::Value = serde_json::from_str(message).unwrap_or_default();
    Some(match inner.get("s3ObjectKey").and_then(|k| k.as_array()) {
        Some(files) => delivery(
            "SNS notification",
            files.len(),
            inner.get("s3Bucket").and_then(|b| b.as_str()),
        ),
        None => "an SNS notification".to_string(),
    })
}

/// CloudTrail's notification (`kind`) of `files` delivered log files, naming the bucket
/// only when it is a valid bucket name (the text goes to a terminal).
fn delivery(kind: &str, files: usize, bucket: Option<&str>) -> String {
    let plural = if files == 1 { "" } else { "s" };
    let valid = |b: &&str| {
        (3..=63).contains(&b.len())
            && b.bytes()
                .all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-'))
    };
    match bucket.filter(valid) {
        Some(bucket) => format!("CloudTrail's {kind} of {files} log file{plural} in s3://{bucket}"),
        None => format!("CloudTrail's {kind} of {files} log file{plural}"),
    }
}

fn classify_record<'t, 'a>(record: Value<'t, 'a>) -> DocumentKind<'t, 'a> {
    let insight = record
        .as_object()
        .and_then(|r| r.get("eventType"))
        .and_then(|t| t.into_string())
        == Some("AwsCloudTrailInsight");
    if insight {
        DocumentKind::Insight
    } else {
        DocumentKind::Record(record)
    }
}
