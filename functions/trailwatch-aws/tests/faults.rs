//! Failing dependencies, against moto: an S3 object the function may not read, SNS
//! taking only part of a PublishBatch or holding a call past the run's end, an outbox
//! DynamoDB cannot write or read. Each
//! failure fails exactly its own SQS message; the redelivery finishes the job without
//! repeating what was done. A state flush that fails keeps what it held.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_s3::config::Credentials;
use aws_sdk_sns::config::retry::RetryConfig;
use serde_json::{Value, json};
use trailwatch_aws_test_support::{
    DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY, DynamoFault, DynamoFaultProxy, Moto, SnsFault,
    SnsFaultProxy, sdk_config, unique_name,
};

use trailwatch::state::StateStore;
use trailwatch_aws::dynamo::DynamoStore;

use common::{Env, env, expected, failures, put, sample, sqs_event, trail};

/// An IAM user with one inline policy, `access`: its name and access key.
async fn iam_user(iam: &aws_sdk_iam::Client, policy: &serde_json::Value) -> (String, Credentials) {
    let name = unique_name("user");
    iam.create_user().user_name(&name).send().await.unwrap();
    iam.put_user_policy()
        .user_name(&name)
        .policy_name("access")
        .policy_document(policy.to_string())
        .send()
        .await
        .unwrap();
    let key = iam
        .create_access_key()
        .user_name(&name)
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let credentials = Credentials::new(
        key.access_key_id,
        key.secret_access_key,
        None,
        None,
        "moto-iam-user",
    );
    (name, credentials)
}

fn dummy() -> Credentials {
    Credentials::new(DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY, None, None, "dummy")
}

/// An S3 client on `endpoint` signing as `credentials` (path-style, as for moto).
async fn s3_as(endpoint: &str, credentials: Credentials) -> aws_sdk_s3::Client {
    let sdk = sdk_config(endpoint).await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .credentials_provider(credentials)
            .build(),
    )
}

/// GetObject denied by IAM (moto enforcing identity policies, so the 403 `AccessDenied`
/// is S3's own answer to a real signed request): that message fails, the message beside
/// it succeeds and alerts; once the policy allows the read, the redelivery alerts too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_object_fails_only_its_message() {
    let mut env = env().await;
    // S3 on a moto of its own that checks signatures and policies; SNS, SQS, DynamoDB and
    // CloudWatch stay on the shared server.
    let moto = Moto::start();
    let setup = sdk_config(moto.endpoint()).await;
    let admin_s3 = s3_as(moto.endpoint(), dummy()).await;
    let iam = aws_sdk_iam::Client::new(&setup);
    let (allowed, denied) = (sample("0905Z"), sample("0915Z"));
    let prefix = "AWSLogs/111122223333/CloudTrail/ap-southeast-1/2026/11/30";
    let allowed_key = format!("{prefix}/{}", allowed.file_name().unwrap().to_string_lossy());
    let denied_key = format!("{prefix}/{}", denied.file_name().unwrap().to_string_lossy());
    admin_s3.create_bucket().bucket(&env.bucket).send().await.unwrap();
    let mut admin = env.clients.clone();
    admin.s3 = admin_s3;
    let config = env
        .clients
        .s3
        .get_object()
        .bucket(&env.bucket)
        .key("config/trailwatch.toml")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .to_vec();
    put(&admin, &env.bucket, "config/trailwatch.toml", config).await;
    put(
        &admin,
        &env.bucket,
        &allowed_key,
        std::fs::read(&allowed).unwrap(),
    )
    .await;
    put(&admin, &env.bucket, &denied_key, std::fs::read(&denied).unwrap()).await;
    let deny = json!({"Effect": "Deny", "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{}/{denied_key}", env.bucket)});
    let read_all = json!({"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"});
    let (reader_name, reader) = iam_user(
        &iam,
        &json!({"Version": "2012-10-17", "Statement": [read_all, deny]}),
    )
    .await;
    let (_, root) = iam_user(
        &iam,
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    )
    .await;
    moto.enforce_iam();

    let reader_s3 = s3_as(moto.endpoint(), reader).await;
    // The denial is real: the object is there (root reads it), the reader may not read it,
    // and the dummy credentials no longer pass at all.
    let root_s3 = s3_as(moto.endpoint(), root.clone()).await;
    let read = root_s3
        .get_object()
        .bucket(&env.bucket)
        .key(&denied_key)
        .send()
        .await;
    assert!(read.is_ok(), "{read:?}");
    let refused = reader_s3
        .get_object()
        .bucket(&env.bucket)
        .key(&denied_key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        refused.as_service_error().and_then(|e| e.meta().code()),
        Some("AccessDenied"),
        "{refused:?}"
    );
    let anonymous = s3_as(moto.endpoint(), dummy()).await;
    assert!(anonymous.list_buckets().send().await.is_err());

    env.clients.s3 = reader_s3;
    let svc = env.services(&env.topic_arn).await;
    let event = sqs_event(&[
        ("allowed", env.s3_event(&allowed_key)),
        ("denied", env.s3_event(&denied_key)),
    ]);
    let response = trailwatch_aws::ingest::handle(svc, event.clone()).await.unwrap();
    assert_eq!(
        failures(&response),
        BTreeSet::from(["denied".to_string()]),
        "{response}"
    );
    assert_eq!(env.delivered().await.0, expected(&allowed));

    // The policy is fixed; SQS delivers the batch again: the denied object's alerts, and
    // nothing of the other object twice.
    let root_iam = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::from(&setup)
            .credentials_provider(root)
            .build(),
    );
    root_iam
        .put_user_policy()
        .user_name(&reader_name)
        .policy_name("access")
        .policy_document(json!({"Version": "2012-10-17", "Statement": [read_all]}).to_string())
        .send()
        .await
        .unwrap();
    let svc = env.services(&env.topic_arn).await;
    let response = trailwatch_aws::ingest::handle(svc, event).await.unwrap();
    assert!(failures(&response).is_empty(), "{response}");
    assert_eq!(env.delivered().await.0, expected(&denied));
}

