//! Stateful detections and the alert policy at their edges: window boundaries, N−1 vs
//! N, expiry, order, re-processing.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use trailwatch::state::{Counted, DistinctCount, MemoryStore, StateError, StateStore};
use trailwatch::{Config, Engine, Finding, Inventory};

const CONFIG: &str = r#"
trusted_accounts = ["111122223333", "444455556666"]
[[clusters]]
name = "prod"
account = "111122223333"
oidc_provider = "oidc.eks.ap-southeast-1.amazonaws.com/id/ABC"
node_roles = ["arn:aws:iam::111122223333:role/prod-node"]
egress_cidrs = ["52.1.2.3/32", "10.0.0.0/16"]
[[bindings]]
cluster = "prod"
namespace = "shop"
service_account = "orders"
role_arn = "arn:aws:iam::111122223333:role/orders"
[detections.first-seen-role-source]
learning_period = "1day"
[alerts.long-term-access-key]
threshold = 3
[alerts.imdsv1-credential-use]
min_severity = "medium"
"#;
const PROVIDER: &str = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.ap-southeast-1.amazonaws.com/id/ABC";
const ORDERS: &str = "arn:aws:iam::111122223333:role/orders";
const T0: i64 = 1_796_032_800; // 2026-11-30T10:00:00Z, on a 5- and 15-minute boundary

fn engine(config: &str) -> Engine {
    Engine::new(Inventory::new(Config::from_toml(config).unwrap()).unwrap()).unwrap()
}

fn at(t: i64) -> String {
    jiff::Timestamp::from_second(t).unwrap().to_string()
}

fn record(id: &str, t: i64, source: &str, name: &str, ip: &str, identity: Value) -> Value {
    json!({"eventVersion": "1.09", "eventTime": at(t), "eventSource": source, "eventName": name,
           "awsRegion": "ap-southeast-1", "sourceIPAddress": ip, "eventID": id, "eventType": "AwsApiCall",
           "recipientAccountId": "111122223333", "userIdentity": identity})
}

fn irsa_exchange(id: &str, t: i64, key: &str, error: Option<&str>) -> Value {
    let subject = "system:serviceaccount:shop:orders";
    let mut r = record(
        id,
        t,
        "sts.amazonaws.com",
        "AssumeRoleWithWebIdentity",
        "10.0.1.1",
        json!({"type": "WebIdentityUser", "userName": subject, "identityProvider": PROVIDER}),
    );
    r["requestParameters"] = json!({"roleArn": ORDERS, "roleSessionName": "s", "durationSeconds": 3600});
    match error {
        Some(code) => r["errorCode"] = json!(code),
        None => {
            r["responseElements"] = json!({"credentials": {"accessKeyId": key, "sessionToken": "x",
            "expiration": "Nov 30, 2026, 11:00:00 AM"}, "subjectFromWebIdentityToken": subject})
        }
    }
    r
}

/// `record` without its eventID, as a hand-made or converted file may have it.
fn unnamed(mut record: Value) -> Value {
    record.as_object_mut().unwrap().remove("eventID");
    record
}

/// `exchange` with its credentials expiring at `t`.
fn expiring(mut exchange: Value, t: i64) -> Value {
    exchange["responseElements"]["credentials"]["expiration"] = json!(at(t));
    exchange
}

fn workload_call(id: &str, t: i64, key: &str, ip: &str) -> Value {
    record(
        id,
        t,
        "s3.amazonaws.com",
        "GetObject",
        ip,
        json!({"type": "AssumedRole",
        "arn": "arn:aws:sts::111122223333:assumed-role/orders/botocore-1", "accessKeyId": key,
        "sessionContext": {"sessionIssuer": {"arn": ORDERS}}}),
    )
}

/// `call` made into the sts:GetCallerIdentity that EKS sends (with its own HTTP client,
/// not an AWS SDK) to check a cluster token presigned with the call's credentials.
fn eks_token_check(mut call: Value) -> Value {
    call["eventSource"] = json!("sts.amazonaws.com");
    call["eventName"] = json!("GetCallerIdentity");
    call["userAgent"] = json!("Go-http-client/1.1");
    call
}

fn node_call(id: &str, t: i64, name: &str, ip: &str) -> Value {
    let source = if name == "GetSecretValue" {
        "secretsmanager.amazonaws.com"
    } else {
        "ec2.amazonaws.com"
    };
    record(
        id,
        t,
        source,
        name,
        ip,
        json!({"type": "AssumedRole",
        "arn": "arn:aws:sts::111122223333:assumed-role/prod-node/i-0abc", "accessKeyId": "ASIANODE",
        "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/prod-node"},
                           "ec2RoleDelivery": "2.0"}}),
    )
}

fn denied(id: &str, t: i64) -> Value {
    let mut r = record(
        id,
        t,
        "iam.amazonaws.com",
        "ListUsers",
        "10.0.1.9",
        json!({"type": "AssumedRole",
        "arn": "arn:aws:sts::111122223333:assumed-role/prober/x", "accessKeyId": "ASIAPROBE",
        "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/prober"}}}),
    );
    r["errorCode"] = json!("AccessDenied");
    r
}

/// [`denied`] for another principal, `prober-b`.
fn prober_b(id: &str, t: i64) -> Value {
    let mut r = denied(id, t);
    r["userIdentity"]["arn"] = json!("arn:aws:sts::111122223333:assumed-role/prober-b/x");
    r
}

/// Replays `records` as one file, then returns `detection eventID` of the alerts.
fn run(engine: &Engine, store: &dyn StateStore, records: &[Value]) -> Vec<String> {
    let input = serde_json::to_vec(&json!({ "Records": records })).unwrap();
    let mut findings: Vec<Finding> = Vec::new();
    engine
        .process_with_state(&input[..], store, &mut findings)
        .unwrap();
    let mut batch = engine.policy().batch();
    for f in findings {
        batch.add(f, store).unwrap();
    }
    let mut out: Vec<String> = batch
        .finish(store)
        .unwrap()
        .into_iter()
        .flat_map(|a| {
            a.finding
                .event_ids
                .into_iter()
                .map(move |id| format!("{} {id}", a.finding.detection))
        })
        .collect();
    out.sort();
    out
}

fn only(detection: &str, got: Vec<String>) -> Vec<String> {
    got.into_iter()
        .filter(|l| l.starts_with(&format!("{detection} ")))
        .collect()
}

