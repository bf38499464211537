//! The gateway's translation rules through the real `aws-sdk-cloudwatch`, against a fake
//! upstream that records what it is sent and answers canned AWS JSON 1.0 documents: the shapes
//! moto never produces (integral doubles, RFC 3339 timestamps, blobs, non-JSON bodies) included.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::error::ProvideErrorMetadata as _;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit, Statistic, StatisticSet};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value as Json, json};
use trailwatch_aws_test_support::{CborGateway, sdk_config};

/// One request as the fake upstream saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    target: Option<String>,
    content_type: Option<String>,
    has_smithy_protocol: bool,
    has_authorization: bool,
    body: Json,
}

/// 2026-12-01T08:00:00.250Z
const ISO_TIME: &str = "2026-12-01T08:00:00.250Z";
const ISO_TIME_MILLIS: i64 = 1_796_112_000_250;
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n not really";

fn canned(target: &str) -> (u16, Vec<(&'static str, &'static str)>, Vec<u8>) {
    use base64::Engine as _;
    let json = |v: Json| serde_json::to_vec(&v).unwrap();
    match target {
        "GraniteServiceVersion20100801.PutMetricData" => (200, vec![], json(json!({}))),
        "GraniteServiceVersion20100801.GetMetricWidgetImage" => (
            200,
            vec![],
            json(json!({"MetricWidgetImage": base64::engine::general_purpose::STANDARD.encode(PNG)})),
        ),
        "GraniteServiceVersion20100801.GetMetricStatistics" => (
            200,
            vec![],
            json(json!({"Label": "m", "Datapoints": [{
                "Timestamp": ISO_TIME, "SampleCount": 3, "Sum": 7, "Unit": "Count",
                "ExtendedStatistics": {"p99": 2}
            }], "NextToken": null})),
        ),
        "GraniteServiceVersion20100801.DescribeAlarms" => (
            200,
            vec![],
            json(json!({"MetricAlarms": [{
                "AlarmName": "a", "Threshold": 5, "Period": 60.0, "EvaluationPeriods": 1,
                "StateUpdatedTimestamp": 1_796_113_658.05
            }], "CompositeAlarms": []})),
        ),
        "GraniteServiceVersion20100801.ListDashboards" => (
            500,
            vec![("content-type", "text/html")],
            b"<title>500 Internal Server Error</title>".to_vec(),
        ),
        _ => (
            400,
            vec![("x-amzn-query-error", "InvalidAction;Sender")],
            json(json!({"__type": "com.amazonaws.cloudwatch#InvalidAction", "message": "no canned answer"})),
        ),
    }
}

