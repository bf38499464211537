//! Document translation between Smithy RPC v2 CBOR bodies and AWS JSON 1.0 bodies.
//!
//! Requests go CBOR → JSON, driven by the CBOR data model alone (it says which values are
//! timestamps and blobs):
//!
//! | CBOR (what the SDK sends)              | JSON (what moto reads)                         |
//! |----------------------------------------|------------------------------------------------|
//! | map (definite or indefinite length)    | object (keys must be text)                     |
//! | array (definite or indefinite)         | array                                          |
//! | text string (also chunked)             | string                                         |
//! | byte string (blob)                     | base64 string (standard alphabet, padded)      |
//! | integer                                | integer                                        |
//! | float (16/32/64-bit)                   | number (`2.0` stays `2.0`)                     |
//! | float NaN / ±infinity                  | `"NaN"` / `"Infinity"` / `"-Infinity"`         |
//! | tag 1 + int or float (timestamp)       | epoch-seconds number, integral ones as integer |
//! | true / false / null                    | same                                           |
//! | any other tag, or a non-text map key   | error: not something CloudWatch sends          |
//!
//! Responses go JSON → CBOR. JSON cannot tell a timestamp from a double or an integer, nor a
//! blob from a string, so a [`Schema`] says, by member name, what a JSON value must become:
//!
//! | member kind        | JSON from moto                         | CBOR to the SDK                  |
//! |--------------------|----------------------------------------|----------------------------------|
//! | [`Kind::Timestamp`]| epoch-seconds number                   | tag 1 + the same int or float    |
//! |                    | RFC 3339 string                        | tag 1 + float seconds            |
//! | [`Kind::Double`]   | number (even integral, `5`)            | float (the SDK rejects ints)     |
//! |                    | `"NaN"` / `"Infinity"` / `"-Infinity"` | float                            |
//! | [`Kind::Integer`]  | number (even `60.0`)                   | integer when integral            |
//! | [`Kind::Blob`]     | base64 string                          | byte string                      |
//! | [`Kind::DoubleMap`]| object of numbers                      | map of floats                    |
//! | otherwise          | integer / other number / string / bool | integer / float / text / bool    |
//!
//! A kind applies to the member's value, to each element when the value is a list, and (for
//! [`Kind::DoubleMap`]) to each value of the map. Object members that are `null` are dropped
//! (awsJson omits absent members; CloudWatch has no sparse collections). Error bodies are
//! translated the same way, so `__type` and `message` come through as text.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ciborium::Value as Cbor;
use serde_json::{Map, Number, Value as Json};

/// CBOR tag of an epoch-seconds timestamp (RFC 8949 §3.4.2).
pub const TAG_EPOCH_SECONDS: u64 = 1;

/// What a JSON member value must become in CBOR; see the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `timestamp`: CBOR tag 1.
    Timestamp,
    /// `double` or `float`: a CBOR float.
    Double,
    /// `integer` or `long`: a CBOR integer.
    Integer,
    /// `blob`: a CBOR byte string.
    Blob,
    /// `map<string, double>`: a map whose values are CBOR floats.
    DoubleMap,
    /// Anything else: translated by JSON type.
    Other,
}

/// Member-name typing of one service's output and error shapes.
#[derive(Debug)]
pub struct Schema {
    name: &'static str,
    members: &'static [(&'static str, Kind)],
}

impl Schema {
    /// No typing: JSON integers become CBOR integers, other numbers floats, strings text.
    pub const GENERIC: Schema = Schema {
        name: "generic",
        members: &[],
    };