#[test]
fn credential_stitching_edges() {
    let e = engine(CONFIG);
    let cases: Vec<(&str, Vec<Value>, Vec<&str>)> = vec![
        (
            "outside use",
            vec![
                irsa_exchange("x", T0, "ASIAK1", None),
                workload_call("u", T0 + 60, "ASIAK1", "198.51.100.9"),
            ],
            vec!["workload-credential-exfiltration u"],
        ),
        (
            "inside use",
            vec![
                irsa_exchange("x", T0, "ASIAK1", None),
                workload_call("u", T0 + 60, "ASIAK1", "52.1.2.3"),
            ],
            vec![],
        ),
        (
            "use at expiry",
            vec![
                irsa_exchange("x", T0, "ASIAK1", None),
                workload_call("u", T0 + 3600, "ASIAK1", "198.51.100.9"),
            ],
            vec![],
        ),
        (
            "use a second before expiry",
            vec![
                irsa_exchange("x", T0, "ASIAK1", None),
                workload_call("u", T0 + 3599, "ASIAK1", "198.51.100.9"),
            ],
            vec!["workload-credential-exfiltration u"],
        ),
        (
            "use before exchange in the file",
            vec![
                workload_call("u", T0 + 60, "ASIAK1", "198.51.100.9"),
                irsa_exchange("x", T0, "ASIAK1", None),
            ],
            vec!["workload-credential-exfiltration u"],
        ),
        (
            "unknown key",
            vec![workload_call("u", T0, "ASIAK9", "198.51.100.9")],
            vec![],
        ),
        (
            "cluster token checked by EKS, from its address",
            vec![
                irsa_exchange("x", T0, "ASIAK1", None),
                eks_token_check(workload_call("u", T0 + 60, "ASIAK1", "198.51.100.9")),
            ],
            vec![],
        ),
        (
            "the caller's own GetCallerIdentity, with the CLI",
            vec![irsa_exchange("x", T0, "ASIAK1", None), {
                let mut r = eks_token_check(workload_call("u", T0 + 60, "ASIAK1", "198.51.100.9"));
                r["userAgent"] = json!("aws-cli/2.22.7 md/awscrt#0.22.0 ua/2.0 os/macos#24.1.0");
                r
            }],
            vec!["workload-credential-exfiltration u"],
        ),
        (
            "cluster token check before the exchange",
            vec![
                eks_token_check(workload_call("u", T0 + 60, "ASIAK1", "198.51.100.9")),
                irsa_exchange("x", T0, "ASIAK1", None),
            ],
            vec![],
        ),
    ];
    for (name, records, want) in cases {
        let got = only(
            "workload-credential-exfiltration",
            run(&e, &MemoryStore::new(), &records),
        );
        assert_eq!(got, want, "{name}");
    }
    // Uses before their exchange, with more waiting store work between them than one
    // batch holds: the first use is settled in an earlier batch than its exchange.
    let mut records = vec![workload_call("u", T0 + 60, "ASIAK1", "198.51.100.9")];
    records.extend(
        (0..1500).map(|i| workload_call(&format!("n{i}"), T0 + 60, &format!("ASIAN{i}"), "198.51.100.9")),
    );
    records.push(irsa_exchange("x", T0, "ASIAK1", None));
    records.push(irsa_exchange("y", T0, "ASIAN5", None));
    records.push(irsa_exchange("z", T0, "ASIAN1499", None));
    assert_eq!(
        only(
            "workload-credential-exfiltration",
            run(&e, &MemoryStore::new(), &records)
        ),
        [
            "workload-credential-exfiltration n1499",
            "workload-credential-exfiltration n5",
            "workload-credential-exfiltration u"
        ],
        "uses settled across batches"
    );
    // Across files (runs) on one store, in either order.
    let store = MemoryStore::new();
    assert!(run(&e, &store, &[irsa_exchange("x", T0, "ASIAK1", None)]).is_empty());
    assert_eq!(
        run(
            &e,
            &store,
            &[workload_call("u", T0 + 900, "ASIAK1", "198.51.100.9")]
        ),
        ["workload-credential-exfiltration u"]
    );
    let store = MemoryStore::new();
    assert!(
        run(
            &e,
            &store,
            &[workload_call("u", T0 + 60, "ASIAK2", "198.51.100.9")]
        )
        .is_empty()
    );
    assert_eq!(
        only(
            "workload-credential-exfiltration",
            run(&e, &store, &[irsa_exchange("x", T0, "ASIAK2", None)])
        ),
        ["workload-credential-exfiltration u"]
    );
}

/// A workload's credentials assuming another role (role chaining: an SDK profile with
/// `role_arn`, a hub role): the chained session's keys are the workload's, for that role,
/// and their use outside the cluster is exfiltration. Before, they were nobody's.
#[test]
fn role_chained_credentials_stay_the_workloads() {
    let e = engine(CONFIG);
    let writer = "arn:aws:iam::444455556666:role/orders-data-writer";
    let mut chain = workload_call("c", T0 + 30, "ASIAIRSA", "52.1.2.3");
    chain["eventSource"] = json!("sts.amazonaws.com");
    chain["eventName"] = json!("AssumeRole");
    chain["requestParameters"] = json!({"roleArn": writer, "roleSessionName": "orders"});
    chain["responseElements"] = json!({"credentials": {"accessKeyId": "ASIACHAINED", "sessionToken": "x",
        "expiration": "Nov 30, 2026, 11:00:00 AM"}});
    let mut findings: Vec<Finding> = Vec::new();
    let input = serde_json::to_vec(&json!({"Records": [
        irsa_exchange("x", T0, "ASIAIRSA", None),
        chain,
        workload_call("u", T0 + 60, "ASIACHAINED", "198.51.100.7"),
    ]}))
    .unwrap();
    e.process_with_state(&input[..], &MemoryStore::new(), &mut findings)
        .unwrap();
    let f: Vec<(&str, Option<&str>, Option<&str>)> = findings
        .iter()
        .filter(|f| f.detection == "workload-credential-exfiltration")
        .map(|f| {
            (
                f.event_ids[0].as_str(),
                f.role_arn.as_deref(),
                f.service_account.as_deref(),
            )
        })
        .collect();
    assert_eq!(f, [("u", Some(writer), Some("orders"))]);
}

/// IRSA credentials used through a VPC endpoint that is not one of the cluster's
/// (`vpc_endpoints`): exfiltration from another VPC, though the address is private.
#[test]
fn workload_credentials_through_another_vpc_endpoint_are_exfiltration() {
    let e = engine(&CONFIG.replace(
        "egress_cidrs = [\"52.1.2.3/32\", \"10.0.0.0/16\"]\n",
        "egress_cidrs = [\"52.1.2.3/32\", \"10.0.0.0/16\"]\nvpc_endpoints = [\"vpce-0home\"]\n",
    ));
    let through = |id: &str, vpce: &str| {
        let mut call = workload_call(id, T0 + 60, "ASIAW", "172.31.9.9");
        call["vpcEndpointId"] = json!(vpce);
        call
    };
    let got = run(
        &e,
        &MemoryStore::new(),
        &[
            irsa_exchange("x", T0, "ASIAW", None),
            through("home", "vpce-0home"),
            through("away", "vpce-0attacker"),
        ],
    );
    assert_eq!(
        only("workload-credential-exfiltration", got),
        ["workload-credential-exfiltration away"]
    );
}

/// A Pod Identity exchange of EKS for cluster `cluster_arn` (its session tags), issuing
/// `key` to shop/orders.
fn pod_identity_exchange(id: &str, t: i64, key: &str, cluster_arn: &str) -> Value {
    let name = cluster_arn.rsplit('/').next().unwrap();
    let mut r = record(
        id,
        t,
        "sts.amazonaws.com",
        "AssumeRole",
        "pods.eks.amazonaws.com",
        json!({"type": "AWSService", "invokedBy": "pods.eks.amazonaws.com"}),
    );
    r["requestParameters"] = json!({"roleArn": ORDERS, "roleSessionName": "eks-prod-orders", "tags": [
        {"key": "eks-cluster-arn", "value": cluster_arn}, {"key": "eks-cluster-name", "value": name},
        {"key": "kubernetes-namespace", "value": "shop"}, {"key": "kubernetes-service-account", "value": "orders"},
        {"key": "kubernetes-pod-name", "value": "orders-1"}]});
    r["responseElements"] = json!({"credentials": {"accessKeyId": key, "sessionToken": "x",
        "expiration": "Nov 30, 2026, 4:00:00 PM"}});
    r
}

/// Cluster names are unique only within an account and region: a cluster named like the
/// configured one but placed elsewhere by its `eks-cluster-arn` tag (or, at eks-auth, by
/// the call's region) is not judged by the configured one's egress ranges, nor named as
/// it. Before, its every call from its own NAT was a critical exfiltration.
#[test]
fn a_same_named_cluster_elsewhere_is_not_the_configured_one() {
    let e = engine(&CONFIG.replace(
        "account = \"111122223333\"\n",
        "account = \"111122223333\"\nregion = \"ap-southeast-1\"\n",
    ));
    let here = "arn:aws:eks:ap-southeast-1:111122223333:cluster/prod";
    let elsewhere = "arn:aws:eks:us-east-1:111122223333:cluster/prod";
    let outside = "3.80.10.20";
    let got = run(
        &e,
        &MemoryStore::new(),
        &[
            pod_identity_exchange("x1", T0, "ASIAHERE", here),
            workload_call("u1", T0 + 60, "ASIAHERE", outside),
            pod_identity_exchange("x2", T0, "ASIATHERE", elsewhere),
            workload_call("u2", T0 + 60, "ASIATHERE", outside),
        ],
    );
    assert_eq!(
        only("workload-credential-exfiltration", got),
        ["workload-credential-exfiltration u1"]
    );

    // eks-auth names clusters of the call's own region.
    let eks_auth = |id: &str, region: &str| {
        let mut r = node_call(id, T0, "AssumeRoleForPodIdentity", "10.0.1.5");
        r["eventSource"] = json!("eks-auth.amazonaws.com");
        r["awsRegion"] = json!(region);
        r["errorCode"] = json!("AccessDeniedException");
        r["requestParameters"] = json!({"clusterName": "prod", "token": "HIDDEN_DUE_TO_SECURITY_REASONS"});
        // Signed with the configured cluster's node role (IAM roles are global): the
        // name the call gives still decides.
        r
    };
    let mut findings: Vec<Finding> = Vec::new();
    let input = serde_json::to_vec(
        &json!({"Records": [eks_auth("a1", "ap-southeast-1"), eks_auth("a2", "us-east-1")]}),
    )
    .unwrap();
    e.process_with_state(&input[..], &MemoryStore::new(), &mut findings)
        .unwrap();
    let clusters: Vec<(&str, Option<&str>)> = findings
        .iter()
        .filter(|f| f.detection == "pod-identity-failure")
        .map(|f| (f.event_ids[0].as_str(), f.cluster.as_deref()))
        .collect();
    assert_eq!(clusters, [("a1", Some("prod")), ("a2", Some("prod (us-east-1)"))]);
}

