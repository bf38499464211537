//! What the test binaries of this crate share: one isolated set of resources on the shared
//! moto server per test (bucket, table, topic with an SQS queue subscribed, CloudWatch
//! namespace), the samples, and the SQS events Lambda would deliver.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::{Metric, MetricDataQuery, MetricStat};
use serde_json::{Value, json};
use trailwatch_aws::Services;
use trailwatch_aws::services::{Clients, Settings};
use trailwatch_aws_test_support::{
    CborGateway, Moto, create_alert_topic, create_state_table, sdk_config, unique_name,
};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub const DAY: &str = "samples/AWSLogs/111122223333/CloudTrail/ap-southeast-1/2026/11/30";

/// A sample batch by its time stamp, e.g. `0905Z`.
pub fn sample(stamp: &str) -> PathBuf {
    let dir = repo().join(DAY);
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.to_string_lossy().contains(&format!("T{stamp}_")) && p.extension().is_some_and(|e| e == "gz")
        })
        .unwrap_or_else(|| panic!("no sample {stamp} in {}", dir.display()))
}

pub fn expected(path: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(format!("{}.expected", path.display()))
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// One isolated set of resources on the shared moto server.
pub struct Env {
    pub clients: Clients,
    pub sqs: aws_sdk_sqs::Client,
    pub bucket: String,
    pub topic_arn: String,
    pub queue_url: String,
    pub table: String,
    pub namespace: String,
}

pub async fn env() -> Env {
    let moto = Moto::shared();
    let sdk = sdk_config(moto.endpoint()).await;
    let mut clients = Clients::new(&sdk);
    clients.cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk_config(CborGateway::shared().endpoint()).await);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let (bucket, table, namespace) = (
        unique_name("trail"),
        unique_name("state"),
        unique_name("TrailWatchTest"),
    );
    clients.s3.create_bucket().bucket(&bucket).send().await.unwrap();
    create_state_table(&clients.dynamodb, &table).await;
    let (topic_arn, queue_url) = create_alert_topic(&clients.sns, &sqs, "alerts").await;
    let config = format!(
        "{}\n[metrics]\nnamespace = \"{namespace}\"\n",
        std::fs::read_to_string(repo().join("samples/trailwatch.toml")).unwrap()
    );
    put(&clients, &bucket, "config/trailwatch.toml", config.into_bytes()).await;
    Env {
        clients,
        sqs,
        bucket,
        topic_arn,
        queue_url,
        table,
        namespace,
    }
}

pub async fn put(clients: &Clients, bucket: &str, key: &str, body: Vec<u8>) {
    clients
        .s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into())
        .send()
        .await
        .unwrap();
}

impl Env {
    /// The function's services on these resources: 2 publish attempts, 10 ms apart.
    pub async fn services(&self, topic_arn: &str) -> Arc<Services> {
        self.services_retrying(topic_arn, 2, Duration::from_millis(10))
            .await
    }

    /// The same with `attempts` publish attempts, the first retry after `backoff`.
    pub async fn services_retrying(
        &self,
        topic_arn: &str,
        attempts: u32,
        backoff: Duration,
    ) -> Arc<Services> {
        let settings = Settings {
            config: format!("s3://{}/config/trailwatch.toml", self.bucket),
            topic_arn: topic_arn.to_string(),
            table: self.table.clone(),
            concurrency: 2,
        };
        let mut services = Services::new(self.clients.clone(), settings).await.unwrap();
        services.alerts = services.alerts.with_retries(attempts, backoff);
        Arc::new(services)
    }

    /// Uploads a sample under the CloudTrail key layout; returns its key.
    pub async fn upload(&self, path: &Path) -> String {
        let key = format!(
            "AWSLogs/111122223333/CloudTrail/ap-southeast-1/2026/11/30/{}",
            path.file_name().unwrap().to_string_lossy()
        );
        put(&self.clients, &self.bucket, &key, std::fs::read(path).unwrap()).await;
        key
    }

    pub fn s3_event(&self, key: &str) -> String {
        self.s3_event_of(&[key])
    }

    /// One S3 notification naming each of `keys`.
    pub fn s3_event_of(&self, keys: &[&str]) -> String {
        // As S3 writes it: keys URL-encoded, spaces as `+`.
        let records: Vec<Value> = keys
            .iter()
            .map(|key| {
                json!({"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                    "eventTime": "2026-11-30T10:00:00.000Z", "eventName": "ObjectCreated:Put",
                    "userIdentity": {"principalId": "AWS:CLOUDTRAIL"}, "requestParameters": {"sourceIPAddress": "10.0.0.1"},
                    "responseElements": {}, "s3": {"s3SchemaVersion": "1.0", "configurationId": "trailwatch",
                    "bucket": {"name": self.bucket, "arn": format!("arn:aws:s3:::{}", self.bucket)},
                    "object": {"key": key.replace(' ', "+"), "size": 1}}})
            })
            .collect();
        json!({ "Records": records }).to_string()
    }

    /// The alerts delivered to the queue so far: (detection, eventID) lines, plus the
    /// raw SNS envelopes.
    pub async fn delivered(&self) -> (BTreeSet<String>, Vec<Value>) {
        let mut lines = BTreeSet::new();
        let mut envelopes = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for m in messages {
                let envelope: Value = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
                let alert: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
                for id in alert["event_ids"].as_array().unwrap() {
                    lines.insert(format!(
                        "{} {}",
                        alert["detection"].as_str().unwrap(),
                        id.as_str().unwrap()
                    ));
                }
                envelopes.push(envelope);
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
        (lines, envelopes)
    }

    pub async fn metric_sum(&self, name: &str) -> f64 {
        let now = SystemTime::now();
        let metric = Metric::builder().namespace(&self.namespace).metric_name(name);
        let query = MetricDataQuery::builder()
            .id("m")
            .metric_stat(
                MetricStat::builder()
                    .metric(metric.build())
                    .period(60)
                    .stat("Sum")
                    .build(),
            )
            .build();
        let out = self
            .clients
            .cloudwatch
            .get_metric_data()
            .metric_data_queries(query)
            .start_time((now - Duration::from_secs(900)).into())
            .end_time((now + Duration::from_secs(60)).into())
            .send()
            .await
            .unwrap();
        out.metric_data_results().iter().flat_map(|r| r.values()).sum()
    }
}

pub fn sqs_event(messages: &[(&str, String)]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, body)| json!({"messageId": id, "receiptHandle": "rh", "body": body, "attributes": {},
            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:trailwatch-ingest", "awsRegion": "us-east-1"}))
        .collect();
    json!({ "Records": records })
}

pub fn failures(response: &Value) -> BTreeSet<String> {
    response["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
        .collect()
}

/// A sample's CloudTrail file, decompressed and parsed.
pub fn trail(path: &Path) -> Value {
    use std::io::Read;
    let mut text = String::new();
    trailwatch::decode::decompress(std::fs::File::open(path).unwrap(), u64::MAX)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

pub fn record_count(path: &Path) -> usize {
    trail(path)["Records"].as_array().unwrap().len()
}
