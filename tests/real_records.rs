//! Records written by nobody on this project (`../shared/reference/real-records/`):
//! they must parse, and the failures in them must come out with the right attribution.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fs::File;
use std::path::PathBuf;

use trailwatch::engine::FileStats;
use trailwatch::{Config, Engine, Finding, Inventory, Severity};

fn reference(name: &str) -> File {
    let dir = std::env::var_os("TRAILWATCH_REAL_RECORDS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/real-records")
        });
    let path = dir.join(name);
    File::open(&path).unwrap_or_else(|e| panic!("{}: {e} (set TRAILWATCH_REAL_RECORDS)", path.display()))
}

fn replay(config: &str, name: &str) -> (FileStats, Vec<Finding>) {
    let engine = Engine::new(Inventory::new(Config::from_toml(config).unwrap()).unwrap()).unwrap();
    let mut findings = Vec::new();
    let stats = engine
        .process(reference(name), &mut findings)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    (stats, findings)
}

fn ids<'a>(findings: &'a [Finding], detection: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.detection == detection).collect()
}

#[test]
fn every_record_parses() {
    let cases = [
        ("eks-pod-identity.records.json", 7),
        ("irsa-assume-accessdenied.record.json", 1),
        ("web-identity-success-and-cross-account.records.json", 3),
        ("imds-credential-exfiltration.ndjson", 103),
    ];
    for (name, records) in cases {
        let (stats, _) = replay("", name);
        assert_eq!(
            (stats.records, stats.bad_records),
            (records, 0),
            "{name}: {stats:?}"
        );
    }
}

/// CloudTrail's SNS notification, as an SQS-triggered reader receives it: no log, and the
/// report says what it is instead of "unknown object".
#[test]
fn an_sns_delivery_notification_says_what_it_is() {
    #[derive(Default)]
    struct Errors(Vec<String>);
    impl trailwatch::Sink for Errors {
        fn finding(&mut self, _: Finding) {}
        fn bad_record(&mut self, _: u64, error: &trailwatch::record::RecordError) {
            self.0.push(error.to_string());
        }
    }
    let engine = Engine::new(Inventory::new(Config::default()).unwrap()).unwrap();
    let mut errors = Errors::default();
    let stats = engine
        .process(
            reference("sns-cloudtrail-notification.sqs-body.json"),
            &mut errors,
        )
        .unwrap();
    assert_eq!((stats.records, stats.bad_records), (0, 1), "{stats:?}");
    assert_eq!(
        errors.0,
        [
            "CloudTrail's SNS notification of 2 log files in s3://my-test-bucket, not a CloudTrail \
          log: replay the log files it names"
        ]
    );
}

#[test]
fn irsa_access_denied_is_attributed() {
    let config = r#"
        [[clusters]]
        name = "sm-pipelines"
        account = "100000000002"
        oidc_provider = "oidc.eks.us-west-2.amazonaws.com/id/A8242F25BFBB8F98F5321B2AE63C8B5C"
    "#;
    let (_, findings) = replay(config, "irsa-assume-accessdenied.record.json");
    let [f] = ids(&findings, "irsa-assume-failure")[..] else {
        panic!("{findings:#?}")
    };
    assert_eq!(f.cluster.as_deref(), Some("sm-pipelines"));
    assert_eq!(f.namespace.as_deref(), Some("argo"));
    assert_eq!(f.service_account.as_deref(), Some("awf-aws-executor-plugin"));
    assert_eq!(
        f.role_arn.as_deref(),
        Some("arn:aws:iam::100000000002:role/sm-pipelines-k8s-awf-aws-executor-plugin")
    );
    assert_eq!(f.error_code.as_deref(), Some("AccessDenied"));
    assert_eq!(f.source_ip.as_deref(), Some("44.238.229.20"));
    assert_eq!(
        (f.account.as_deref(), f.region.as_deref()),
        (Some("100000000002"), Some("us-west-2"))
    );
    assert_eq!(f.event_ids, ["899f0a00-4e04-4fab-bb35-0297ed266f62"]);
    assert_eq!(f.severity, Severity::Medium);
    assert!(
        f.diagnosis
            .as_deref()
            .unwrap()
            .contains("system:serviceaccount:argo:awf-aws-executor-plugin")
    );
    assert_eq!(findings.len(), 1, "{findings:#?}");

    // Bound to another service account in config, the same failure is high.
    let bound = format!(
        "{config}\n[[bindings]]\ncluster = \"sm-pipelines\"\nnamespace = \"argo\"\nservice_account = \"other\"\n\
         role_arn = \"arn:aws:iam::100000000002:role/sm-pipelines-k8s-awf-aws-executor-plugin\"\n"
    );
    let (_, findings) = replay(&bound, "irsa-assume-accessdenied.record.json");
    assert_eq!(findings[0].severity, Severity::High);
}