#[test]
fn stitched_calls_name_the_workload() {
    let e = engine(CONFIG);
    let mut change = record(
        "c",
        T0 + 60,
        "iam.amazonaws.com",
        "CreateAccessKey",
        "10.0.1.1",
        json!({"type": "AssumedRole",
        "arn": "arn:aws:sts::111122223333:assumed-role/orders/botocore-1", "accessKeyId": "ASIAK1"}),
    );
    change["requestParameters"] = json!({"userName": "backdoor"});
    let input =
        serde_json::to_vec(&json!({"Records": [irsa_exchange("x", T0, "ASIAK1", None), change]})).unwrap();
    let mut findings: Vec<Finding> = Vec::new();
    e.process_with_state(&input[..], &MemoryStore::new(), &mut findings)
        .unwrap();
    let f = findings
        .iter()
        .find(|f| f.detection == "identity-config-change")
        .unwrap();
    assert_eq!(
        (
            f.namespace.as_deref(),
            f.service_account.as_deref(),
            f.cluster.as_deref()
        ),
        (Some("shop"), Some("orders"), Some("prod"))
    );
}

#[test]
fn sdk_fallback_window_edges() {
    // 203.0.113.0/24: a public subnet, whose nodes have addresses of their own.
    let e = engine(&CONFIG.replace("\"52.1.2.3/32\", ", "\"52.1.2.3/32\", \"203.0.113.0/24\", "));
    let fail = |t| irsa_exchange("f", t, "", Some("AccessDenied"));
    let ip = "10.0.1.1";
    let from = |mut r: Value, ip: &str| {
        r["sourceIPAddress"] = json!(ip);
        r
    };
    // The node's Pod Identity agent failing an exchange at eks-auth.
    let eks_auth_failure = |t, code: &str| {
        let mut r = node_call("f", t, "AssumeRoleForPodIdentity", ip);
        r["eventSource"] = json!("eks-auth.amazonaws.com");
        r["errorCode"] = json!(code);
        r["requestParameters"] = json!({"clusterName": "prod"});
        r
    };
    let cases: Vec<(&str, Vec<Value>, Vec<&str>)> = vec![
        (
            "business call within window",
            vec![fail(T0), node_call("n", T0 + 120, "GetSecretValue", ip)],
            vec!["sdk-credential-fallback n"],
        ),
        (
            "at the window's end",
            vec![fail(T0), node_call("n", T0 + 300, "GetSecretValue", ip)],
            vec!["sdk-credential-fallback n"],
        ),
        (
            "a second after",
            vec![fail(T0), node_call("n", T0 + 301, "GetSecretValue", ip)],
            vec![],
        ),
        (
            "before the failure",
            vec![node_call("n", T0 - 1, "GetSecretValue", ip), fail(T0)],
            vec![],
        ),
        (
            "processed before the failure",
            vec![node_call("n", T0 + 10, "GetSecretValue", ip), fail(T0)],
            vec!["sdk-credential-fallback n"],
        ),
        (
            "allowlisted node call",
            vec![fail(T0), node_call("n", T0 + 10, "DescribeInstances", ip)],
            vec![],
        ),
        (
            "other address",
            vec![fail(T0), node_call("n", T0 + 10, "GetSecretValue", "10.0.1.2")],
            vec![],
        ),
        (
            "through the cluster's NAT gateway, which its nodes share",
            vec![
                from(fail(T0), "52.1.2.3"),
                node_call("n", T0 + 10, "GetSecretValue", "52.1.2.3"),
            ],
            vec![],
        ),
        (
            "from a node's own public address, in a listed public subnet",
            vec![
                from(fail(T0), "203.0.113.9"),
                node_call("n", T0 + 10, "GetSecretValue", "203.0.113.9"),
            ],
            vec!["sdk-credential-fallback n"],
        ),
        (
            "an expired token at eks-auth (the agent renewing for a pod that has gone)",
            vec![
                eks_auth_failure(T0, "ExpiredTokenException"),
                node_call("n", T0 + 10, "GetSecretValue", ip),
            ],
            vec![],
        ),
        (
            "another failure at eks-auth",
            vec![
                eks_auth_failure(T0, "AccessDeniedException"),
                node_call("n", T0 + 10, "GetSecretValue", ip),
            ],
            vec!["sdk-credential-fallback n"],
        ),
    ];
    for (name, records, want) in cases {
        let got = only("sdk-credential-fallback", run(&e, &MemoryStore::new(), &records));
        assert_eq!(got, want, "{name}");
        // Each record in a file of its own: the second finds the first in the store.
        let store = MemoryStore::new();
        let mut got: Vec<String> = records
            .iter()
            .flat_map(|r| {
                only(
                    "sdk-credential-fallback",
                    run(&e, &store, std::slice::from_ref(r)),
                )
            })
            .collect();
        got.sort();
        assert_eq!(got, want, "{name}, one file each");
    }
}

#[test]
fn sdk_fallback_remembers_the_live_failure_and_call() {
    let e = engine(CONFIG);
    let fail = |id: &str, t| irsa_exchange(id, t, "", Some("AccessDenied"));
    let ip = "10.0.1.1";
    // A second failure while the first is live replaces it: the window runs from the
    // latest, so a call 250 s after the second (350 s after the first) is a fallback, in
    // one file and when the call comes in a file of its own (the store's failure is
    // written over), and one 350 s after the second is not.
    for (called_at, want) in [(T0 + 350, vec!["sdk-credential-fallback n"]), (T0 + 450, vec![])] {
        let failures = [fail("f1", T0), fail("f2", T0 + 100)];
        let call = node_call("n", called_at, "GetSecretValue", ip);
        let mut records = failures.to_vec();
        records.push(call.clone());
        let got = only("sdk-credential-fallback", run(&e, &MemoryStore::new(), &records));
        assert_eq!(got, want, "one file, call at T0+{}", called_at - T0);
        for split in [1, 2] {
            let store = MemoryStore::new();
            run(&e, &store, &failures[..split]);
            run(&e, &store, &failures[split..]);
            let got = only(
                "sdk-credential-fallback",
                run(&e, &store, std::slice::from_ref(&call)),
            );
            assert_eq!(
                got,
                want,
                "failures split after {split}, call at T0+{}",
                called_at - T0
            );
        }
    }
    // An older failure processed later does not move the window back.
    let records = [
        fail("f2", T0 + 100),
        fail("f1", T0),
        node_call("n", T0 + 350, "GetSecretValue", ip),
    ];
    assert_eq!(
        only("sdk-credential-fallback", run(&e, &MemoryStore::new(), &records)),
        ["sdk-credential-fallback n"]
    );
    // Once the first has expired, the next failure is remembered.
    let records = [
        fail("f1", T0),
        fail("f2", T0 + 400),
        node_call("n", T0 + 500, "GetSecretValue", ip),
    ];
    assert_eq!(
        only("sdk-credential-fallback", run(&e, &MemoryStore::new(), &records)),
        ["sdk-credential-fallback n"]
    );
    // Likewise calls, across files: an address holds one call, the latest that came
    // after the one before had expired. A failure processed later finds it when it falls
    // in the failure's window (not the replaced one before it).
    let calls = [
        node_call("n1", T0 + 10, "GetSecretValue", ip),
        node_call("n2", T0 + 400, "GetSecretValue", ip),
    ];
    for (failed_at, want) in [(T0 + 350, vec!["sdk-credential-fallback n2"]), (T0, vec![])] {
        let store = MemoryStore::new();
        run(&e, &store, &calls);
        let got = only(
            "sdk-credential-fallback",
            run(&e, &store, &[fail("f", failed_at)]),
        );
        assert_eq!(got, want, "failure at T0+{}", failed_at - T0);
    }
    let store = MemoryStore::new();
    run(&e, &store, &calls[..1]);
    let got = only("sdk-credential-fallback", run(&e, &store, &[fail("f", T0)]));
    assert_eq!(got, ["sdk-credential-fallback n1"]);
}