/// `(detection, eventID)` lines of one SNS message body (an alert).
fn alert_lines(message: &str) -> BTreeSet<String> {
    let alert: Value = serde_json::from_str(message).unwrap();
    alert["event_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| {
            format!(
                "{} {}",
                alert["detection"].as_str().unwrap(),
                id.as_str().unwrap()
            )
        })
        .collect()
}

/// The SDK's own retries of a 500 (3 attempts) with short backoff: the tests are about
/// what happens after them.
fn quick_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(5))
}

/// The SNS client of `env` through a fault proxy in front of the shared moto.
async fn through_proxy(env: &mut Env) -> SnsFaultProxy {
    let proxy = SnsFaultProxy::start(Moto::shared().endpoint());
    let sdk = sdk_config(proxy.endpoint()).await;
    env.clients.sns = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(&sdk)
            .retry_config(quick_retries())
            .build(),
    );
    proxy
}

/// The DynamoDB client of `env` through a fault proxy in front of the shared moto.
async fn dynamodb_through_proxy(env: &mut Env) -> DynamoFaultProxy {
    let proxy = DynamoFaultProxy::start(Moto::shared().endpoint());
    let sdk = sdk_config(proxy.endpoint()).await;
    env.clients.dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .retry_config(quick_retries())
            .build(),
    );
    proxy
}

/// An event of sample `0905Z` whose alert the SNS proxy is set to withhold.
const WITHHELD_EVENT: &str = "1d4e0a09-16a9-4c1a-a994-3414d3740fd1";

/// `0905Z` uploaded, one message naming it, and the SNS proxy withholding the alert of
/// [`WITHHELD_EVENT`].
async fn withholding_one(env: &Env, sns: &SnsFaultProxy) -> (std::path::PathBuf, String, Value) {
    let irsa = sample("0905Z");
    assert!(
        expected(&irsa).iter().any(|l| l.ends_with(WITHHELD_EVENT)),
        "the sample changed: pick another event id"
    );
    let key = env.upload(&irsa).await;
    let event = sqs_event(&[("m", env.s3_event(&key))]);
    sns.set_fault(SnsFault::RejectEntriesContaining(WITHHELD_EVENT.to_string()));
    (irsa, key, event)
}

/// The alert lines of the entry the proxy's first `PublishBatch` had rejected.
fn withheld(sns: &SnsFaultProxy) -> BTreeSet<String> {
    let calls = sns.publish_batch_calls();
    let first = calls.first().expect("a PublishBatch call");
    assert_eq!(first.rejected.len(), 1, "{first:#?}");
    let (_, message) = first
        .entries
        .iter()
        .find(|(id, _)| *id == first.rejected[0])
        .unwrap();
    alert_lines(message)
}

