//! Which S3 objects a message points at, for every way a CloudTrail delivery can arrive:
//! an S3 event notification (direct, or through SNS and SQS), CloudTrail's own SNS
//! notification, an EventBridge "Object Created" event, and the `s3:TestEvent`.

use percent_encoding::percent_decode_str;
use serde_json::Value;

use trailwatch::Engine;

/// One object to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// Bucket name.
    pub bucket: String,
    /// Key, decoded.
    pub key: String,
}

/// What a message asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Objects {
    /// Objects to process.
    pub objects: Vec<ObjectRef>,
    /// Digest and Insights objects left out by key.
    pub skipped: u64,
}

/// Why a message could not be understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Not JSON.
    #[error("message is not JSON: {0}")]
    Json(String),
    /// JSON of no known shape.
    #[error("message is no S3, SNS, CloudTrail or EventBridge notification")]
    Unknown,
}

/// S3 event keys are URL-encoded with `+` for spaces.
pub fn decode_s3_key(key: &str) -> String {
    let spaced = key.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// The objects named by one SQS message body (or any notification JSON).
pub fn from_message(body: &str) -> Result<Objects, EnvelopeError> {
    let value: Value = serde_json::from_str(body).map_err(|e| EnvelopeError::Json(e.to_string()))?;
    from_value(&value, 0)
}

fn from_value(value: &Value, depth: u8) -> Result<Objects, EnvelopeError> {
    let mut out = Objects::default();
    let push = |out: &mut Objects, bucket: &str, key: String| {
        if Engine::is_skipped_key(&key) {
            out.skipped += 1;
        } else {
            out.objects.push(ObjectRef {
                bucket: bucket.to_string(),
                key,
            });
        }
    };
    // The test message S3 sends when a notification is configured.
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(out);
    }
    // SNS envelope (S3 → SNS → SQS, or CloudTrail → SNS → SQS): the payload is a string.
    if value.get("Type").and_then(Value::as_str) == Some("Notification") && depth == 0 {
        let message = value
            .get("Message")
            .and_then(Value::as_str)
            .ok_or(EnvelopeError::Unknown)?;
        let inner: Value = serde_json::from_str(message).map_err(|e| EnvelopeError::Json(e.to_string()))?;
        return from_value(&inner, depth + 1);
    }
    // CloudTrail's own notification: keys are not URL-encoded.
    if let (Some(bucket), Some(keys)) = (
        value.get("s3Bucket").and_then(Value::as_str),
        value.get("s3ObjectKey").and_then(Value::as_array),
    ) {
        for key in keys.iter().filter_map(Value::as_str) {
            push(&mut out, bucket, key.to_string());
        }
        return Ok(out);
    }
    // EventBridge "Object Created".
    if value.get("detail-type").is_some() {
        let detail = value.get("detail").ok_or(EnvelopeError::Unknown)?;
        let bucket = detail.pointer("/bucket/name").and_then(Value::as_str);
        let key = detail.pointer("/object/key").and_then(Value::as_str);
        let (Some(bucket), Some(key)) = (bucket, key) else {
            return Err(EnvelopeError::Unknown);
        };
        push(&mut out, bucket, key.to_string());
        return Ok(out);
    }
    // S3 event notification.
    // S3 event notification. Read loosely: only bucket and key matter, and a record
    // missing other fields must not hide the object.
    if let Some(records) = value.get("Records").and_then(Value::as_array) {
        for record in records {
            let bucket = record.pointer("/s3/bucket/name").and_then(Value::as_str);
            let key = record.pointer("/s3/object/key").and_then(Value::as_str);
            let (Some(bucket), Some(key)) = (bucket, key) else {
                return Err(EnvelopeError::Unknown);
            };
            push(&mut out, bucket, decode_s3_key(key));
        }
        return Ok(out);
    }
    Err(EnvelopeError::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3_event(key: &str) -> String {
        serde_json::json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-30T10:00:00.000Z", "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": "trail", "arn": "arn:aws:s3:::trail"},
                   "object": {"key": key, "size": 10}}}]})
        .to_string()
    }

    #[test]
    fn envelopes() {
        let key = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/30/f.json.gz";
        let sns = |inner: &str| serde_json::json!({"Type": "Notification", "Message": inner}).to_string();
        let cloudtrail = serde_json::json!({"s3Bucket": "trail", "s3ObjectKey": [key, "AWSLogs/1/CloudTrail-Digest/x.json.gz"]})
            .to_string();
        let eventbridge = serde_json::json!({"detail-type": "Object Created", "source": "aws.s3",
            "detail": {"bucket": {"name": "trail"}, "object": {"key": key}}})
        .to_string();
        let one = |key: &str| Objects {
            objects: vec![ObjectRef {
                bucket: "trail".into(),
                key: key.into(),
            }],
            skipped: 0,
        };
        let cases: Vec<(&str, String, Objects)> = vec![
            ("s3 event", s3_event(key), one(key)),
            (
                "url-encoded key",
                s3_event("AWSLogs/a+b/c%3Dd%20e.json.gz"),
                one("AWSLogs/a b/c=d e.json.gz"),
            ),
            ("s3 via sns", sns(&s3_event(key)), one(key)),
            (
                "cloudtrail via sns",
                sns(&cloudtrail),
                Objects {
                    skipped: 1,
                    ..one(key)
                },
            ),
            ("eventbridge", eventbridge, one(key)),
            (
                "test event",
                r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"trail"}"#.into(),
                Objects::default(),
            ),
            (
                "digest key",
                s3_event("AWSLogs/1/CloudTrail-Digest/us-east-1/x.json.gz"),
                Objects {
                    objects: vec![],
                    skipped: 1,
                },
            ),
        ];
        for (name, body, want) in cases {
            assert_eq!(from_message(&body), Ok(want), "{name}");
        }
        assert!(matches!(from_message("nope"), Err(EnvelopeError::Json(_))));
        assert_eq!(from_message(r#"{"hello":1}"#), Err(EnvelopeError::Unknown));
    }

    #[test]
    fn real_cloudtrail_sns_notification() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/reference/real-records/sns-cloudtrail-notification.sqs-body.json"
        );
        let body = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let objects = from_message(&body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(objects.objects.len(), 2);
        assert_eq!(objects.objects[0].bucket, "my-test-bucket");
        assert!(
            objects.objects[0]
                .key
                .ends_with("_CloudTrail_us-east-1_20140309T2015Z_996mpJdKNLd1Yvzl.json.gz")
        );
    }
}