/// Fallbacks wait for their batch: what decides them must still be there when it
/// settles, however many records and how much event time come between.
#[test]
fn sdk_fallback_holds_across_batches() {
    let config = CONFIG.replace(
        "[detections.first-seen-role-source]\nlearning_period = \"1day\"",
        "[detections.first-seen-role-source]\nenabled = false\n[detections.workload-credential-exfiltration]\nenabled = false",
    );
    assert_ne!(config, CONFIG);
    let e = engine(&config);
    let ip = "10.0.1.1";
    let fail = |id: &str, t| irsa_exchange(id, t, "", Some("AccessDenied"));
    let other = |i: usize| format!("10.0.{}.{}", 2 + i / 250, i % 250 + 1);
    // The failure settles with a full batch of other addresses' calls; thousands of
    // entries later (the memory store sweeps what has long expired) its call comes, and
    // then records 20 minutes on.
    let mut records = vec![fail("f", T0)];
    records.extend((0..511).map(|i| node_call(&format!("o{i}"), T0 + 1, "GetSecretValue", &other(i))));
    records.extend((0..3000).map(|i| irsa_exchange(&format!("x{i}"), T0 + 2, &format!("ASIAX{i}"), None)));
    records.push(node_call("c", T0 + 200, "GetSecretValue", ip));
    records.push(workload_call("w", T0 + 1300, "ASIAUNKNOWN", ip));
    records.extend((0..700).map(|i| irsa_exchange(&format!("y{i}"), T0 + 1300, &format!("ASIAY{i}"), None)));
    let got = only("sdk-credential-fallback", run(&e, &MemoryStore::new(), &records));
    assert_eq!(got, ["sdk-credential-fallback c"], "after a sweep");
    // Past the per-input cache's limit between two calls of an address, the later one
    // is still remembered once the earlier has expired.
    let mut records = vec![node_call("c1", T0, "GetSecretValue", ip)];
    records.extend((0..8300).map(|i| workload_call(&format!("w{i}"), T0 + 1, &format!("ASIAF{i}"), ip)));
    records.push(node_call("c2", T0 + 700, "GetSecretValue", ip));
    let store = MemoryStore::new();
    run(&e, &store, &records);
    let got = only("sdk-credential-fallback", run(&e, &store, &[fail("f", T0 + 650)]));
    assert_eq!(got, ["sdk-credential-fallback c2"], "after the cache starts over");
}

/// Waiting work settles early only for a store that removes expired entries soon (the
/// memory store): records that jump back and forth in event time then settle it often,
/// a store that keeps entries (DynamoDB, redb within a file) only when a batch is full.
#[test]
fn only_a_store_with_a_read_grace_settles_by_event_time() {
    let e = engine(CONFIG);
    let records: Vec<Value> = (0..1000)
        .map(|i| denied(&format!("d{i}"), T0 + 400 * (i % 2)))
        .collect();
    let settles = |grace| {
        let store = FailOnce::new("never", grace);
        let got = only("access-denied-burst", run(&e, &store, &records));
        assert_eq!(got.len(), 2, "one burst in each window: {got:?}");
        store.counts.load(Ordering::Relaxed)
    };
    // Four counters (the two windows and the two half a window later), counted at each
    // settle.
    assert!(settles(None) <= 2 * 4, "by size: {}", settles(None));
    assert!(settles(Some(900)) > 100, "by event time: {}", settles(Some(900)));
}

/// A record's workload names its own findings, not those of the records before it in
/// the same document (`Records` after another key makes the engine parse the document
/// whole), nor those a settle brings.
#[test]
fn a_workload_names_only_its_own_records_findings() {
    let e = engine(CONFIG);
    let mut records: Vec<Value> = (0..30).map(|i| denied(&format!("d{i:02}"), T0 + i)).collect();
    records.push(irsa_exchange("x", T0 + 400, "ASIAORDERS1", None));
    records.push(workload_call("u", T0 + 401, "ASIAORDERS1", "10.0.1.1"));
    let streamed = serde_json::to_vec(&json!({ "Records": records })).unwrap();
    let whole = serde_json::to_vec(&json!({ "A": 1, "Records": records })).unwrap();
    let names = |input: &[u8]| {
        let mut findings: Vec<Finding> = Vec::new();
        e.process_with_state(input, &MemoryStore::new(), &mut findings)
            .unwrap();
        let mut named: Vec<String> = findings
            .iter()
            .map(|f| {
                format!(
                    "{} {:?} {:?} {:?}",
                    f.detection, f.namespace, f.service_account, f.cluster
                )
            })
            .collect();
        named.sort();
        named
    };
    let got = names(&streamed);
    assert!(
        got.iter().any(|f| f.starts_with("access-denied-burst None None")),
        "the burst is the prober's: {got:?}"
    );
    assert_eq!(names(&whole), got);
}