/// SNS takes some entries of a PublishBatch and fails one (a per-entry `Failed` result,
/// not a sender fault): the publisher retries only that entry, with growing backoff,
/// then fails the message and keeps the alert in the message's outbox. The redelivery
/// sends that alert and nothing that was delivered the first time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_failing_one_entry_retries_it_and_redelivery_sends_only_it() {
    let mut env = env().await;
    let proxy = through_proxy(&mut env).await;
    let (irsa, _, event) = withholding_one(&env, &proxy).await;
    let backoff = Duration::from_millis(40);
    let svc = env.services_retrying(&env.topic_arn, 3, backoff).await;
    let response = trailwatch_aws::ingest::handle(svc, event.clone()).await.unwrap();
    assert_eq!(
        failures(&response),
        BTreeSet::from(["m".to_string()]),
        "{response}"
    );

    let calls = proxy.publish_batch_calls();
    assert_eq!(calls.len(), 3, "one call per attempt: {calls:#?}");
    let (first, retries) = calls.split_first().unwrap();
    assert!(first.entries.len() > 1 && first.rejected.len() == 1, "{first:#?}");
    let rejected = &first.rejected[0];
    for retry in retries {
        // Only the failed entry is sent again, and it fails again.
        let ids: Vec<&String> = retry.entries.iter().map(|(id, _)| id).collect();
        assert_eq!(ids, [rejected], "{retry:#?}");
        assert_eq!(retry.rejected, std::slice::from_ref(rejected));
    }
    // Backoff between attempts, doubling.
    assert!(calls[1].at - calls[0].at >= backoff, "{calls:#?}");
    assert!(calls[2].at - calls[1].at >= backoff * 2, "{calls:#?}");

    let withheld = withheld(&proxy);
    let want: BTreeSet<String> = expected(&irsa).difference(&withheld).cloned().collect();
    assert!(!want.is_empty() && !withheld.is_empty());
    assert_eq!(env.delivered().await.0, want, "what SNS accepted is delivered");

    // SQS delivers the message again; SNS is healthy.
    proxy.set_fault(SnsFault::None);
    let svc = env.services(&env.topic_arn).await;
    let response = trailwatch_aws::ingest::handle(svc, event).await.unwrap();
    assert!(failures(&response).is_empty(), "{response}");
    assert_eq!(
        delivered_in_one_message(&env).await,
        withheld,
        "only the alert that was not delivered"
    );
    let resent = &proxy.publish_batch_calls()[3..];
    assert_eq!(resent.len(), 1);
    assert_eq!(resent[0].entries.len(), 1, "{resent:#?}");
}

