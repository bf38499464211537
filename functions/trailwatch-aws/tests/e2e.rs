//! The functions end to end against moto server (real HTTP, real AWS SDK): CloudTrail
//! objects in S3 → the ingest handler → alerts in an SQS queue subscribed to the SNS
//! topic, metrics in CloudWatch (through the CBOR gateway), state in DynamoDB.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Value, json};
use trailwatch_aws::Services;
use trailwatch_aws::services::Settings;
use trailwatch_aws_test_support::{sdk_config, unique_name};

use common::{env, expected, failures, put, record_count, repo, sample, sqs_event};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_batch_end_to_end() {
    let env = env().await;
    let svc = env.services(&env.topic_arn).await;
    let (irsa, node, keys) = (sample("0905Z"), sample("0915Z"), sample("0920Z"));
    let irsa_key = env.upload(&irsa).await;
    let node_key = env.upload(&node).await;
    let keys_key = env.upload(&keys).await;
    let spaced = "AWSLogs/111122223333/CloudTrail/ap-southeast-1/2026/11/30/with space.json.gz";
    put(&env.clients, &env.bucket, spaced, std::fs::read(&irsa).unwrap()).await;
    let corrupt = "AWSLogs/111122223333/CloudTrail/ap-southeast-1/2026/11/30/corrupt.json.gz";
    put(&env.clients, &env.bucket, corrupt, b"this is not gzip".to_vec()).await;
    let sns = |inner: &str| json!({"Type": "Notification", "MessageId": "x", "Message": inner}).to_string();
    let cloudtrail = json!({"s3Bucket": env.bucket, "s3ObjectKey": [keys_key,
        "AWSLogs/111122223333/CloudTrail-Digest/ap-southeast-1/2026/11/30/digest.json.gz"]})
    .to_string();
    let event = sqs_event(&[
        ("raw", env.s3_event(&irsa_key)),
        ("sns-wrapped", sns(&env.s3_event(&node_key))),
        ("cloudtrail-sns", sns(&cloudtrail)),
        ("spaced", env.s3_event(spaced)),
        (
            "missing",
            env.s3_event("AWSLogs/111122223333/CloudTrail/ap-southeast-1/2026/11/30/missing.json.gz"),
        ),
        ("corrupt", env.s3_event(corrupt)),
        (
            "test-event",
            json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": env.bucket}).to_string(),
        ),
    ]);

    let response = trailwatch_aws::ingest::handle(Arc::clone(&svc), event.clone())
        .await
        .unwrap();
    assert_eq!(
        failures(&response),
        BTreeSet::from(["missing".to_string(), "corrupt".to_string()]),
        "{response}"
    );

    // Alerts: what the samples expect, once each (the spaced copy repeats the IRSA sample's
    // events, which are claimed already).
    let want: BTreeSet<String> = [&irsa, &node, &keys].iter().flat_map(|p| expected(p)).collect();
    let (got, envelopes) = env.delivered().await;
    assert_eq!(got, want);
    for e in &envelopes {
        let alert: Value = serde_json::from_str(e["Message"].as_str().unwrap()).unwrap();
        assert_eq!(
            e["MessageAttributes"]["severity"]["Value"], alert["severity"],
            "{e}"
        );
        assert_eq!(
            e["MessageAttributes"]["detection"]["Value"], alert["detection"],
            "{e}"
        );
        let subject = e["Subject"].as_str().unwrap();
        assert!(
            subject.len() < 100 && subject.is_ascii() && !subject.contains('\n'),
            "{subject:?}"
        );
    }

    // Metrics, read back through CloudWatch's own API.
    let records: f64 = [&irsa, &node, &keys, &irsa]
        .iter()
        .map(|p| record_count(p) as f64)
        .sum();
    assert_eq!(env.metric_sum("Records").await, records);
    // Two copies of the IRSA sample, five failures each, counted once: the copy's events
    // were claimed already. 5 in the series without dimensions and 5 across the Cluster ×
    // ErrorCode series. moto's GetMetricData sums every series of a name (and ORs
    // dimension filters), so the total is checked, and the series are checked by
    // ListMetrics below.
    assert_eq!(env.metric_sum("IrsaAssumeFailures").await, 10.0);
    assert_eq!(env.metric_sum("FailedObjects").await, 2.0);
    assert_eq!(env.metric_sum("SkippedFiles").await, 1.0, "the digest key");
    let listed = env
        .clients
        .cloudwatch
        .list_metrics()
        .namespace(&env.namespace)
        .send()
        .await
        .unwrap();
    let names: BTreeSet<&str> = listed.metrics().iter().filter_map(|m| m.metric_name()).collect();
    for name in ["Findings", "Alerts", "LagSeconds", "Bytes", "AlertsPublished"] {
        assert!(names.contains(name), "{name} not in {names:?}");
    }
    let mut series: Vec<String> = listed
        .metrics()
        .iter()
        .filter(|m| m.metric_name() == Some("IrsaAssumeFailures"))
        .map(|m| {
            m.dimensions()
                .iter()
                .map(|d| format!("{}={}", d.name().unwrap_or(""), d.value().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    series.sort();
    assert_eq!(
        series,
        [
            "",
            "Cluster=prod,ErrorCode=AccessDenied",
            "Cluster=prod,ErrorCode=ExpiredTokenException",
            "Cluster=prod,ErrorCode=IDPCommunicationError",
            "Cluster=unconfigured,ErrorCode=InvalidIdentityToken",
        ]
    );

    // State: alert claims and remembered events are in the table.
    let items = env
        .clients
        .dynamodb
        .scan()
        .table_name(&env.table)
        .send()
        .await
        .unwrap();
    let keys: Vec<String> = items
        .items()
        .iter()
        .filter_map(|i| i.get("pk")?.as_s().ok().cloned())
        .collect();
    assert!(
        keys.iter().any(|k| k.starts_with("alert/")) && keys.iter().any(|k| k.starts_with("event/")),
        "{keys:?}"
    );

    // SQS delivers the batch again: same failures, no alert twice.
    let again = trailwatch_aws::ingest::handle(svc, event).await.unwrap();
    assert_eq!(failures(&again), failures(&response));
    assert!(
        env.delivered().await.0.is_empty(),
        "a redelivered batch must not alert again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_store_meets_the_contract() {
    let env = env().await;
    let svc = env.services(&env.topic_arn).await;
    let store = Arc::clone(&svc.store);
    tokio::task::spawn_blocking(move || trailwatch::state::contract::check(store.as_ref(), "contract/"))
        .await
        .unwrap();
}

/// Every item carries the TTL DynamoDB deletes it by: the wall clock, not event time,
/// so it lies `TTL_GRACE` past the later of the item's `exp` and the moment it was
/// written: the contract's items (events a few weeks ahead), one put a year ahead, and
/// one item of each kind of write from events of 2001 (archived logs replayed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_outlive_their_expiry_and_their_write_by_the_grace() {
    use trailwatch::state::{DistinctCount, StateStore as _};
    use trailwatch_aws::dynamo::{TTL, TTL_GRACE};

    let wall = || {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        i64::try_from(since.unwrap().as_secs()).unwrap()
    };
    let env = env().await;
    let svc = env.services(&env.topic_arn).await;
    let store = Arc::clone(&svc.store);
    let (before, ahead) = (wall(), wall() + 365 * 24 * 3600);
    tokio::task::spawn_blocking(move || {
        trailwatch::state::contract::check(store.as_ref(), "ttl/");
        store.put("ttl/ahead", b"v", ahead).unwrap();
        let old = 1_000_000_000;
        store.put("ttl/old/put", b"v", old + 600).unwrap();
        assert!(
            store
                .put_if_absent("ttl/old/claim", b"v", old, old + 600)
                .unwrap()
        );
        assert_eq!(store.increment("ttl/old/count", 1, old, old + 600).unwrap(), 1);
        let ask = DistinctCount {
            key: "ttl/old/distinct".into(),
            ids: vec!["a", "b"],
            cap: 10,
            now: old,
            expires: old + 600,
        };
        assert_eq!(store.count_distinct(&ask).unwrap().after(), 2);
        store.flush().unwrap();
    })
    .await
    .unwrap();
    let after = wall();

    let number = |item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
                  name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or_else(|| panic!("{name} missing or not a number in {item:?}"))
    };
    let items: Vec<_> = env
        .clients
        .dynamodb
        .scan()
        .table_name(&env.table)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert!(items.len() > 10, "the contract writes items: {}", items.len());
    for item in &items {
        let (exp, ttl) = (number(item, "exp"), number(item, TTL));
        assert!(
            (exp.max(before) + TTL_GRACE..=exp.max(after) + TTL_GRACE).contains(&ttl),
            "ttl {ttl} for exp {exp}, written between {before} and {after}: {item:?}"
        );
    }
    let ahead_item = items
        .iter()
        .find(|i| {
            i.get("pk")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|k| k == "ttl/ahead")
        })
        .expect("the put is in the table");
    assert_eq!(number(ahead_item, TTL), ahead + TTL_GRACE);
    let old = items
        .iter()
        .filter(|i| {
            i.get("pk")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|k| k.starts_with("ttl/old/"))
        })
        .count();
    assert_eq!(old, 4, "one item of each kind of write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_invocations_alert_once() {
    let env = env().await;
    let irsa = sample("0905Z");
    let key = env.upload(&irsa).await;
    let event = sqs_event(&[("m", env.s3_event(&key))]);
    let (a, b) = (
        env.services(&env.topic_arn).await,
        env.services(&env.topic_arn).await,
    );
    let (ra, rb) = tokio::join!(
        trailwatch_aws::ingest::handle(a, event.clone()),
        trailwatch_aws::ingest::handle(b, event)
    );
    assert!(failures(&ra.unwrap()).is_empty() && failures(&rb.unwrap()).is_empty());
    let (got, envelopes) = env.delivered().await;
    assert_eq!(got, expected(&irsa));
    let ids: Vec<String> = envelopes
        .iter()
        .map(|e| e["Message"].as_str().unwrap().to_string())
        .collect();
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "an alert was published twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_function_end_to_end() {
    let env = env().await;
    let svc = env.services(&env.topic_arn).await;
    let path = repo().join("samples/cloudwatch-logs/subscription-awslogs.json");
    let event: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    trailwatch_aws::logs::handle(svc, event).await.unwrap();
    assert_eq!(env.delivered().await.0, expected(&path));
    let control: Value = serde_json::from_slice(
        &std::fs::read(repo().join("samples/cloudwatch-logs/control-message.json")).unwrap(),
    )
    .unwrap();
    trailwatch_aws::logs::handle(env.services(&env.topic_arn).await, control)
        .await
        .unwrap();
    assert!(env.delivered().await.0.is_empty());
    let bad = trailwatch_aws::logs::handle(env.services(&env.topic_arn).await, json!({"hello": 1})).await;
    assert!(bad.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_publish_fails_the_message_and_redelivery_alerts() {
    let env = env().await;
    let irsa = sample("0905Z");
    let key = env.upload(&irsa).await;
    let event = sqs_event(&[("m", env.s3_event(&key))]);
    // A topic that does not exist: SNS refuses every entry.
    let missing = format!("{}-deleted", env.topic_arn);
    let broken = env.services(&missing).await;
    let response = trailwatch_aws::ingest::handle(broken, event.clone())
        .await
        .unwrap();
    assert_eq!(failures(&response), BTreeSet::from(["m".to_string()]));
    assert!(env.delivered().await.0.is_empty());
    // The redelivery, with SNS working again, sends every alert.
    let response = trailwatch_aws::ingest::handle(env.services(&env.topic_arn).await, event)
        .await
        .unwrap();
    assert!(failures(&response).is_empty(), "{response}");
    assert_eq!(env.delivered().await.0, expected(&irsa));
}

fn assert_sent_once(envelopes: &[Value]) {
    let bodies: Vec<&str> = envelopes.iter().map(|e| e["Message"].as_str().unwrap()).collect();
    let distinct: BTreeSet<&str> = bodies.iter().copied().collect();
    assert_eq!(distinct.len(), bodies.len(), "an alert was published twice");
}

/// Stateful detections decide once: the redelivery of a burst counts its denials once
/// and crosses no threshold, and a first-seen marker is already there. Their alerts, not
/// taken by SNS, wait in the message's outbox; the redelivery sends them, and the next
/// one sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateful_alerts_sns_did_not_take_are_sent_by_the_redelivery() {
    let stateful = repo().join("samples/stateful");
    redelivery_sends_what_sns_did_not_take(&[stateful.join("access-denied-burst/1-probing.json.gz")]).await;
    redelivery_sends_what_sns_did_not_take(&[
        stateful.join("first-seen/1-baseline.json.gz"),
        stateful.join("first-seen/2-ten-days-later.json.gz"),
    ])
    .await;
}

/// One message of `samples`, on its own resources: SNS refuses it, then takes it twice.
async fn redelivery_sends_what_sns_did_not_take(samples: &[std::path::PathBuf]) {
    let env = env().await;
    let mut keys = Vec::new();
    for path in samples {
        keys.push(env.upload(path).await);
    }
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let event = sqs_event(&[("m", env.s3_event_of(&keys))]);
    let want: BTreeSet<String> = samples.iter().flat_map(|p| expected(p)).collect();
    assert!(!want.is_empty());

    let broken = env.services(&format!("{}-deleted", env.topic_arn)).await;
    let response = trailwatch_aws::ingest::handle(broken, event.clone())
        .await
        .unwrap();
    assert_eq!(failures(&response), BTreeSet::from(["m".to_string()]));
    assert!(env.delivered().await.0.is_empty());

    let response = trailwatch_aws::ingest::handle(env.services(&env.topic_arn).await, event.clone())
        .await
        .unwrap();
    assert!(failures(&response).is_empty(), "{response}");
    let (got, envelopes) = env.delivered().await;
    assert_eq!(got, want, "{samples:?}");
    assert_sent_once(&envelopes);
    // A kept alert goes out as it was rendered, with its subject and attributes.
    for envelope in &envelopes {
        let body: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
        assert_eq!(
            envelope["MessageAttributes"]["detection"]["Value"],
            body["detection"]
        );
        let severity = body["severity"].as_str().unwrap().to_uppercase();
        assert_eq!(
            envelope["MessageAttributes"]["severity"]["Value"],
            body["severity"]
        );
        assert!(
            envelope["Subject"]
                .as_str()
                .unwrap()
                .starts_with(&format!("[{severity}] "))
        );
    }

    let response = trailwatch_aws::ingest::handle(env.services(&env.topic_arn).await, event)
        .await
        .unwrap();
    assert!(failures(&response).is_empty(), "{response}");
    assert!(env.delivered().await.0.is_empty(), "the outbox was emptied");
}

/// The logs function keeps what SNS did not take under its delivery, which Lambda retries
/// with the same payload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_alerts_sns_did_not_take_are_sent_by_the_retry() {
    let env = env().await;
    let path = repo().join("samples/cloudwatch-logs/subscription-awslogs.json");
    let event: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let broken = env.services(&format!("{}-deleted", env.topic_arn)).await;
    let failed = trailwatch_aws::logs::handle(broken, event.clone()).await;
    assert!(failed.is_err());
    assert!(env.delivered().await.0.is_empty());
    trailwatch_aws::logs::handle(env.services(&env.topic_arn).await, event.clone())
        .await
        .unwrap();
    let (got, envelopes) = env.delivered().await;
    assert_eq!(got, expected(&path));
    assert_sent_once(&envelopes);
    trailwatch_aws::logs::handle(env.services(&env.topic_arn).await, event)
        .await
        .unwrap();
    assert!(env.delivered().await.0.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_metrics_never_fail_the_ingest() {
    let mut env = env().await;
    // Nothing listens on port 1: every PutMetricData fails.
    env.clients.cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk_config("http://127.0.0.1:1").await);
    let irsa = sample("0905Z");
    let key = env.upload(&irsa).await;
    let response = trailwatch_aws::ingest::handle(
        env.services(&env.topic_arn).await,
        sqs_event(&[("m", env.s3_event(&key))]),
    )
    .await
    .unwrap();
    assert!(failures(&response).is_empty(), "{response}");
    assert_eq!(env.delivered().await.0, expected(&irsa));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_fails_at_start_naming_the_key() {
    let env = env().await;
    put(
        &env.clients,
        &env.bucket,
        "config/bad.toml",
        b"[[clusters]]\nname = \"x\"\negress_cidrs = [\"nope\"]\n".to_vec(),
    )
    .await;
    let settings = |config: String| Settings {
        config,
        topic_arn: env.topic_arn.clone(),
        table: env.table.clone(),
        concurrency: 1,
    };
    let bad = Services::new(
        env.clients.clone(),
        settings(format!("s3://{}/config/bad.toml", env.bucket)),
    )
    .await;
    let message = bad.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("clusters[0].egress_cidrs[0]"), "{message}");
    let missing = Services::new(
        env.clients.clone(),
        settings(format!("s3://{}/config/none.toml", env.bucket)),
    )
    .await;
    assert!(
        missing
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("cannot load configuration")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_eventbridge_event_and_ssm_configuration() {
    let env = env().await;
    // The configuration from an SSM parameter instead of S3.
    let name = format!("/{}/config", unique_name("trailwatch"));
    let text = std::fs::read_to_string(repo().join("samples/trailwatch.toml")).unwrap();
    env.clients
        .ssm
        .put_parameter()
        .name(&name)
        .value(text)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    let settings = Settings {
        config: format!("ssm:{name}"),
        topic_arn: env.topic_arn.clone(),
        table: env.table.clone(),
        concurrency: 1,
    };
    let svc = Arc::new(Services::new(env.clients.clone(), settings).await.unwrap());
    let irsa = sample("0905Z");
    let key = env.upload(&irsa).await;
    let event = json!({"version": "0", "id": "e", "detail-type": "Object Created", "source": "aws.s3",
        "account": "111122223333", "region": "us-east-1", "resources": [],
        "detail": {"bucket": {"name": env.bucket}, "object": {"key": key, "size": 1}}});
    let out = trailwatch_aws::ingest::handle(Arc::clone(&svc), event)
        .await
        .unwrap();
    assert_eq!(out, Value::Null);
    assert_eq!(env.delivered().await.0, expected(&irsa));
    // A direct event for a missing object is an error: Lambda retries it.
    let missing = json!({"detail-type": "Object Created", "detail": {"bucket": {"name": env.bucket}, "object": {"key": "AWSLogs/x.json.gz"}}});
    assert!(trailwatch_aws::ingest::handle(svc, missing).await.is_err());
}