#[test]
fn access_denied_burst_edges() {
    let e = engine(CONFIG);
    let burst = |n: i64, start: i64, step: i64| -> Vec<Value> {
        (0..n)
            .map(|i| denied(&format!("d{i:02}"), start + i * step))
            .collect()
    };
    let mut duplicated = burst(9, T0, 1);
    duplicated.push(denied("d08", T0 + 20));
    let cases: Vec<(&str, Vec<Value>, Vec<&str>)> = vec![
        (
            "ten in a window",
            burst(10, T0, 1),
            vec!["access-denied-burst d09"],
        ),
        ("nine", burst(9, T0, 1), vec![]),
        (
            "twenty fire once",
            burst(20, T0, 1),
            vec!["access-denied-burst d09"],
        ),
        (
            "split by an aligned boundary: whole in the window half a window later",
            burst(12, T0 + 300 - 6, 1),
            vec!["access-denied-burst d09"],
        ),
        (
            "whole in two overlapping windows fires once",
            burst(12, T0 + 200, 1),
            vec!["access-denied-burst d09"],
        ),
        (
            "split, then crossing the aligned window too: one burst",
            burst(20, T0 + 300 - 5, 1),
            vec!["access-denied-burst d09"],
        ),
        ("ten over more than a window", burst(10, T0, 40), vec![]),
        ("a duplicate counts once", duplicated, vec![]),
        (
            "failed web-identity exchanges of another provider (CI's OIDC) are counted",
            (0..10)
                .map(|i| {
                    let mut r = irsa_exchange(&format!("g{i:02}"), T0 + i, "", Some("AccessDenied"));
                    let subject = "repo:example/app:ref:refs/heads/main";
                    r["userIdentity"]["userName"] = json!(subject);
                    r["userIdentity"]["identityProvider"] =
                        json!("arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com");
                    r["userIdentity"]["principalId"] = json!(format!(
                        "token.actions.githubusercontent.com:sts.amazonaws.com:{subject}"
                    ));
                    r
                })
                .collect(),
            vec!["access-denied-burst g09"],
        ),
        (
            "a pod retrying a failed exchange is not probing (irsa-assume-failure says so)",
            (0..12)
                .map(|i| {
                    let mut r = irsa_exchange(&format!("x{i:02}"), T0 + i, "", Some("AccessDenied"));
                    // As real records name it: the provider, audience and subject.
                    r["userIdentity"]["principalId"] = json!(format!(
                        "{PROVIDER}:sts.amazonaws.com:system:serviceaccount:shop:orders"
                    ));
                    r
                })
                .collect(),
            vec![],
        ),
    ];
    for (name, records, want) in cases {
        let got = only("access-denied-burst", run(&e, &MemoryStore::new(), &records));
        assert_eq!(got, want, "{name}");
    }
    // Five now and five in the next run, same window: the burst spans runs.
    let store = MemoryStore::new();
    let records = burst(10, T0, 1);
    assert!(only("access-denied-burst", run(&e, &store, &records[..5])).is_empty());
    assert_eq!(
        only("access-denied-burst", run(&e, &store, &records[5..])),
        ["access-denied-burst d09"]
    );
    // A burst split by an aligned boundary, found in the window half a window later, and
    // more denials in the next run that fill the aligned window: still one burst.
    let store = MemoryStore::new();
    assert_eq!(
        only(
            "access-denied-burst",
            run(&e, &store, &burst(12, T0 + 300 - 6, 1))
        ),
        ["access-denied-burst d09"]
    );
    let more: Vec<Value> = (0..10)
        .map(|i| denied(&format!("m{i:02}"), T0 + 310 + i))
        .collect();
    assert!(only("access-denied-burst", run(&e, &store, &more)).is_empty());
    // Another ten in a later window are another burst (past the alert's 15-minute window).
    let later: Vec<Value> = (0..10)
        .map(|i| denied(&format!("n{i:02}"), T0 + 920 + i))
        .collect();
    assert_eq!(
        only("access-denied-burst", run(&e, &store, &later)),
        ["access-denied-burst n09"]
    );
    // A settle that fails while counting loses no count: the first principal's denials
    // were counted, the second's were not, and the redelivery counts only the second's;
    // the failed run alerted nothing, and the redelivery finds the first burst again at
    // the denial that crossed it.
    // (The second's burst is whole only in its aligned window, whose count fails: the
    // windows half a window later split it 5 and 5.)
    let store = FailOnce::new("prober-b", MemoryStore::new().read_grace());
    let mut two = burst(10, T0, 1);
    two.extend((0..10).map(|i| prober_b(&format!("b{i:02}"), T0 + 145 + i)));
    let input = serde_json::to_vec(&json!({ "Records": two })).unwrap();
    let mut findings = Vec::new();
    assert!(e.process_with_state(&input[..], &store, &mut findings).is_err());
    let first: Vec<String> = findings.iter().map(|f| f.detection.to_string()).collect();
    assert_eq!(
        first,
        ["access-denied-burst"],
        "the counted principal's burst is found"
    );
    assert_eq!(
        only("access-denied-burst", run(&e, &store, &two)),
        ["access-denied-burst b09", "access-denied-burst d09"],
        "the redelivery finds the burst whose count failed, and the one counted"
    );
    assert!(
        only("access-denied-burst", run(&e, &store, &two)).is_empty(),
        "alerted once"
    );
    // A burst whole in both its windows, one of whose counts fails: the other window
    // finds it in the same settle, and the redelivery finds it once, in one window.
    let store = FailOnce::new("prober-b", MemoryStore::new().read_grace());
    let both: Vec<Value> = (0..10).map(|i| prober_b(&format!("b{i:02}"), T0 + i)).collect();
    let input = serde_json::to_vec(&json!({ "Records": both })).unwrap();
    let mut findings = Vec::new();
    assert!(e.process_with_state(&input[..], &store, &mut findings).is_err());
    let first: Vec<String> = findings.iter().map(|f| f.detection.to_string()).collect();
    assert_eq!(first, ["access-denied-burst"], "found by the window that counted");
    assert_eq!(
        only("access-denied-burst", run(&e, &store, &both)),
        ["access-denied-burst b09"]
    );
    assert!(only("access-denied-burst", run(&e, &store, &both)).is_empty());
    // Event ids too long to keep are counted by their hash: distinct ones count, and a
    // redelivery adds nothing.
    let long: Vec<Value> = (0..10)
        .map(|i| denied(&format!("{i:02}{}", "x".repeat(100)), T0 + i))
        .collect();
    let store = MemoryStore::new();
    assert_eq!(
        only("access-denied-burst", run(&e, &store, &long[..9])),
        Vec::<String>::new()
    );
    assert!(only("access-denied-burst", run(&e, &store, &long[..9])).is_empty());
    assert_eq!(
        only("access-denied-burst", run(&e, &store, &long[9..])),
        [format!("access-denied-burst 09{}", "x".repeat(100))],
        "long ids: nine, nine again, then the tenth"
    );
    // A file delivered twice counts once.
    let store = MemoryStore::new();
    let records = burst(9, T0, 1);
    assert!(only("access-denied-burst", run(&e, &store, &records)).is_empty());
    assert!(
        only("access-denied-burst", run(&e, &store, &records)).is_empty(),
        "a redelivered file adds nothing"
    );
}