/// A call at `time` signed with a long-term access key of IAM user `user`: a
/// `long-term-access-key` alert of its own.
fn access_key_call(event_id: &str, user: &str, time: &str) -> Value {
    json!({"eventVersion": "1.09", "eventTime": time,
        "userIdentity": {"type": "IAMUser", "principalId": format!("AIDA-{user}"),
            "arn": format!("arn:aws:iam::111122223333:user/{user}"), "accountId": "111122223333",
            "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "userName": user},
        "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets", "awsRegion": "ap-southeast-1",
        "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.15.0", "requestParameters": null,
        "responseElements": null, "eventID": event_id, "readOnly": true,
        "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "111122223333"})
}

/// What the topic delivered since the last look, asserted to be one message: its lines.
async fn delivered_in_one_message(env: &Env) -> BTreeSet<String> {
    let (lines, messages) = env.delivered().await;
    assert_eq!(messages.len(), 1, "one message: {messages:?}");
    lines
}

/// Runs the handler on `event` with the services of `env`: the messages it failed.
async fn invoke(env: &Env, event: &Value) -> BTreeSet<String> {
    let svc = env.services(&env.topic_arn).await;
    let response = trailwatch_aws::ingest::handle(svc, event.clone()).await.unwrap();
    failures(&response)
}

/// The first delivery of `0905Z` with SNS withholding one alert: the message fails and
/// the rest is delivered. Its key, its event, and the withheld alert's lines.
async fn first_delivery_withholding_one(env: &Env, sns: &SnsFaultProxy) -> (String, Value, BTreeSet<String>) {
    let (irsa, key, event) = withholding_one(env, sns).await;
    assert_eq!(invoke(env, &event).await, BTreeSet::from(["m".to_string()]));
    let withheld = withheld(sns);
    let want: BTreeSet<String> = expected(&irsa).difference(&withheld).cloned().collect();
    assert_eq!(env.delivered().await.0, want);
    (key, event, withheld)
}

/// SNS withholds one alert and the outbox cannot be written either (before publishing,
/// nor after): the message fails and gives up that alert's claims instead, so the redelivery finds the alert again (its
/// detection is stateless) and sends it, and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbox_that_cannot_be_written_leaves_the_alert_to_the_redelivery() {
    let mut env = env().await;
    let sns = through_proxy(&mut env).await;
    let dynamodb = dynamodb_through_proxy(&mut env).await;
    dynamodb.set_fault(DynamoFault::FailWritesOf("outbox/".into()));
    let (_, event, withheld) = first_delivery_withholding_one(&env, &sns).await;
    // Taking the slots (an UpdateItem of the outbox's counter) failed, 3 SDK attempts,
    // before publishing (for every new alert) and after (for the withheld one).
    assert_eq!(dynamodb.failed_calls(), ["UpdateItem"; 6]);

    sns.set_fault(SnsFault::None);
    dynamodb.set_fault(DynamoFault::None);
    assert!(invoke(&env, &event).await.is_empty());
    assert_eq!(
        delivered_in_one_message(&env).await,
        withheld,
        "the released alert, once"
    );
}

/// The outbox cannot be read when the message comes again: the alert found anew still
/// goes out, the message fails again, and what the outbox kept is sent once it can be
/// read, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbox_that_cannot_be_read_fails_the_message_and_keeps_its_alerts() {
    let mut env = env().await;
    let sns = through_proxy(&mut env).await;
    let dynamodb = dynamodb_through_proxy(&mut env).await;
    let (key, event, withheld) = first_delivery_withholding_one(&env, &sns).await;

    // A test device for an alert that is new on the redelivery: the object, rewritten
    // under its key (so the message has the same outbox), holds one more record.
    let mut rewritten = trail(&sample("0905Z"));
    let added = unique_name("akia");
    rewritten["Records"]
        .as_array_mut()
        .unwrap()
        .push(access_key_call(&added, "ci", "2026-11-30T09:06:00Z"));
    put(
        &env.clients,
        &env.bucket,
        &key,
        rewritten.to_string().into_bytes(),
    )
    .await;

    sns.set_fault(SnsFault::None);
    dynamodb.set_fault(DynamoFault::FailReadsOf("outbox/".into()));
    assert_eq!(invoke(&env, &event).await, BTreeSet::from(["m".to_string()]));
    // Reading the outbox's marker failed, 3 SDK attempts.
    assert_eq!(dynamodb.failed_calls(), ["GetItem"; 3]);
    let new = BTreeSet::from([format!("long-term-access-key {added}")]);
    assert_eq!(
        delivered_in_one_message(&env).await,
        new,
        "the new alert goes out, alone"
    );

    dynamodb.set_fault(DynamoFault::None);
    assert!(invoke(&env, &event).await.is_empty());
    assert_eq!(
        delivered_in_one_message(&env).await,
        withheld,
        "the kept alert, once"
    );
}

/// `0905Z` uploaded, and one message naming it.
async fn irsa_message(env: &Env) -> (std::path::PathBuf, Value) {
    let irsa = sample("0905Z");
    let key = env.upload(&irsa).await;
    (irsa, sqs_event(&[("m", env.s3_event(&key))]))
}

/// What the topic delivered since the last look, asserted to hold each event in one
/// alert only: its lines.
async fn delivered_once(env: &Env) -> BTreeSet<String> {
    let (lines, envelopes) = env.delivered().await;
    let per_alert: usize = envelopes
        .iter()
        .map(|e| alert_lines(e["Message"].as_str().unwrap()).len())
        .sum();
    assert_eq!(per_alert, lines.len(), "each event in one alert, sent once");
    lines
}

/// The invocation stops while SNS holds its first PublishBatch, as Lambda stops one at
/// its timeout: its alerts are claimed and none is published. They were kept in the
/// message's outbox before publishing, so the redelivery sends every one of them, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_before_it_published_leaves_its_alerts_to_the_redelivery() {
    let mut env = env().await;
    let sns = through_proxy(&mut env).await;
    let (irsa, event) = irsa_message(&env).await;
    sns.set_fault(SnsFault::Hang);
    let svc = env.services(&env.topic_arn).await;
    tokio::select! {
        response = trailwatch_aws::ingest::handle(svc, event.clone()) => {
            panic!("the run ended while SNS held its calls: {response:?}")
        }
        () = sns.held() => {}
    }
    // Dropped here, mid-call: the run is over.
    assert_eq!(sns.publish_batch_calls().len(), 1);
    assert!(env.delivered().await.0.is_empty());

    sns.set_fault(SnsFault::None);
    assert!(invoke(&env, &event).await.is_empty());
    assert_eq!(
        delivered_once(&env).await,
        expected(&irsa),
        "every alert of the stopped run"
    );
    // Nothing is left for a third delivery.
    assert!(invoke(&env, &event).await.is_empty());
    assert!(env.delivered().await.0.is_empty());
}