async fn fake_upstream(seen: Arc<Mutex<Vec<Seen>>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let seen = Arc::clone(&seen);
                    async move {
                        let header = |name: &str| {
                            request
                                .headers()
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned)
                        };
                        let target = header("x-amz-target");
                        let mut record = Seen {
                            method: request.method().to_string(),
                            path: request.uri().path().to_owned(),
                            content_type: header("content-type"),
                            has_smithy_protocol: request.headers().contains_key("smithy-protocol"),
                            has_authorization: request.headers().contains_key("authorization"),
                            target: target.clone(),
                            body: Json::Null,
                        };
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        record.body = serde_json::from_slice(&body).unwrap_or(Json::Null);
                        seen.lock().unwrap().push(record);
                        let (status, headers, body) = canned(target.as_deref().unwrap_or_default());
                        let mut response = Response::builder().status(status);
                        for (name, value) in headers {
                            response = response.header(name, value);
                        }
                        Ok::<_, Infallible>(response.body(Full::new(Bytes::from(body))).unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    endpoint
}

async fn setup() -> (CborGateway, Client, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let upstream = fake_upstream(Arc::clone(&seen)).await;
    let gateway = CborGateway::start(&upstream);
    let client = Client::new(&sdk_config(gateway.endpoint()).await);
    (gateway, client, seen)
}

fn last(seen: &Mutex<Vec<Seen>>) -> Seen {
    seen.lock()
        .unwrap()
        .last()
        .cloned()
        .expect("the upstream saw a request")
}

#[tokio::test]
async fn request_becomes_aws_json_1_0() {
    let (gateway, cw, seen) = setup().await;
    let at = DateTime::from_millis(1_796_112_000_250);
    let whole = DateTime::from_secs(1_796_112_000);
    cw.put_metric_data()
        .namespace("Trailwatch/Rules")
        .metric_data(
            MetricDatum::builder()
                .metric_name("Events")
                .dimensions(Dimension::builder().name("Function").value("ingest").build())
                .value(2.0)
                .unit(StandardUnit::Count)
                .timestamp(at)
                .build(),
        )
        .metric_data(
            MetricDatum::builder()
                .metric_name("Batches")
                .statistic_values(
                    StatisticSet::builder()
                        .sample_count(4.0)
                        .sum(10.5)
                        .minimum(1.0)
                        .maximum(4.0)
                        .build(),
                )
                .timestamp(whole)
                .storage_resolution(60)
                .build(),
        )
        .send()
        .await
        .expect("PutMetricData");
    assert_eq!(gateway.translated_requests(), 1);

    let request = last(&seen);
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/");
    assert_eq!(
        request.target.as_deref(),
        Some("GraniteServiceVersion20100801.PutMetricData")
    );
    assert_eq!(
        request.content_type.as_deref(),
        Some("application/x-amz-json-1.0")
    );
    assert!(!request.has_smithy_protocol);
    assert!(
        request.has_authorization,
        "the SDK's signature headers pass through"
    );
    assert_eq!(
        request.body,
        json!({
            "Namespace": "Trailwatch/Rules",
            "MetricData": [
                {
                    "MetricName": "Events",
                    "Dimensions": [{"Name": "Function", "Value": "ingest"}],
                    "Value": 2.0,
                    "Unit": "Count",
                    "Timestamp": 1_796_112_000.25,
                },
                {
                    "MetricName": "Batches",
                    "StatisticValues": {"SampleCount": 4.0, "Sum": 10.5, "Minimum": 1.0, "Maximum": 4.0},
                    "Timestamp": 1_796_112_000,
                    "StorageResolution": 60,
                },
            ],
        })
    );
    // Doubles stay floats for Python (2.0, not 2); whole-second timestamps are integers.
    let datum = &request.body["MetricData"][0];
    assert!(datum["Value"].is_f64(), "{datum}");
    assert!(request.body["MetricData"][1]["Timestamp"].is_i64());
    assert!(request.body["MetricData"][1]["StorageResolution"].is_i64());
}

#[tokio::test]
async fn integral_doubles_iso_timestamps_and_double_maps() {
    let (_gateway, cw, _seen) = setup().await;
    let stats = cw
        .get_metric_statistics()
        .namespace("n")
        .metric_name("m")
        .start_time(DateTime::from_secs(0))
        .end_time(DateTime::from_secs(60))
        .period(60)
        .statistics(Statistic::Sum)
        .send()
        .await
        .expect("GetMetricStatistics");
    let [point] = stats.datapoints() else {
        panic!("{:?}", stats.datapoints());
    };
    assert_eq!(point.sample_count(), Some(3.0));
    assert_eq!(point.sum(), Some(7.0));
    assert_eq!(
        point.timestamp().map(|t| t.to_millis().unwrap()),
        Some(ISO_TIME_MILLIS)
    );
    assert_eq!(point.extended_statistics().and_then(|m| m.get("p99")), Some(&2.0));
    assert_eq!(point.unit(), Some(&StandardUnit::Count));
}

#[tokio::test]
async fn integers_from_floats_and_fractional_epoch_timestamps() {
    let (_gateway, cw, _seen) = setup().await;
    let alarms = cw.describe_alarms().send().await.expect("DescribeAlarms");
    let [alarm] = alarms.metric_alarms() else {
        panic!("{:?}", alarms.metric_alarms());
    };
    assert_eq!(alarm.threshold(), Some(5.0));
    assert_eq!(alarm.period(), Some(60));
    assert_eq!(alarm.evaluation_periods(), Some(1));
    // 1796113658.05 has no exact f64; the SDK truncates the float to whole milliseconds, so it
    // may read .049 (as it would from CloudWatch itself).
    let millis = alarm.state_updated_timestamp().map(|t| t.to_millis().unwrap());
    assert!(
        matches!(millis, Some(1_796_113_658_049 | 1_796_113_658_050)),
        "{millis:?}"
    );
}

#[tokio::test]
async fn blobs_from_base64() {
    let (_gateway, cw, seen) = setup().await;
    let image = cw
        .get_metric_widget_image()
        .metric_widget("{}")
        .send()
        .await
        .expect("GetMetricWidgetImage");
    assert_eq!(image.metric_widget_image().map(|b| b.as_ref()), Some(PNG));
    assert_eq!(last(&seen).body, json!({"MetricWidget": "{}"}));
}

#[tokio::test]
async fn a_body_that_is_not_json_becomes_a_cbor_error() {
    let (_gateway, cw, _seen) = setup().await;
    let err = cw
        .list_dashboards()
        .send()
        .await
        .expect_err("the upstream answers 500 HTML");
    let raw = err.raw_response().expect("a service error");
    assert_eq!(raw.status().as_u16(), 500);
    let service_err = err.as_service_error().expect("a service error");
    assert_eq!(service_err.code(), Some("TrailwatchCborGatewayError"));
    assert!(
        service_err
            .message()
            .is_some_and(|m| m.contains("500 Internal Server Error")),
        "{service_err:?}"
    );
}

#[tokio::test]
async fn query_error_header_gives_the_code() {
    let (_gateway, cw, _seen) = setup().await;
    let err = cw.list_metrics().send().await.expect_err("no canned answer");
    let service_err = err.as_service_error().expect("a service error");
    // From x-amzn-query-error, not from __type's shape name.
    assert_eq!(service_err.code(), Some("InvalidAction"));
    assert_eq!(service_err.message(), Some("no canned answer"));
}

#[tokio::test]
async fn drop_stops_the_gateway() {
    let (gateway, _cw, _seen) = setup().await;
    let addr = gateway.endpoint().trim_start_matches("http://").to_owned();
    drop(gateway);
    let refused = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(&addr))
        .await
        .expect("connect answers at once on loopback");
    assert!(
        refused.is_err(),
        "the gateway still accepts connections after drop"
    );
}
