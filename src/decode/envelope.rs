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
    DocumentKind::Unknown
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