/// An SQS batch answers within its invocation's time. With too little of it left (a
/// quarter, in Lambda) no message starts: each fails untouched, nothing published and no
/// state written. Near the
/// end, a message still running (SNS holds its PublishBatch) is given up and fails while
/// the one that finished does not, and the redelivery sends every alert of the given-up
/// message once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_answers_within_its_deadline_with_what_it_did_not_finish() {
    use trailwatch_aws::ingest::{Deadline, handle_within};
    let mut env = env().await;
    let sns = through_proxy(&mut env).await;
    let irsa = sample("0905Z");
    let key = env.upload(&irsa).await;
    let quiet = "AWSLogs/111122223333/CloudTrail/ap-southeast-1/2026/11/30/quiet.json";
    put(&env.clients, &env.bucket, quiet, br#"{"Records":[]}"#.to_vec()).await;
    let items = || async {
        let scan = env.clients.dynamodb.scan().table_name(&env.table);
        scan.send().await.unwrap().count()
    };

    let event = sqs_event(&[("m", env.s3_event(&key))]);
    let svc = env.services(&env.topic_arn).await;
    let late = Deadline::after(Duration::from_secs(60)).starting_until(Duration::from_secs(60));
    let response = handle_within(svc, event.clone(), Some(late)).await.unwrap();
    assert_eq!(failures(&response), BTreeSet::from(["m".to_string()]));
    assert!(sns.publish_batch_calls().is_empty());
    assert_eq!(items().await, 0, "nothing written");
    // A deadline passed already is no deadline: `cargo lambda watch` sends one.
    assert!(Deadline::at(std::time::SystemTime::UNIX_EPOCH).is_none());

    sns.set_fault(SnsFault::Hang);
    let batch = sqs_event(&[("m", env.s3_event(&key)), ("quiet", env.s3_event(quiet))]);
    let svc = env.services(&env.topic_arn).await;
    let within = handle_within(svc, batch, Some(Deadline::after(Duration::from_secs(8))));
    let response = tokio::time::timeout(Duration::from_secs(60), within)
        .await
        .expect("answered while SNS held a call")
        .unwrap();
    assert_eq!(failures(&response), BTreeSet::from(["m".to_string()]));
    assert!(env.delivered().await.0.is_empty());

    sns.set_fault(SnsFault::None);
    assert!(invoke(&env, &event).await.is_empty());
    assert_eq!(
        delivered_once(&env).await,
        expected(&irsa),
        "every alert of the given-up message"
    );
}

/// The outbox's first slot cannot be written (every write naming it fails; taking the
/// slots, an UpdateItem of the counter, goes through), before publishing nor after. Every
/// alert is published, once, and the message succeeds; the slots the store still holds
/// are emptied, so the same input delivered again to this warm function sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_slots_that_cannot_be_written_do_not_send_alerts_twice() {
    let mut env = env().await;
    let dynamodb = dynamodb_through_proxy(&mut env).await;
    let (irsa, event) = irsa_message(&env).await;
    dynamodb.set_fault(DynamoFault::FailWritesOf("/0\"".into()));
    let svc = env.services(&env.topic_arn).await;
    let response = trailwatch_aws::ingest::handle(Arc::clone(&svc), event.clone())
        .await
        .unwrap();
    assert!(failures(&response).is_empty(), "{response}");
    let failed = dynamodb.failed_calls();
    assert!(
        !failed.is_empty() && failed.iter().all(|c| c == "BatchWriteItem"),
        "{failed:?}"
    );
    assert_eq!(delivered_once(&env).await, expected(&irsa));

    dynamodb.set_fault(DynamoFault::None);
    let response = trailwatch_aws::ingest::handle(svc, event).await.unwrap();
    assert!(failures(&response).is_empty(), "{response}");
    assert!(env.delivered().await.0.is_empty(), "nothing sent again");
}

/// Twelve alerts make two PublishBatch calls (SNS takes ten entries per call). The first
/// call goes through, then SNS answers every call with 500: the SDK's and the publisher's
/// retries fail, the message fails, and the redelivery sends the two alerts of the second
/// call only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_going_away_mid_invocation_fails_the_message_and_redelivery_completes_it() {
    let mut env = env().await;
    let proxy = through_proxy(&mut env).await;
    let run = unique_name("akia");
    let records: Vec<Value> = (0..12)
        .map(|i| access_key_call(&format!("{run}-{i}"), &format!("ci-{i}"), "2026-11-30T10:00:00Z"))
        .collect();
    let event = message_of(&env, "twelve-keys", &records).await;
    let all: BTreeSet<String> = (0..12)
        .map(|i| format!("long-term-access-key {run}-{i}"))
        .collect();

    proxy.set_fault(SnsFault::FailCallsAfter(1));
    let svc = env
        .services_retrying(&env.topic_arn, 2, Duration::from_millis(10))
        .await;
    let response = trailwatch_aws::ingest::handle(svc, event.clone()).await.unwrap();
    assert_eq!(
        failures(&response),
        BTreeSet::from(["m".to_string()]),
        "{response}"
    );
    let calls = proxy.publish_batch_calls();
    let (first, later) = calls.split_first().unwrap();
    assert!(!first.failed && first.entries.len() == 10, "{first:#?}");
    // The publisher attempted again (the SDK may have retried within each attempt too),
    // every call after the first for the second batch only.
    assert!(later.len() >= 2 && later.iter().all(|c| c.failed), "{later:#?}");
    let second: BTreeSet<&str> = later[0].entries.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(second.len(), 2);
    for call in later {
        let ids: BTreeSet<&str> = call.entries.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            ids, second,
            "a call after the first resent other alerts: {call:#?}"
        );
    }
    let (delivered, _) = env.delivered().await;
    assert_eq!(delivered.len(), 10);
    assert!(delivered.is_subset(&all));

    proxy.set_fault(SnsFault::None);
    let svc = env.services(&env.topic_arn).await;
    let response = trailwatch_aws::ingest::handle(svc, event).await.unwrap();
    assert!(failures(&response).is_empty(), "{response}");
    let (redelivered, _) = env.delivered().await;
    assert_eq!(redelivered.len(), 2, "{redelivered:?}");
    assert!(redelivered.is_disjoint(&delivered));
    assert_eq!(
        delivered.union(&redelivered).cloned().collect::<BTreeSet<_>>(),
        all
    );
}