    /// CloudWatch (`GraniteServiceVersion20100801`).
    ///
    /// Every member of a non-string scalar type in the output and error shapes of the
    /// CloudWatch model that moto serves (botocore 1.44, `cloudwatch/2010-08-01`), listed by
    /// name. No name has two such types there (a `Value` is a string in a `Dimension` and a
    /// double in a `MetricDatum`, but only dimensions are returned, and a string stays a
    /// string). The test `cloudwatch_schema_matches_moto_model` checks this list against the
    /// model in the venv.
    pub const CLOUDWATCH: Schema = Schema {
        name: "GraniteServiceVersion20100801",
        members: &[
            ("ActionLogLineCount", Kind::Integer),
            ("ActionsSuppressorExtensionPeriod", Kind::Integer),
            ("ActionsSuppressorWaitPeriod", Kind::Integer),
            ("AggregateValue", Kind::Double),
            ("AlarmConfigurationUpdatedTimestamp", Kind::Timestamp),
            ("ApproximateAggregateValue", Kind::Double),
            ("ApproximateUniqueCount", Kind::Integer),
            ("ApproximateValue", Kind::Double),
            ("Average", Kind::Double),
            ("CreatedAt", Kind::Timestamp),
            ("CreationDate", Kind::Timestamp),
            ("DatapointsToAlarm", Kind::Integer),
            ("EndTime", Kind::Timestamp),
            ("EndTimeOffset", Kind::Integer),
            ("EvaluationInterval", Kind::Integer),
            ("EvaluationPeriods", Kind::Integer),
            ("ExpireDate", Kind::Timestamp),
            ("ExtendedStatistics", Kind::DoubleMap),
            ("LastModified", Kind::Timestamp),
            ("LastUpdateDate", Kind::Timestamp),
            ("LastUpdatedTimestamp", Kind::Timestamp),
            ("MaxContributorValue", Kind::Double),
            ("Maximum", Kind::Double),
            ("MetricWidgetImage", Kind::Blob),
            ("Minimum", Kind::Double),
            ("PendingPeriod", Kind::Integer),
            ("Period", Kind::Integer),
            ("QueryResultsToAlarm", Kind::Integer),
            ("QueryResultsToEvaluate", Kind::Integer),
            ("RecoveryPeriod", Kind::Integer),
            ("SampleCount", Kind::Double),
            ("Size", Kind::Integer),
            ("StartDate", Kind::Timestamp),
            ("StartTime", Kind::Timestamp),
            ("StartTimeOffset", Kind::Integer),
            ("StateTransitionedTimestamp", Kind::Timestamp),
            ("StateUpdatedTimestamp", Kind::Timestamp),
            ("Sum", Kind::Double),
            ("Threshold", Kind::Double),
            ("Timestamp", Kind::Timestamp),
            ("Timestamps", Kind::Timestamp),
            ("UniqueContributors", Kind::Double),
            ("UpdatedAt", Kind::Timestamp),
            ("Values", Kind::Double),
            ("WarmUpPeriodDurationInMinutes", Kind::Integer),
        ],
    };

    /// The schema for an rpcv2Cbor service name (the `{service}` of
    /// `/service/{service}/operation/{operation}`); [`Schema::GENERIC`] for unknown ones.
    pub fn for_service(service: &str) -> &'static Schema {
        if service == Self::CLOUDWATCH.name {
            &Self::CLOUDWATCH
        } else {
            &Self::GENERIC
        }
    }

    /// The member names and kinds, sorted by name.
    pub fn members(&self) -> &'static [(&'static str, Kind)] {
        self.members
    }

    /// The kind of the member called `name`.
    pub fn kind(&self, name: &str) -> Kind {
        self.members
            .binary_search_by(|(member, _)| (*member).cmp(name))
            .map_or(Kind::Other, |i| self.members[i].1)
    }
}

/// A CBOR document that has no AWS JSON equivalent, or is not CBOR at all.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// The body is not one well-formed CBOR data item.
    #[error("malformed CBOR: {0}")]
    Malformed(String),
    /// A well-formed item outside what Smithy RPC v2 CBOR uses for this service.
    #[error("unsupported CBOR: {0}")]
    Unsupported(String),
}