#[test]
fn cross_account_assumes() {
    let e = engine(CONFIG);
    let assume = |id: &str, caller: Value, target: &str| {
        let mut r = record(id, T0, "sts.amazonaws.com", "AssumeRole", "10.0.1.1", caller);
        r["requestParameters"] = json!({"roleArn": target, "roleSessionName": "x"});
        r
    };
    let workload = json!({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/orders/s",
        "accountId": "111122223333", "sessionContext": {"sessionIssuer": {"arn": ORDERS}}});
    let admin = json!({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/Admin/a",
        "accountId": "111122223333", "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/Admin"}}});
    let node = node_call("n", T0, "x", "10.0.1.1")["userIdentity"].clone();
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "workload into untrusted",
            assume("a", workload.clone(), "arn:aws:iam::999988887777:role/x"),
            vec!["unexpected-cross-account-assume a"],
        ),
        (
            "workload into trusted",
            assume("b", workload.clone(), "arn:aws:iam::444455556666:role/x"),
            vec![],
        ),
        (
            "workload into own account",
            assume("c", workload, "arn:aws:iam::111122223333:role/x"),
            vec![],
        ),
        (
            "node into untrusted",
            assume("d", node, "arn:aws:iam::999988887777:role/x"),
            vec!["unexpected-cross-account-assume d"],
        ),
        (
            "admin into untrusted",
            assume("e", admin, "arn:aws:iam::999988887777:role/x"),
            vec![],
        ),
    ];
    for (name, r, want) in cases {
        let got = only(
            "unexpected-cross-account-assume",
            run(&e, &MemoryStore::new(), &[r]),
        );
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn first_seen_after_learning_only() {
    let e = engine(CONFIG);
    let store = MemoryStore::new();
    let day = 86_400;
    // Learning: everything is new, nothing fires. 172.20.0.0/16 is a peered VPC, outside
    // the cluster's ranges; 10.0.0.0/16 is the cluster's.
    let learned = [
        workload_call("l1", T0, "ASIAW", "172.20.5.1"),
        workload_call("l2", T0 + 60, "ASIAW", "172.20.6.1"),
        workload_call("l3", T0 + 90, "ASIAW", "10.0.5.1"),
    ];
    assert!(only("first-seen-role-source", run(&e, &store, &learned)).is_empty());
    // A day later: a known /24 is quiet, a new /24 fires once, and another subnet of the
    // cluster is the cluster's network, known.
    let later = [
        workload_call("k", T0 + day, "ASIAW", "172.20.5.77"),
        workload_call("c", T0 + day, "ASIAW", "10.0.77.8"),
        workload_call("n", T0 + day, "ASIAW", "172.20.9.1"),
        workload_call("n2", T0 + day + 5, "ASIAW", "172.20.9.2"),
        // EKS checking the role's cluster token, from EKS's address: not the role's network.
        eks_token_check(workload_call("t", T0 + day + 10, "ASIAW", "198.51.100.9")),
    ];
    assert_eq!(
        only("first-seen-role-source", run(&e, &store, &later)),
        ["first-seen-role-source n"]
    );
}

/// What stays in use is never forgotten: a network or service used every day, and the
/// baseline of a role in use, outlive the retention (their entries are refreshed as they
/// age), so neither fires again as new nor does learning start over. What goes unused for
/// the retention is learned again. One input a day, as files arrive; a record older
/// than the baseline (an archived file, or one late in a day's input) moves its start
/// back without shortening its life.
#[test]
fn first_seen_remembers_what_stays_in_use() {
    let e = engine(CONFIG); // learning 1 day, retention 30 days (the default)
    let day = 86_400;
    let dir = tempfile::tempdir().unwrap();
    for store in [
        Box::new(MemoryStore::new()) as Box<dyn StateStore>,
        Box::new(trailwatch::state::RedbStore::open(dir.path()).unwrap()),
    ] {
        let mut fired = Vec::new();
        for d in 0..=70 {
            let t = T0 + d * day;
            let mut calls = vec![workload_call(&format!("a{d}"), t, "ASIAW", "172.20.5.1")];
            if d >= 5 {
                // Another network, in use every day from day 5 on.
                calls.push(workload_call(&format!("b{d}"), t + 60, "ASIAW", "172.20.6.1"));
            }
            if d == 30 || d == 65 {
                // A network used on day 30, then not for 35 days.
                calls.push(workload_call(&format!("c{d}"), t + 120, "ASIAW", "172.20.9.1"));
            }
            if d == 41 || d == 51 {
                // New networks, after the old records below.
                calls.push(workload_call(
                    &format!("n{d}"),
                    t + 180,
                    "ASIAW",
                    &format!("172.20.{d}.1"),
                ));
            }
            if d == 50 {
                // A record from before the baseline at the end of the day's input.
                calls.push(workload_call("late", T0 - day, "ASIAW", "172.20.5.1"));
            }
            fired.extend(only("first-seen-role-source", run(&e, store.as_ref(), &calls)));
            if d == 40 {
                // An archived file from before the baseline, after the day's input.
                let old = [workload_call("archived", T0 - 2 * day, "ASIAW", "172.20.5.1")];
                fired.extend(only("first-seen-role-source", run(&e, store.as_ref(), &old)));
            }
        }
        assert_eq!(
            fired,
            [
                "first-seen-role-source b5",
                "first-seen-role-source c30",
                "first-seen-role-source n41",
                "first-seen-role-source n51",
                "first-seen-role-source c65"
            ]
        );
    }
}

/// A run stopped after the detections wrote their state and before its alerts were
/// claimed (a Lambda timeout, a crash, a message given up at the deadline) leaves markers
/// and counts that say "seen": the input's redelivery must find what they stand for
/// again, every stateful detection included, and alert as the first run would have.
#[test]
fn a_redelivery_finds_again_what_a_stopped_run_marked() {
    let e = engine(CONFIG);
    let day = 86_400;
    let t = T0 + day;
    let learned = [workload_call("l1", T0, "ASIAW", "172.20.5.1")];
    let mut input = vec![
        // first-seen-role-source: a new network after the learning day.
        workload_call("n", t, "ASIAW", "172.20.9.1"),
        // workload-credential-exfiltration, the use after its exchange and before it.
        expiring(irsa_exchange("x", t, "ASIAK1", None), t + 3600),
        workload_call("u", t + 60, "ASIAK1", "198.51.100.9"),
        workload_call("v", t + 70, "ASIAK2", "198.51.100.9"),
        expiring(irsa_exchange("y", t + 80, "ASIAK2", None), t + 3600),
        // sdk-credential-fallback.
        irsa_exchange("f", t + 100, "", Some("AccessDenied")),
        node_call("c", t + 120, "GetSecretValue", "10.0.1.1"),
    ];
    // access-denied-burst.
    input.extend((0..10).map(|i| denied(&format!("d{i:02}"), t + 200 + i)));
    // first-seen-role-source of a record without an eventID.
    input.push(unnamed(workload_call("", t + 300, "ASIAW", "172.20.7.1")));
    let whole = MemoryStore::new();
    run(&e, &whole, &learned);
    let want = run(&e, &whole, &input);
    for detection in [
        "first-seen-role-source",
        "workload-credential-exfiltration",
        "sdk-credential-fallback",
        "access-denied-burst",
    ] {
        assert!(
            want.iter().any(|a| a.starts_with(detection)),
            "{detection} fires on the whole run: {want:?}"
        );
    }
    assert!(
        want.iter().any(|a| a.starts_with("first-seen-role-source ~")),
        "a record without an eventID fires: {want:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    for store in [
        Box::new(MemoryStore::new()) as Box<dyn StateStore>,
        Box::new(trailwatch::state::RedbStore::open(dir.path()).unwrap()),
    ] {
        run(&e, store.as_ref(), &learned);
        let bytes = serde_json::to_vec(&json!({ "Records": input })).unwrap();
        let mut stopped = Vec::new();
        e.process_with_state(&bytes[..], store.as_ref(), &mut stopped)
            .unwrap();
        assert_eq!(run(&e, store.as_ref(), &input), want);
        assert!(
            run(&e, store.as_ref(), &input).is_empty(),
            "a third delivery alerts nothing"
        );
    }
}

/// A use that refreshes a marker another event wrote did not write it: its redelivery
/// finds the network as known as the first delivery did.
#[test]
fn a_redelivered_refresh_is_not_new() {
    let e = engine(CONFIG);
    let day = 86_400;
    let store = MemoryStore::new();
    run(&e, &store, &[workload_call("l1", T0, "ASIAW", "172.20.5.1")]);
    // Two days on, a day after the marker was written: this use refreshes it.
    let again = [workload_call("r", T0 + 2 * day, "ASIAW", "172.20.5.1")];
    assert!(run(&e, &store, &again).is_empty());
    assert!(run(&e, &store, &again).is_empty(), "the redelivery finds it new");
    // What it guards against is there: a new network is found.
    let new = [workload_call("n", T0 + 2 * day, "ASIAW", "172.20.9.1")];
    assert!(run(&e, &store, &new)[0].starts_with("first-seen-role-source"));
}

/// A record without an eventID (a hand-made or converted file) alerts, once however often
/// it is processed; one that differs from it is another event.
#[test]
fn records_without_an_event_id_alert_once() {
    let e = engine(CONFIG);
    let call = |t: i64| unnamed(node_call("x", t, "GetSecretValue", "10.0.1.1"));
    let store = MemoryStore::new();
    let got = run(&e, &store, &[call(T0), call(T0), call(T0 + 1)]);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|a| a.starts_with("node-role-misuse ~")), "{got:?}");
    assert!(run(&e, &store, &[call(T0)]).is_empty(), "processed again");
}

/// Denials without an eventID count once however often their input is delivered, and
/// each counts: ten of them in the window are a burst.
#[test]
fn denials_without_an_event_id_count_once() {
    let e = engine(CONFIG);
    let store = MemoryStore::new();
    let six: Vec<Value> = (0..6).map(|i| unnamed(denied("x", T0 + i))).collect();
    assert!(run(&e, &store, &six).is_empty());
    assert!(
        run(&e, &store, &six).is_empty(),
        "the redelivery counts them again"
    );
    let four: Vec<Value> = (6..10).map(|i| unnamed(denied("x", T0 + i))).collect();
    let got = run(&e, &store, &four);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("access-denied-burst ~"), "{got:?}");
}

#[test]
fn alert_policy_dedups_thresholds_floors_and_reprocessing() {
    let e = engine(CONFIG);
    let akia = |id: &str, t: i64| {
        record(
            id,
            t,
            "s3.amazonaws.com",
            "ListBuckets",
            "198.51.100.7",
            json!({"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/dev", "accessKeyId": "AKIAEXAMPLE"}),
        )
    };
    // threshold 3 for long-term-access-key: two events are not enough, three are.
    assert!(run(&e, &MemoryStore::new(), &[akia("a", T0), akia("b", T0 + 1)]).is_empty());
    let store = MemoryStore::new();
    let three = [akia("a", T0), akia("b", T0 + 1), akia("c", T0 + 2)];
    assert_eq!(
        run(&e, &store, &three),
        [
            "long-term-access-key a",
            "long-term-access-key b",
            "long-term-access-key c"
        ]
    );
    // The same file again: nothing; a fourth event in the same window: nothing either.
    assert!(run(&e, &store, &three).is_empty());
    assert!(run(&e, &store, &[akia("d", T0 + 3)]).is_empty());
    // The next window starts over (threshold again).
    let next = [akia("e", T0 + 900), akia("f", T0 + 901), akia("g", T0 + 902)];
    assert_eq!(run(&e, &store, &next).len(), 3);

    // One alert per key and window, with count and bounds.
    let mut findings: Vec<Finding> = Vec::new();
    let fails: Vec<Value> = (0..25)
        .map(|i| irsa_exchange(&format!("f{i}"), T0 + i, "", Some("AccessDenied")))
        .collect();
    let input = serde_json::to_vec(&json!({"Records": fails})).unwrap();
    let store = MemoryStore::new();
    e.process_with_state(&input[..], &store, &mut findings).unwrap();
    let mut batch = e.policy().batch();
    for f in findings {
        batch.add(f, &store).unwrap();
    }
    let alerts = batch.finish(&store).unwrap();
    let a = &alerts
        .iter()
        .find(|a| a.finding.detection == "irsa-assume-failure")
        .unwrap()
        .finding;
    assert_eq!(
        (a.count, a.event_ids.len()),
        (25, 20),
        "count all, list at most 20 ids"
    );
    assert_eq!(
        (a.first_seen.clone(), a.last_seen.clone()),
        (Some(at(T0)), Some(at(T0 + 24)))
    );

    // Past one batch of event claims, every finding given twice: each event counts once,
    // and the same file again alerts nothing.
    let fails: Vec<Value> = (0..600)
        .map(|i| irsa_exchange(&format!("g{i}"), T0 + i % 60, "", Some("AccessDenied")))
        .collect();
    let input = serde_json::to_vec(&json!({"Records": fails})).unwrap();
    let store = MemoryStore::new();
    let alerts = |store: &MemoryStore| {
        let mut findings: Vec<Finding> = Vec::new();
        e.process_with_state(&input[..], store, &mut findings).unwrap();
        let mut batch = e.policy().batch();
        for f in findings.iter().chain(&findings) {
            batch.add(f.clone(), store).unwrap();
        }
        batch.finish(store).unwrap()
    };
    let first = alerts(&store);
    let counts: Vec<u64> = first.iter().map(|a| a.finding.count).collect();
    assert_eq!(counts, [600], "each event once");
    let again = alerts(&store);
    assert!(again.is_empty(), "a reprocessed file alerts nothing");

    // min_severity: IMDSv1 by an unlisted instance role is low, below the medium floor.
    let bastion = record(
        "v",
        T0,
        "s3.amazonaws.com",
        "ListBuckets",
        "10.9.0.1",
        json!({"type": "AssumedRole",
        "arn": "arn:aws:sts::111122223333:assumed-role/bastion/i-0def", "sessionContext": {
        "sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/bastion"}, "ec2RoleDelivery": "1.0"}}),
    );
    assert!(run(&e, &MemoryStore::new(), std::slice::from_ref(&bastion)).is_empty());
    assert_eq!(
        run(&engine(""), &MemoryStore::new(), &[bastion]),
        ["imdsv1-credential-use v"]
    );
}