/// Plain puts wait in the store for a flush; a flush that fails keeps them for the next
/// one, and until then this process reads them back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_state_flush_keeps_what_it_held() {
    let env = env().await;
    let table = unique_name("late");
    let dynamodb = env.clients.dynamodb.clone();
    let store = DynamoStore::new(dynamodb.clone(), table.clone());
    let t0 = 1_800_000_000;
    let keys: Vec<(String, i64)> = (0..60).map(|i| (format!("held/{i}"), t0)).collect();

    let writer = store.clone();
    let first = tokio::task::spawn_blocking(move || {
        for i in 0..60 {
            writer
                .put(&format!("held/{i}"), format!("{i}").as_bytes(), t0 + 60)
                .unwrap();
        }
        assert_eq!(writer.get("held/7", t0).unwrap().as_deref(), Some(&b"7"[..]));
        writer.flush()
    })
    .await
    .unwrap();
    let error = first.expect_err("the table does not exist yet").to_string();
    assert!(error.contains("put"), "{error}");

    trailwatch_aws_test_support::create_state_table(&dynamodb, &table).await;
    let writer = store.clone();
    let lookups = keys.clone();
    let held = tokio::task::spawn_blocking(move || {
        let before = writer.get_many(&lookups).unwrap();
        writer.flush().unwrap();
        before
    })
    .await
    .unwrap();
    assert!(
        held.iter().all(Option::is_some),
        "held puts are read back before the flush"
    );

    // A store with nothing held reads the table itself.
    let fresh = DynamoStore::new(dynamodb, table);
    let stored = tokio::task::spawn_blocking(move || fresh.get_many(&keys).unwrap())
        .await
        .unwrap();
    let want: Vec<Option<Vec<u8>>> = (0..60).map(|i| Some(format!("{i}").into_bytes())).collect();
    assert_eq!(stored, want, "the second flush wrote every held put");
}

/// The messages an instance works on at once share its held puts: while one message's
/// flush writes them they stay readable, and another message's flush returns only once
/// they are in the table (its input is then claimed on state that is durable).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_puts_stay_readable_and_count_while_another_flush_writes_them() {
    let env = env().await;
    let table = unique_name("inflight");
    let dynamodb = env.clients.dynamodb.clone();
    trailwatch_aws_test_support::create_state_table(&dynamodb, &table).await;
    let store = DynamoStore::new(dynamodb.clone(), table.clone());
    let t0 = 1_800_000_000;
    // Below the count at which a put flushes by itself.
    let keys: Vec<(String, i64)> = (0..399).map(|i| (format!("k/{i}"), t0)).collect();
    let writer = store.clone();
    let puts = keys.clone();
    tokio::task::spawn_blocking(move || {
        for (key, _) in &puts {
            writer.put(key, b"v", t0 + 60).unwrap();
        }
    })
    .await
    .unwrap();

    let flushing = Arc::new(AtomicBool::new(true));
    let (flusher, done) = (store.clone(), flushing.clone());
    let first = tokio::task::spawn_blocking(move || {
        let flushed = flusher.flush();
        done.store(false, Ordering::SeqCst);
        flushed
    });
    let (reader, lookups, running) = (store.clone(), keys.clone(), flushing.clone());
    let second = tokio::task::spawn_blocking(move || {
        // Reads while the first flush runs, then flushes itself.
        let (mut reads, mut missing) = (0, 0);
        for (key, now) in lookups.iter().cycle() {
            reads += 1;
            missing += usize::from(reader.get(key, *now).unwrap().is_none());
            if reads >= lookups.len() && (!running.load(Ordering::SeqCst) || reads >= 200_000) {
                break;
            }
        }
        reader.flush().map(|()| missing)
    });
    let missing = second.await.unwrap().expect("the second flush");
    // Read by a store that holds nothing: the table itself, right after the second flush.
    let fresh = DynamoStore::new(dynamodb, table);
    let lookups = keys.clone();
    let stored = tokio::task::spawn_blocking(move || fresh.get_many(&lookups).unwrap())
        .await
        .unwrap();
    first.await.unwrap().expect("the first flush");
    assert_eq!(missing, 0, "held puts read as absent during a flush");
    let absent = stored.iter().filter(|v| v.is_none()).count();
    assert_eq!(
        absent, 0,
        "the second flush returned before the first's puts were written"
    );
}