/// Decodes an rpcv2Cbor request body into the AWS JSON 1.0 document for the same input.
///
/// An empty body is an empty input structure (`{}`).
pub fn request_body_to_json(body: &[u8]) -> Result<Json, TranslateError> {
    if body.is_empty() {
        return Ok(Json::Object(Map::new()));
    }
    let mut reader = body;
    let value: Cbor =
        ciborium::from_reader(&mut reader).map_err(|e| TranslateError::Malformed(e.to_string()))?;
    if !reader.is_empty() {
        return Err(TranslateError::Malformed(format!(
            "{} bytes after the first data item",
            reader.len()
        )));
    }
    cbor_to_json(&value)
}

/// Encodes an AWS JSON 1.0 response (or error) document as an rpcv2Cbor body.
pub fn json_to_response_body(json: &Json, schema: &Schema) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(&json_to_cbor(json, schema), &mut out).expect("writing CBOR to a Vec cannot fail");
    out
}

/// CBOR → JSON, for requests; see the [module docs](self).
pub fn cbor_to_json(value: &Cbor) -> Result<Json, TranslateError> {
    Ok(match value {
        Cbor::Null => Json::Null,
        Cbor::Bool(b) => Json::Bool(*b),
        Cbor::Text(s) => Json::String(s.clone()),
        Cbor::Bytes(b) => Json::String(BASE64.encode(b)),
        Cbor::Integer(i) => integer_to_json(i128::from(*i))?,
        Cbor::Float(f) => float_to_json(*f),
        Cbor::Tag(TAG_EPOCH_SECONDS, inner) => match inner.as_ref() {
            Cbor::Integer(i) => integer_to_json(i128::from(*i))?,
            Cbor::Float(f) if f.is_finite() => epoch_seconds_to_json(*f),
            other => {
                return Err(TranslateError::Unsupported(format!(
                    "timestamp (tag 1) of {other:?}, not a finite number"
                )));
            }
        },
        Cbor::Tag(tag, _) => return Err(TranslateError::Unsupported(format!("CBOR tag {tag}"))),
        Cbor::Array(items) => Json::Array(items.iter().map(cbor_to_json).collect::<Result<_, _>>()?),
        Cbor::Map(entries) => {
            let mut object = Map::with_capacity(entries.len());
            for (key, value) in entries {
                let Cbor::Text(key) = key else {
                    return Err(TranslateError::Unsupported(format!("map key {key:?}, not text")));
                };
                object.insert(key.clone(), cbor_to_json(value)?);
            }
            Json::Object(object)
        }
        other => return Err(TranslateError::Unsupported(format!("{other:?}"))),
    })
}

/// JSON → CBOR, for responses and errors; see the [module docs](self).
pub fn json_to_cbor(value: &Json, schema: &Schema) -> Cbor {
    to_cbor(value, Kind::Other, schema)
}

fn to_cbor(value: &Json, kind: Kind, schema: &Schema) -> Cbor {
    match value {
        Json::Null => Cbor::Null,
        Json::Bool(b) => Cbor::Bool(*b),
        Json::Number(n) => number_to_cbor(n, kind),
        Json::String(s) => string_to_cbor(s, kind),
        Json::Array(items) => Cbor::Array(items.iter().map(|item| to_cbor(item, kind, schema)).collect()),
        Json::Object(members) => Cbor::Map(
            members
                .iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(name, value)| {
                    let member_kind = match kind {
                        Kind::DoubleMap => Kind::Double,
                        _ => schema.kind(name),
                    };
                    (Cbor::Text(name.clone()), to_cbor(value, member_kind, schema))
                })
                .collect(),
        ),
    }
}