#[test]
fn pod_identity_access_denied_is_attributed() {
    let (_, findings) = replay("", "eks-pod-identity.records.json");
    let failures = ids(&findings, "pod-identity-failure");
    let mut got: Vec<(&str, &str, &str)> = failures
        .iter()
        .map(|f| {
            (
                f.event_ids[0].as_str(),
                f.cluster.as_deref().unwrap(),
                f.error_code.as_deref().unwrap(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                "3d93c2b6-7baa-497d-a6f1-48288a2a8db3",
                "eks-ref-cluster1",
                "AccessDenied"
            ),
            (
                "d647586b-b713-46af-b7f9-512c7f5145dd",
                "eksworkshop-eksctl",
                "AccessDenied"
            ),
        ]
    );
    for f in failures {
        let advice = format!(
            "{} {}",
            f.diagnosis.as_deref().unwrap(),
            f.remediation.as_deref().unwrap()
        );
        assert!(
            advice.contains("pods.eks.amazonaws.com") && advice.contains("sts:TagSession"),
            "{advice}"
        );
        assert!(
            f.principal_arn.as_deref().unwrap().contains(":assumed-role/"),
            "{f:?}"
        );
    }
    assert_eq!(findings.len(), 2, "{findings:#?}");
}

#[test]
fn pod_identity_session_tags_name_the_workload() {
    // Bind the role the real record assumes to a different service account.
    let config = r#"
        [[clusters]]
        name = "eksworkshop-eksctl"
        [[bindings]]
        cluster = "eksworkshop-eksctl"
        namespace = "ns-a"
        service_account = "someone-else"
        role_arn = "arn:aws:iam::823571991546:role/eks-pod-s3-read-access-role"
    "#;
    let (_, findings) = replay(config, "eks-pod-identity.records.json");
    let unexpected = ids(&findings, "unexpected-web-identity-subject");
    assert!(!unexpected.is_empty(), "{findings:#?}");
    for f in unexpected {
        assert_eq!(f.cluster.as_deref(), Some("eksworkshop-eksctl"));
        assert_eq!(f.namespace.as_deref(), Some("ns-a"));
        assert_eq!(
            f.role_arn.as_deref(),
            Some("arn:aws:iam::823571991546:role/eks-pod-s3-read-access-role")
        );
    }
}

#[test]
fn github_web_identity_is_not_an_eks_finding() {
    let (_, findings) = replay("", "web-identity-success-and-cross-account.records.json");
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn otrf_imds_exfiltration_without_event_time() {
    // Without config: only IMDSv1, at low severity (not known to be a node).
    let (_, findings) = replay("", "imds-credential-exfiltration.ndjson");
    let v1 = ids(&findings, "imdsv1-credential-use");
    assert_eq!((v1.len(), findings.len()), (11, 11), "{findings:#?}");
    assert!(v1.iter().all(|f| f.severity == Severity::Low));
    // `@timestamp` stands in for the missing eventTime.
    assert!(v1.iter().all(|f| {
        f.first_seen
            .as_deref()
            .is_some_and(|t| t.starts_with("2020-09-14T"))
    }));

    // Declared as the node role of a cluster whose egress is elsewhere, the same calls are
    // exfiltration and misuse (S3 is no node API).
    let config = r#"
        [[clusters]]
        name = "mordor"
        node_roles = ["arn:aws:iam::123456789123:role/MordorNginxStack-BankingWAFRole-9S3E0UAE1MM0"]
        egress_cidrs = ["10.0.0.0/16", "3.3.3.3/32"]
    "#;
    let (_, findings) = replay(config, "imds-credential-exfiltration.ndjson");
    for (detection, n) in [
        ("imdsv1-credential-use", 11),
        ("node-role-misuse", 11),
        ("node-credential-exfiltration", 11),
    ] {
        let got = ids(&findings, detection);
        assert_eq!(got.len(), n, "{detection}: {findings:#?}");
        assert!(
            got.iter()
                .all(|f| f.cluster.as_deref() == Some("mordor") && f.source_ip.as_deref() == Some("1.2.3.4"))
        );
    }
    assert_eq!(findings.len(), 33);
}