/// A caller who makes thousands of findings of one kind costs the store the claims of the
/// first events of its alert, not one claim per event; the same file again alerts nothing
/// and counts nothing new, also once the alert's own claim is gone; another caller's
/// alert claims its own events; and under a threshold rule every event is claimed.
#[test]
fn an_alert_claims_its_first_events_and_covers_the_rest() {
    let akia = |user: &str, id: String, t: i64| {
        record(
            &id,
            t,
            "s3.amazonaws.com",
            "ListBuckets",
            "198.51.100.7",
            json!({"type": "IAMUser", "arn": format!("arn:aws:iam::111122223333:user/{user}"),
                "accessKeyId": "AKIAEXAMPLE"}),
        )
    };
    // Interleaved, so both keys run past one batch of event claims.
    let records: Vec<Value> = (0..3000)
        .map(|i| match i % 3 {
            0 => akia("other", format!("o{i}"), T0 + i % 60),
            _ => akia("flood", format!("f{i}"), T0 + i % 60),
        })
        .collect();
    let input = serde_json::to_vec(&json!({"Records": records})).unwrap();
    let run = |e: &Engine, store: &MemoryStore| {
        let mut findings: Vec<Finding> = Vec::new();
        e.process_with_state(&input[..], store, &mut findings).unwrap();
        let mut batch = e.policy().batch();
        for f in findings {
            batch.add(f, store).unwrap();
        }
        let alerts = batch.finish(store).unwrap();
        (alerts, batch.fresh().map(|(_, n)| n).sum::<u64>())
    };
    let claimed = |store: &MemoryStore| {
        (0..3000)
            .filter(|i| {
                let user = if i % 3 == 0 { "o" } else { "f" };
                let key = format!("event/long-term-access-key/{user}{i}");
                store.get(&key, T0 + 60).unwrap().is_some()
            })
            .count()
    };

    let e = engine("");
    let store = MemoryStore::new();
    let (alerts, fresh) = run(&e, &store);
    let mut seen: Vec<(String, u64, usize)> = alerts
        .iter()
        .map(|a| {
            let f = &a.finding;
            (
                f.principal_arn.clone().unwrap_or_default(),
                f.count,
                f.event_ids.len(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("arn:aws:iam::111122223333:user/flood".to_string(), 2000, 20),
            ("arn:aws:iam::111122223333:user/other".to_string(), 1000, 20)
        ]
    );
    assert_eq!(fresh, 3000);
    assert_eq!(claimed(&store), 40, "twenty per alert");
    // The alerts' own claims gone (their window over), the same file again is dropped by
    // its events' claims alone.
    for a in &alerts {
        store.put(&a.claim, b"", i64::MIN).unwrap();
    }
    let (again, fresh) = run(&e, &store);
    assert!(
        again.is_empty() && fresh == 0,
        "{} alerts, {fresh} new findings",
        again.len()
    );

    // long-term-access-key with threshold 3: every event claimed, counted once.
    let e = engine(CONFIG);
    let store = MemoryStore::new();
    assert_eq!(run(&e, &store).0.len(), 2);
    assert_eq!(claimed(&store), 3000);
}

/// Folded without claims, as the ingest function gathers a message's findings, a flood of
/// one kind waits as its first twenty findings whole and a count of the rest, and alerts,
/// counts and claims what claiming along the way does; an event given twice counts once.
/// Under a threshold rule every finding waits whole for its claim.
#[test]
fn a_folded_flood_waits_as_twenty_findings_and_a_count() {
    let akia = |user: &str, id: String, t: i64| {
        record(
            &id,
            t,
            "s3.amazonaws.com",
            "GetObject",
            "198.51.100.7",
            json!({"type": "IAMUser", "arn": format!("arn:aws:iam::111122223333:user/{user}"),
                "accessKeyId": "AKIAEXAMPLE"}),
        )
    };
    let mut records: Vec<Value> = (0..3000)
        .map(|i| match i % 3 {
            0 => akia("other", format!("o{i}"), T0 + i % 60),
            _ => akia("flood", format!("f{i}"), T0 + i % 60),
        })
        .collect();
    // A tenth of the file again, later in it.
    records.extend(records[1000..1300].to_vec());
    let input = serde_json::to_vec(&json!({"Records": records})).unwrap();
    let by_principal = |mut alerts: Vec<trailwatch::alert::Alert>| {
        alerts.sort_by(|a, b| a.finding.principal_arn.cmp(&b.finding.principal_arn));
        alerts.into_iter().map(|a| a.finding).collect::<Vec<Finding>>()
    };
    let folded = |e: &Engine, store: &MemoryStore| {
        let mut batch = e.policy().batch();
        e.process_with_state(&input[..], store, &mut batch).unwrap();
        let waiting = batch.waiting();
        let alerts = by_principal(batch.finish(store).unwrap());
        let fresh: u64 = batch.fresh().map(|(_, n)| n).sum();
        (waiting, alerts, fresh, batch.suppressed())
    };
    let added = |e: &Engine, store: &MemoryStore| {
        let mut findings: Vec<Finding> = Vec::new();
        e.process_with_state(&input[..], store, &mut findings).unwrap();
        let mut batch = e.policy().batch();
        for f in findings {
            batch.add(f, store).unwrap();
        }
        by_principal(batch.finish(store).unwrap())
    };

    let e = engine("");
    let store = MemoryStore::new();
    let (waiting, alerts, fresh, suppressed) = folded(&e, &store);
    assert_eq!(waiting, 40, "twenty findings of each key whole");
    let seen: Vec<(Option<String>, u64, usize)> = alerts
        .iter()
        .map(|f| (f.principal_arn.clone(), f.count, f.event_ids.len()))
        .collect();
    let user = |name: &str| Some(format!("arn:aws:iam::111122223333:user/{name}"));
    assert_eq!(seen, [(user("flood"), 2000, 20), (user("other"), 1000, 20)]);
    assert_eq!(
        (alerts[0].first_seen.clone(), alerts[0].last_seen.clone()),
        (Some(at(T0 + 1)), Some(at(T0 + 59))),
        "the flood's first and last event"
    );
    assert_eq!((fresh, suppressed), (3000, 300), "each event once");
    assert_eq!(alerts, added(&e, &MemoryStore::new()), "as claimed along the way");
    let (_, again, fresh, _) = folded(&e, &store);
    assert!(again.is_empty() && fresh == 0, "the same file again");

    // long-term-access-key with threshold 3: every distinct event claimed.
    let e = engine(CONFIG);
    let (waiting, alerts, _, _) = folded(&e, &MemoryStore::new());
    assert_eq!((waiting, alerts.len()), (3000, 2));
}

/// Alerts come in the order of their first new finding, folded or claimed along the way:
/// a key whose first finding was alerted before comes after one whose first is new.
#[test]
fn alerts_come_in_the_order_of_their_first_new_finding() {
    let akia = |user: &str, id: &str, t: i64| {
        record(
            id,
            t,
            "s3.amazonaws.com",
            "ListBuckets",
            "198.51.100.7",
            json!({"type": "IAMUser", "arn": format!("arn:aws:iam::111122223333:user/{user}"),
                "accessKeyId": "AKIAEXAMPLE"}),
        )
    };
    let records = [
        akia("a", "e1", T0),
        akia("b", "e2", T0 + 1),
        akia("a", "e3", T0 + 2),
    ];
    let input = serde_json::to_vec(&json!({ "Records": records })).unwrap();
    let e = engine("");
    for fold in [false, true] {
        let store = MemoryStore::new();
        // e1 was alerted on before.
        store
            .put("event/long-term-access-key/e1", b"", T0 + 86_400)
            .unwrap();
        let mut findings: Vec<Finding> = Vec::new();
        e.process_with_state(&input[..], &store, &mut findings).unwrap();
        let mut batch = e.policy().batch();
        for f in findings {
            if fold {
                batch.fold(f);
            } else {
                batch.add(f, &store).unwrap();
            }
        }
        let got: Vec<(String, Vec<String>)> = batch
            .finish(&store)
            .unwrap()
            .into_iter()
            .map(|a| (a.finding.principal_arn.unwrap_or_default(), a.finding.event_ids))
            .collect();
        let user = |name: &str| format!("arn:aws:iam::111122223333:user/{name}");
        assert_eq!(
            got,
            [
                (user("b"), vec!["e2".to_string()]),
                (user("a"), vec!["e3".to_string()])
            ],
            "fold: {fold}"
        );
    }
}

#[test]
fn alert_config_errors_name_the_key() {
    let cases = [
        (
            "[alerts.no-such-detection]\nthreshold = 2",
            "alerts.no-such-detection",
        ),
        (
            "[alerts.irsa-assume-failure]\nthreshold = 0",
            "alerts.irsa-assume-failure",
        ),
        ("[alerts.irsa-assume-failure]\ndedup_by = [\"colour\"]", "colour"),
        (
            "[detections.access-denied-burst]\nthreshold = 0",
            "detections.access-denied-burst",
        ),
        (
            "[detections.sdk-credential-fallback]\nwindow = \"soon\"",
            "window",
        ),
    ];
    for (text, key) in cases {
        let err = Config::from_toml(text)
            .and_then(Inventory::new)
            .and_then(Engine::new)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(key), "{text:?}: {err:?}");
    }
}

#[test]
fn released_alerts_alert_again() {
    let e = engine("");
    let store = MemoryStore::new();
    let r = record(
        "k",
        T0,
        "s3.amazonaws.com",
        "ListBuckets",
        "198.51.100.7",
        json!({"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/dev", "accessKeyId": "AKIAEXAMPLE"}),
    );
    let input = serde_json::to_vec(&json!({"Records": [r]})).unwrap();
    let alerts = |store: &MemoryStore| {
        let mut findings: Vec<Finding> = Vec::new();
        e.process_with_state(&input[..], store, &mut findings).unwrap();
        let mut batch = e.policy().batch();
        for f in findings {
            batch.add(f, store).unwrap();
        }
        batch.finish(store).unwrap()
    };
    let first = alerts(&store);
    assert_eq!(first.len(), 1);
    assert!(alerts(&store).is_empty(), "claimed: a redelivery does not alert");
    // Delivery failed: give the claims back, and the redelivery alerts.
    e.policy().release(&first[0], &store).unwrap();
    assert_eq!(alerts(&store).len(), 1);
}

/// IMDSv1 on a node group is one alert per role and window, listing its nodes' events:
/// not one per node.
#[test]
fn imdsv1_alerts_once_per_role_not_per_node() {
    let e = engine(CONFIG);
    let on = |id: &str, instance: &str| {
        let mut r = node_call(id, T0, "DescribeInstances", "10.0.1.1");
        r["userIdentity"]["arn"] = json!(format!(
            "arn:aws:sts::111122223333:assumed-role/prod-node/{instance}"
        ));
        r["userIdentity"]["sessionContext"]["ec2RoleDelivery"] = json!("1.0");
        r
    };
    let input =
        serde_json::to_vec(&json!({"Records": [on("a", "i-0a"), on("b", "i-0b"), on("c", "i-0c")]})).unwrap();
    let store = MemoryStore::new();
    let mut findings: Vec<Finding> = Vec::new();
    e.process_with_state(&input[..], &store, &mut findings).unwrap();
    let mut batch = e.policy().batch();
    for f in findings {
        batch.add(f, &store).unwrap();
    }
    let alerts: Vec<Vec<String>> = batch
        .finish(&store)
        .unwrap()
        .into_iter()
        .filter(|a| a.finding.detection == "imdsv1-credential-use")
        .map(|a| a.finding.event_ids)
        .collect();
    assert_eq!(alerts, [["a", "b", "c"]]);
}

/// The store fails while a batch claims its alerts, after it claimed their events: the
/// batch gives the event claims up (and the alert claims, which may have landed), so
/// processing the input again alerts. Kept, they would make every event "already sent".
#[test]
fn a_batch_the_store_stopped_gives_its_claims_up() {
    let e = engine("");
    let store = FailOnce::claims("alert/");
    let call = |id: &str, user: &str| {
        let identity = json!({"type": "IAMUser", "arn": format!("arn:aws:iam::111122223333:user/{user}"),
                              "accessKeyId": "AKIAEXAMPLE"});
        record(
            id,
            T0,
            "s3.amazonaws.com",
            "ListBuckets",
            "198.51.100.7",
            identity,
        )
    };
    let input = serde_json::to_vec(&json!({"Records": [call("a", "dev"), call("b", "ops")]})).unwrap();
    let alerts = || {
        let mut findings: Vec<Finding> = Vec::new();
        e.process_with_state(&input[..], &store, &mut findings).unwrap();
        let mut batch = e.policy().batch();
        for f in findings {
            batch.add(f, &store).unwrap();
        }
        batch.finish(&store)
    };
    assert!(alerts().is_err(), "the first alert claim fails");
    let again = alerts().unwrap();
    let mut ids: Vec<&str> = again
        .iter()
        .flat_map(|a| &a.finding.event_ids)
        .map(String::as_str)
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["a", "b"], "both alert when the input comes again");
}