/// An object that breaks after its records (its gzip trailer cut off) fails its message,
/// but what was found in it before the break is alerted (and claimed). The redelivery,
/// which finds them again, sends nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_before_a_failure_are_alerted_once() {
    let env = env().await;
    let whole = sample("0905Z");
    let bytes = std::fs::read(&whole).unwrap();
    let key = "AWSLogs/111122223333/CloudTrail/ap-southeast-1/2026/11/30/\
               111122223333_CloudTrail_ap-southeast-1_20261130T0905Z_cut.json.gz";
    // Without its CRC-32 and length the stream ends early: every record is read, then
    // the decompressor fails.
    put(&env.clients, &env.bucket, key, bytes[..bytes.len() - 8].to_vec()).await;
    let event = sqs_event(&[("cut", env.s3_event(key))]);
    let want = expected(&whole);
    assert!(!want.is_empty());

    let svc = env.services(&env.topic_arn).await;
    let response = trailwatch_aws::ingest::handle(svc, event.clone()).await.unwrap();
    assert_eq!(
        failures(&response),
        BTreeSet::from(["cut".to_string()]),
        "{response}"
    );
    assert_eq!(
        env.delivered().await.0,
        want,
        "the findings before the break are alerted"
    );

    let svc = env.services(&env.topic_arn).await;
    let response = trailwatch_aws::ingest::handle(svc, event).await.unwrap();
    assert_eq!(
        failures(&response),
        BTreeSet::from(["cut".to_string()]),
        "{response}"
    );
    assert!(
        env.delivered().await.0.is_empty(),
        "a redelivery sends nothing twice"
    );
    // Nor counts the failures twice: the sample's 5, in the series without dimensions and
    // across the Cluster × ErrorCode ones (moto sums every series of a name).
    assert_eq!(env.metric_sum("IrsaAssumeFailures").await, 10.0);
}

/// `records` uploaded as CloudTrail file `<name>.json`, and one SQS message `m` naming it.
async fn message_of(env: &Env, name: &str, records: &[Value]) -> Value {
    let key = format!("AWSLogs/111122223333/CloudTrail/ap-southeast-1/2026/11/30/{name}.json");
    let body = json!({ "Records": records }).to_string().into_bytes();
    put(&env.clients, &env.bucket, &key, body).await;
    sqs_event(&[("m", env.s3_event(&key))])
}

/// The state store fails while the alerts of a message are claimed: one event's claim
/// cannot be written (3 SDK attempts) after another's was. Nothing is published, the
/// message fails, and the batch gives up the claims it won, so the redelivery sends both
/// alerts. Kept, the won claim would have made the redelivery drop its alert as sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_that_cannot_be_written_gives_up_the_others_for_the_redelivery() {
    let mut env = env().await;
    let dynamodb = dynamodb_through_proxy(&mut env).await;
    let run = unique_name("claim");
    let (won, failing) = (format!("{run}-won"), format!("{run}-failing"));
    let records = [
        access_key_call(&won, "ci-a", "2026-11-30T10:00:00Z"),
        access_key_call(&failing, "ci-b", "2026-11-30T10:00:00Z"),
    ];
    let event = message_of(&env, &run, &records).await;

    dynamodb.set_fault(DynamoFault::FailPutItemsOf(format!(
        "event/long-term-access-key/{failing}"
    )));
    assert_eq!(invoke(&env, &event).await, BTreeSet::from(["m".to_string()]));
    assert_eq!(
        dynamodb.failed_calls(),
        ["PutItem"; 3],
        "the claim, 3 SDK attempts"
    );
    assert!(env.delivered().await.0.is_empty(), "nothing is published");

    dynamodb.set_fault(DynamoFault::None);
    assert!(invoke(&env, &event).await.is_empty());
    let (lines, messages) = env.delivered().await;
    let both = BTreeSet::from([
        format!("long-term-access-key {won}"),
        format!("long-term-access-key {failing}"),
    ]);
    assert_eq!((lines, messages.len()), (both, 2), "both alerts, once");
}

/// A call at `time` by a session of role `role` that IAM denied.
fn denied_call(event_id: &str, role: &str, time: &str) -> Value {
    json!({"eventVersion": "1.09", "eventTime": time,
        "userIdentity": {"type": "AssumedRole", "principalId": format!("AROA:{role}"),
            "arn": format!("arn:aws:sts::111122223333:assumed-role/{role}/probe"),
            "accountId": "111122223333", "accessKeyId": "ASIAPROBE",
            "sessionContext": {"sessionIssuer": {"type": "Role",
                "arn": format!("arn:aws:iam::111122223333:role/{role}")}}},
        "eventSource": "iam.amazonaws.com", "eventName": "ListUsers", "awsRegion": "ap-southeast-1",
        "sourceIPAddress": "10.0.1.9", "userAgent": "aws-cli/2.15.0", "errorCode": "AccessDenied",
        "eventID": event_id, "readOnly": true, "eventType": "AwsApiCall",
        "managementEvent": true, "recipientAccountId": "111122223333"})
}