fn number_to_cbor(n: &Number, kind: Kind) -> Cbor {
    let float = n.as_f64().unwrap_or(f64::NAN);
    match kind {
        Kind::Timestamp => Cbor::Tag(TAG_EPOCH_SECONDS, Box::new(number_to_cbor(n, Kind::Other))),
        Kind::Double | Kind::DoubleMap => Cbor::Float(float),
        Kind::Integer if n.as_i64().is_none() && n.as_u64().is_none() && is_integral(float) => {
            // Integral and in i64 range, checked by is_integral.
            Cbor::Integer((float as i64).into())
        }
        Kind::Integer | Kind::Blob | Kind::Other => {
            if let Some(i) = n.as_u64() {
                Cbor::Integer(i.into())
            } else if let Some(i) = n.as_i64() {
                Cbor::Integer(i.into())
            } else {
                Cbor::Float(float)
            }
        }
    }
}

fn string_to_cbor(s: &str, kind: Kind) -> Cbor {
    match kind {
        Kind::Blob => match BASE64.decode(s) {
            Ok(bytes) => Cbor::Bytes(bytes),
            Err(_) => Cbor::Text(s.to_owned()),
        },
        Kind::Double | Kind::DoubleMap => match s {
            "NaN" => Cbor::Float(f64::NAN),
            "Infinity" => Cbor::Float(f64::INFINITY),
            "-Infinity" => Cbor::Float(f64::NEG_INFINITY),
            _ => Cbor::Text(s.to_owned()),
        },
        Kind::Timestamp => match s.parse::<jiff::Timestamp>() {
            Ok(t) => Cbor::Tag(
                TAG_EPOCH_SECONDS,
                Box::new(Cbor::Float(t.as_millisecond() as f64 / 1000.0)),
            ),
            Err(_) => Cbor::Text(s.to_owned()),
        },
        Kind::Integer | Kind::Other => Cbor::Text(s.to_owned()),
    }
}

fn integer_to_json(i: i128) -> Result<Json, TranslateError> {
    if let Ok(i) = i64::try_from(i) {
        Ok(Json::from(i))
    } else if let Ok(u) = u64::try_from(i) {
        Ok(Json::from(u))
    } else {
        Err(TranslateError::Unsupported(format!("integer {i} beyond 64 bits")))
    }
}

fn float_to_json(f: f64) -> Json {
    match Number::from_f64(f) {
        Some(n) => Json::Number(n),
        None if f.is_nan() => Json::String("NaN".to_owned()),
        None if f > 0.0 => Json::String("Infinity".to_owned()),
        None => Json::String("-Infinity".to_owned()),
    }
}

/// An epoch-seconds number: whole seconds as an integer, else the float.
fn epoch_seconds_to_json(secs: f64) -> Json {
    if is_integral(secs) {
        Json::from(secs as i64)
    } else {
        float_to_json(secs)
    }
}