/// A memory store whose first distinct count (or, made by [`FailOnce::claims`], first
/// conditional write) of a key with `fail_on` in it fails, which counts its distinct
/// counts, and with a read grace of its own.
struct FailOnce {
    store: MemoryStore,
    fail_on: &'static str,
    /// Conditional writes fail, not distinct counts.
    claims: bool,
    failed: AtomicBool,
    counts: AtomicU64,
    grace: Option<i64>,
}

impl FailOnce {
    fn new(fail_on: &'static str, grace: Option<i64>) -> Self {
        Self {
            store: MemoryStore::new(),
            fail_on,
            claims: false,
            failed: AtomicBool::new(false),
            counts: AtomicU64::new(0),
            grace,
        }
    }

    /// A store whose first conditional write of a key with `fail_on` in it fails.
    fn claims(fail_on: &'static str) -> Self {
        Self {
            claims: true,
            ..Self::new(fail_on, MemoryStore::new().read_grace())
        }
    }

    /// Whether the call on `key` is the one to fail (`claim`: a conditional write).
    fn fails(&self, key: &str, claim: bool) -> bool {
        claim == self.claims && key.contains(self.fail_on) && !self.failed.swap(true, Ordering::Relaxed)
    }
}

impl StateStore for FailOnce {
    fn read_grace(&self) -> Option<i64> {
        self.grace
    }
    fn get(&self, key: &str, now: i64) -> Result<Option<Vec<u8>>, StateError> {
        self.store.get(key, now)
    }
    fn put(&self, key: &str, value: &[u8], expires: i64) -> Result<(), StateError> {
        self.store.put(key, value, expires)
    }
    fn put_if_absent(&self, key: &str, value: &[u8], now: i64, expires: i64) -> Result<bool, StateError> {
        if self.fails(key, true) {
            return Err(StateError::backend("put_if_absent", "injected"));
        }
        self.store.put_if_absent(key, value, now, expires)
    }
    fn increment(&self, key: &str, by: u64, now: i64, expires: i64) -> Result<u64, StateError> {
        self.store.increment(key, by, now, expires)
    }
    fn count_distinct(&self, ask: &DistinctCount<'_>) -> Result<Counted, StateError> {
        self.counts.fetch_add(1, Ordering::Relaxed);
        if self.fails(&ask.key, false) {
            return Err(StateError::backend("count_distinct", "injected"));
        }
        self.store.count_distinct(ask)
    }
}