/// The alert claims of a message cannot be written after its detections wrote their
/// state (ten denials counted, the tenth crossing the threshold): nothing is published
/// and the message fails. The redelivery counts nothing new, finds the burst again at
/// the denial that crossed it, and sends its alert once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_counted_by_a_run_that_failed_is_alerted_by_the_redelivery() {
    let mut env = env().await;
    let dynamodb = dynamodb_through_proxy(&mut env).await;
    let run = unique_name("burst");
    let records: Vec<Value> = (0..10)
        .map(|i| {
            denied_call(
                &format!("{run}-{i:02}"),
                &run,
                &format!("2026-11-30T10:00:{i:02}Z"),
            )
        })
        .collect();
    let event = message_of(&env, &run, &records).await;

    dynamodb.set_fault(DynamoFault::FailPutItemsOf("alert/access-denied-burst".into()));
    assert_eq!(invoke(&env, &event).await, BTreeSet::from(["m".to_string()]));
    assert!(!dynamodb.failed_calls().is_empty(), "the alert's claim failed");
    assert!(env.delivered().await.0.is_empty(), "nothing is published");

    dynamodb.set_fault(DynamoFault::None);
    assert!(invoke(&env, &event).await.is_empty());
    assert_eq!(
        delivered_in_one_message(&env).await,
        BTreeSet::from([format!("access-denied-burst {run}-09")])
    );
    assert!(invoke(&env, &event).await.is_empty());
    assert!(env.delivered().await.0.is_empty(), "sent once");
}

/// An event's claim is written but its answer is lost (a 500 after the write): the SDK
/// retries, and the retry's condition fails on the item the first attempt made. The
/// claim's own token, returned with the failed condition, shows the claim was won, and the
/// alert goes out. Read as lost, the alert was dropped as sent, and nothing said so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_whose_answer_was_lost_is_still_won() {
    let mut env = env().await;
    let dynamodb = dynamodb_through_proxy(&mut env).await;
    let id = unique_name("lost-answer");
    let event = message_of(&env, &id, &[access_key_call(&id, "ci", "2026-11-30T10:00:00Z")]).await;
    dynamodb.set_fault(DynamoFault::LoseAnswerOf(
        "PutItem",
        format!("event/long-term-access-key/{id}"),
    ));
    assert!(invoke(&env, &event).await.is_empty());
    assert_eq!(dynamodb.failed_calls(), ["PutItem"], "one answer lost");
    assert_eq!(
        delivered_in_one_message(&env).await,
        BTreeSet::from([format!("long-term-access-key {id}")]),
        "the alert of the won claim"
    );
}

/// A counter's addition is written but its answer is lost: the SDK retries, and the retry
/// finds the call's own token on the counter, so the addition counts once; so does the
/// restart of an expired counter. Counted twice, a threshold would be crossed by events
/// that never happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_increment_whose_answer_was_lost_counts_once() {
    let mut env = env().await;
    let dynamodb = dynamodb_through_proxy(&mut env).await;
    let store = DynamoStore::new(env.clients.dynamodb.clone(), env.table.clone());
    let key = unique_name("count/lost-answer");
    let t0 = 1_800_000_000;
    let (proxy, counter) = (Arc::new(dynamodb), key.clone());
    let faults = Arc::clone(&proxy);
    let totals = tokio::task::spawn_blocking(move || {
        let first = store.increment(&counter, 2, t0, t0 + 900).unwrap();
        faults.set_fault(DynamoFault::LoseAnswerOf("UpdateItem", counter.clone()));
        let lost = store.increment(&counter, 3, t0 + 1, t0 + 900).unwrap();
        let read = store.increment(&counter, 0, t0 + 2, t0 + 900).unwrap();
        // Past its expiry the counter restarts (a PutItem), whose answer is lost too.
        faults.set_fault(DynamoFault::LoseAnswerOf("PutItem", counter.clone()));
        let restarted = store.increment(&counter, 4, t0 + 900, t0 + 1800).unwrap();
        let reread = store.increment(&counter, 0, t0 + 901, t0 + 1800).unwrap();
        (first, lost, read, restarted, reread)
    })
    .await
    .unwrap();
    assert_eq!(
        proxy.failed_calls(),
        ["UpdateItem", "PutItem"],
        "two answers lost"
    );
    assert_eq!(
        totals,
        (2, 5, 5, 4, 4),
        "each lost answer's addition counted once"
    );
}