/// Whole, and within ±2^53 (exact in an f64, and in i64 range).
fn is_integral(f: f64) -> bool {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    f.fract() == 0.0 && f.abs() <= EXACT
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cbor(bytes: &[u8]) -> Json {
        request_body_to_json(bytes).unwrap()
    }

    fn text(s: &str) -> Cbor {
        Cbor::Text(s.to_owned())
    }

    fn map(entries: Vec<(&str, Cbor)>) -> Cbor {
        Cbor::Map(entries.into_iter().map(|(k, v)| (text(k), v)).collect())
    }

    fn epoch(v: Cbor) -> Cbor {
        Cbor::Tag(TAG_EPOCH_SECONDS, Box::new(v))
    }

    /// Map entries in key order, recursively: serde_json's objects are ordered by key, the
    /// expectations here by reading order.
    fn sorted(v: Cbor) -> Cbor {
        match v {
            Cbor::Map(entries) => {
                let mut entries: Vec<(Cbor, Cbor)> =
                    entries.into_iter().map(|(k, v)| (k, sorted(v))).collect();
                entries.sort_by(|(a, _), (b, _)| format!("{a:?}").cmp(&format!("{b:?}")));
                Cbor::Map(entries)
            }
            Cbor::Array(items) => Cbor::Array(items.into_iter().map(sorted).collect()),
            Cbor::Tag(tag, inner) => Cbor::Tag(tag, Box::new(sorted(*inner))),
            other => other,
        }
    }

    #[test]
    fn schema_members_are_sorted_for_binary_search() {
        let names: Vec<&str> = Schema::CLOUDWATCH.members().iter().map(|(n, _)| *n).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        assert_eq!(Schema::CLOUDWATCH.kind("Timestamps"), Kind::Timestamp);
        assert_eq!(Schema::CLOUDWATCH.kind("Namespace"), Kind::Other);
        assert_eq!(
            Schema::for_service("GraniteServiceVersion20100801").kind("Sum"),
            Kind::Double
        );
        assert_eq!(Schema::for_service("SomethingElse").kind("Sum"), Kind::Other);
    }

    #[test]
    fn empty_request_body_is_an_empty_structure() {
        assert_eq!(cbor(b""), json!({}));
    }

    #[test]
    fn indefinite_lengths_as_the_sdk_encodes_structures() {
        // {_ "Namespace": "ns", "MetricData": [_ {_ "Value": 1.5(f64), "Timestamp": 1(1700000000.25)}]}
        let mut body = vec![0xbf];
        body.extend([0x69]);
        body.extend(b"Namespace");
        body.extend([0x62]);
        body.extend(b"ns");
        body.extend([0x6a]);
        body.extend(b"MetricData");
        body.extend([0x9f, 0xbf, 0x65]);
        body.extend(b"Value");
        body.push(0xfb);
        body.extend(1.5f64.to_be_bytes());
        body.extend([0x69]);
        body.extend(b"Timestamp");
        body.extend([0xc1, 0xfb]);
        body.extend(1_700_000_000.25f64.to_be_bytes());
        body.extend([0xff, 0xff, 0xff]);
        assert_eq!(
            cbor(&body),
            json!({"Namespace": "ns", "MetricData": [{"Value": 1.5, "Timestamp": 1_700_000_000.25}]})
        );
    }

    #[test]
    fn request_scalars() {
        let value = map(vec![
            ("whole", Cbor::Float(2.0)),
            ("int", Cbor::Integer(7.into())),
            ("neg", Cbor::Integer((-3).into())),
            ("nan", Cbor::Float(f64::NAN)),
            ("inf", Cbor::Float(f64::INFINITY)),
            ("ninf", Cbor::Float(f64::NEG_INFINITY)),
            ("ts_whole", epoch(Cbor::Float(1_700_000_000.0))),
            ("ts_int", epoch(Cbor::Integer(1_700_000_000.into()))),
            ("blob", Cbor::Bytes(b"hi!".to_vec())),
            ("flag", Cbor::Bool(true)),
            ("nothing", Cbor::Null),
        ]);
        let json = cbor_to_json(&value).unwrap();
        assert_eq!(
            json,
            json!({
                "whole": 2.0, "int": 7, "neg": -3, "nan": "NaN", "inf": "Infinity", "ninf": "-Infinity",
                "ts_whole": 1_700_000_000, "ts_int": 1_700_000_000, "blob": "aGkh", "flag": true,
                "nothing": null,
            })
        );
        // Python must read a double as a float: 2.0 keeps its point.
        assert_eq!(serde_json::to_string(&json["whole"]).unwrap(), "2.0");
    }

    #[test]
    fn request_rejects_what_has_no_json_form() {
        let big_tag = Cbor::Tag(2, Box::new(Cbor::Bytes(vec![1, 0, 0, 0, 0, 0, 0, 0, 0])));
        assert!(matches!(
            cbor_to_json(&big_tag),
            Err(TranslateError::Unsupported(_))
        ));
        let int_key = Cbor::Map(vec![(Cbor::Integer(1.into()), Cbor::Null)]);
        assert!(matches!(
            cbor_to_json(&int_key),
            Err(TranslateError::Unsupported(_))
        ));
        assert!(matches!(
            request_body_to_json(&[0xbf]),
            Err(TranslateError::Malformed(_))
        ));
        assert!(matches!(
            request_body_to_json(&[0xa0, 0xa0]),
            Err(TranslateError::Malformed(_))
        ));
    }

    #[test]
    fn get_metric_data_response() {
        let json = json!({"MetricDataResults": [{
            "Id": "q1", "Label": "m Sum", "Timestamps": [1_796_112_372, 1_796_112_312.5],
            "Values": [2, 6.5], "StatusCode": "Complete"
        }], "NextToken": null});
        let expected = map(vec![(
            "MetricDataResults",
            Cbor::Array(vec![map(vec![
                ("Id", text("q1")),
                ("Label", text("m Sum")),
                (
                    "Timestamps",
                    Cbor::Array(vec![
                        epoch(Cbor::Integer(1_796_112_372.into())),
                        epoch(Cbor::Float(1_796_112_312.5)),
                    ]),
                ),
                ("Values", Cbor::Array(vec![Cbor::Float(2.0), Cbor::Float(6.5)])),
                ("StatusCode", text("Complete")),
            ])]),
        )]);
        assert_eq!(sorted(json_to_cbor(&json, &Schema::CLOUDWATCH)), sorted(expected));
    }

    #[test]
    fn alarm_and_datapoint_members() {
        let json = json!({
            "Threshold": 5, "Period": 60.0, "EvaluationPeriods": 1,
            "StateUpdatedTimestamp": "2026-12-01T08:06:12.250Z",
            "Datapoints": [{"SampleCount": 3, "Sum": "NaN", "ExtendedStatistics": {"p99": 4}}],
            "MetricWidgetImage": "aGkh",
            "Value": "a dimension value",
        });
        let expected = map(vec![
            ("Threshold", Cbor::Float(5.0)),
            ("Period", Cbor::Integer(60.into())),
            ("EvaluationPeriods", Cbor::Integer(1.into())),
            ("StateUpdatedTimestamp", epoch(Cbor::Float(1_796_112_372.25))),
            (
                "Datapoints",
                Cbor::Array(vec![map(vec![
                    ("SampleCount", Cbor::Float(3.0)),
                    ("Sum", Cbor::Float(f64::NAN)),
                    ("ExtendedStatistics", map(vec![("p99", Cbor::Float(4.0))])),
                ])]),
            ),
            ("MetricWidgetImage", Cbor::Bytes(b"hi!".to_vec())),
            ("Value", text("a dimension value")),
        ]);
        let actual = json_to_cbor(&json, &Schema::CLOUDWATCH);
        // NaN != NaN: compare the encodings instead.
        let encode = |v: &Cbor| {
            let mut out = Vec::new();
            ciborium::into_writer(v, &mut out).unwrap();
            out
        };
        assert_eq!(
            encode(&sorted(actual.clone())),
            encode(&sorted(expected)),
            "{actual:?}"
        );
    }

    #[test]
    fn generic_schema_keeps_json_number_types() {
        let json = json!({"Sum": 5, "Average": 2.5, "Timestamp": 1_700_000_000});
        let expected = map(vec![
            ("Sum", Cbor::Integer(5.into())),
            ("Average", Cbor::Float(2.5)),
            ("Timestamp", Cbor::Integer(1_700_000_000.into())),
        ]);
        assert_eq!(sorted(json_to_cbor(&json, &Schema::GENERIC)), sorted(expected));
    }

    #[test]
    fn error_body_keeps_type_and_message() {
        let json = json!({
            "__type": "GraniteServiceVersion20100801#InvalidParameterValueException",
            "message": "bad", "Message": "bad"
        });
        let body = json_to_response_body(&json, &Schema::CLOUDWATCH);
        let decoded: Cbor = ciborium::from_reader(&body[..]).unwrap();
        assert_eq!(
            sorted(decoded),
            sorted(map(vec![
                (
                    "__type",
                    text("GraniteServiceVersion20100801#InvalidParameterValueException")
                ),
                ("message", text("bad")),
                ("Message", text("bad")),
            ]))
        );
    }
}
