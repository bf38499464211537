//! Table-driven tests of every stateless detection, one record per case.

use serde_json::{Value, json};

use crate::config::{Config, Inventory};
use crate::finding::{Finding, Severity};
use crate::record::{Parser, RecordView};

use super::*;

const CONFIG: &str = r#"
[[clusters]]
name = "prod"
account = "111122223333"
region = "ap-southeast-1"
oidc_provider = "oidc.eks.ap-southeast-1.amazonaws.com/id/ABC"
node_roles = ["arn:aws:iam::111122223333:role/prod-node"]
egress_cidrs = ["52.1.2.3/32", "10.0.0.0/16"]

[[bindings]]
cluster = "prod"
namespace = "shop"
service_account = "orders"
role_arn = "arn:aws:iam::111122223333:role/orders"

[detections.long-term-access-key]
allow_principals = ["arn:aws:iam::111122223333:user/ci"]
"#;

const PROVIDER: &str = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.ap-southeast-1.amazonaws.com/id/ABC";
const ORDERS: &str = "arn:aws:iam::111122223333:role/orders";

fn findings(config: &str, record: &Value) -> Vec<Finding> {
    let inventory = Inventory::new(Config::from_toml(config).unwrap()).unwrap();
    let detectors = Detectors::new(inventory).unwrap();
    let mut bytes = serde_json::to_vec(record).unwrap();
    let mut out = Vec::new();
    Parser::default()
        .parse(&mut bytes, |v| {
            detectors.run(&RecordView::from_value(v).unwrap(), &mut out)
        })
        .unwrap();
    out
}

fn base(source: &str, name: &str) -> Value {
    json!({"eventVersion": "1.09", "eventTime": "2026-11-30T10:00:00Z", "eventSource": source,
           "eventName": name, "awsRegion": "ap-southeast-1", "sourceIPAddress": "10.0.3.4",
           "eventID": "e-1", "eventType": "AwsApiCall", "recipientAccountId": "111122223333"})
}

fn web_identity(subject: &str, role: &str, error: Option<&str>) -> Value {
    let mut r = base("sts.amazonaws.com", "AssumeRoleWithWebIdentity");
    r["userIdentity"] = json!({"type": "WebIdentityUser", "userName": subject, "identityProvider": PROVIDER,
                               "principalId": format!("{PROVIDER}:sts.amazonaws.com:{subject}")});
    r["requestParameters"] = json!({"roleArn": role, "roleSessionName": "s"});
    match error {
        Some(code) => {
            r["errorCode"] = json!(code);
            r["responseElements"] = Value::Null;
        }
        None => {
            r["responseElements"] = json!({"credentials": {"accessKeyId": "ASIAEXAMPLE", "sessionToken": "t"},
                                           "subjectFromWebIdentityToken": subject});
        }
    }
    r
}

fn node_call(source: &str, name: &str, ip: &str, delivery: &str) -> Value {
    let mut r = base(source, name);
    r["sourceIPAddress"] = json!(ip);
    r["userIdentity"] = json!({"type": "AssumedRole", "principalId": "AROAX:i-0abc123",
        "arn": "arn:aws:sts::111122223333:assumed-role/prod-node/i-0abc123", "accountId": "111122223333",
        "accessKeyId": "ASIANODE", "sessionContext": {"sessionIssuer": {"type": "Role",
        "arn": "arn:aws:iam::111122223333:role/prod-node"}, "ec2RoleDelivery": delivery}});
    r
}

fn pod_identity_assume(ns: &str, sa: &str, role: &str, error: Option<&str>) -> Value {
    let mut r = base("sts.amazonaws.com", "AssumeRole");
    r["sourceIPAddress"] = json!("pods.eks.amazonaws.com");
    r["userIdentity"] = json!({"type": "AWSService", "invokedBy": "pods.eks.amazonaws.com"});
    r["requestParameters"] = json!({"roleArn": role, "roleSessionName": "eks-prod-x", "tags": [
        {"key": "eks-cluster-name", "value": "prod"}, {"key": "kubernetes-namespace", "value": ns},
        {"key": "kubernetes-service-account", "value": sa}, {"key": "kubernetes-pod-name", "value": "p"}]});
    if let Some(code) = error {
        r["errorCode"] = json!(code);
    }
    r
}

fn admin(mut r: Value, params: Value) -> Value {
    r["userIdentity"] = json!({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/Admin/alice",
        "accessKeyId": "ASIAADMIN", "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/Admin"}}});
    r["requestParameters"] = params;
    r
}

fn with(mut r: Value, key: &str, value: Value) -> Value {
    r[key] = value;
    r
}

#[test]
fn each_detection_fires_on_its_events_only() {
    let eks_auth_fail = with(
        with(
            node_call(
                "eks-auth.amazonaws.com",
                "AssumeRoleForPodIdentity",
                "10.0.3.4",
                "2.0",
            ),
            "errorCode",
            json!("AccessDeniedException"),
        ),
        "requestParameters",
        json!({"clusterName": "prod", "token": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
    );
    let akia = with(
        base("s3.amazonaws.com", "ListBuckets"),
        "userIdentity",
        json!({"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/dev", "accessKeyId": "AKIAEXAMPLE"}),
    );
    let akia_ci = with(
        akia.clone(),
        "userIdentity",
        json!({"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/ci", "accessKeyId": "AKIAEXAMPLE"}),
    );
    let bastion = with(
        node_call("s3.amazonaws.com", "ListBuckets", "10.9.0.1", "1.0"),
        "userIdentity",
        json!({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/bastion/i-0def456",
               "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/bastion"},
               "ec2RoleDelivery": "1.0"}}),
    );
    let ssm_host = with(
        bastion.clone(),
        "userIdentity",
        json!({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/aws:ec2-instance/i-0def456",
               "sessionContext": {"ec2RoleDelivery": "1.0"}}),
    );
    let github = with(
        web_identity("repo:org/app:ref:refs/heads/main", ORDERS, Some("AccessDenied")),
        "userIdentity",
        json!({"type": "WebIdentityUser", "userName": "repo:org/app:ref:refs/heads/main",
               "identityProvider": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}),
    );
    let iam = |name: &str, params: Value| admin(base("iam.amazonaws.com", name), params);
    let eks = |name: &str, params: Value| admin(base("eks.amazonaws.com", name), params);

    use Severity::*;
    type Case<'a> = (&'a str, Value, Vec<(&'a str, Severity)>);
    let cases: Vec<Case> = vec![
        (
            "irsa bound subject denied",
            web_identity("system:serviceaccount:shop:orders", ORDERS, Some("AccessDenied")),
            vec![(IRSA_ASSUME_FAILURE, Medium)],
        ),
        (
            "irsa unbound subject denied",
            web_identity("system:serviceaccount:shop:debug", ORDERS, Some("AccessDenied")),
            vec![(IRSA_ASSUME_FAILURE, High)],
        ),
        (
            "irsa invalid token",
            web_identity(
                "system:serviceaccount:shop:orders",
                ORDERS,
                Some("InvalidIdentityToken"),
            ),
            vec![(IRSA_ASSUME_FAILURE, Medium)],
        ),
        (
            "irsa success bound",
            web_identity("system:serviceaccount:shop:orders", ORDERS, None),
            vec![],
        ),
        (
            "irsa success unbound",
            web_identity("system:serviceaccount:default:x", ORDERS, None),
            vec![(UNEXPECTED_WEB_IDENTITY_SUBJECT, High)],
        ),
        (
            // The bound name, but a token of an issuer no configured cluster has.
            "irsa success bound name from another issuer",
            with(
                web_identity("system:serviceaccount:shop:orders", ORDERS, None),
                "userIdentity",
                json!({"type": "WebIdentityUser", "userName": "system:serviceaccount:shop:orders",
                       "identityProvider": PROVIDER.replace("/id/ABC", "/id/ROGUE")}),
            ),
            vec![(UNEXPECTED_WEB_IDENTITY_SUBJECT, High)],
        ),
        (
            "irsa success unconfigured role",
            web_identity(
                "system:serviceaccount:default:x",
                "arn:aws:iam::111122223333:role/other",
                None,
            ),
            vec![],
        ),
        ("github oidc failure", github, vec![]),
        (
            "eks-auth denied",
            eks_auth_fail,
            vec![(POD_IDENTITY_FAILURE, Medium)],
        ),
        (
            "pod identity sts denied",
            pod_identity_assume("shop", "orders", ORDERS, Some("AccessDenied")),
            vec![(POD_IDENTITY_FAILURE, Medium)],
        ),
        (
            "pod identity success bound",
            pod_identity_assume("shop", "orders", ORDERS, None),
            vec![],
        ),
        (
            "pod identity success bound name in another cluster",
            {
                let mut r = pod_identity_assume("shop", "orders", ORDERS, None);
                r["requestParameters"]["tags"][0]["value"] = json!("staging");
                r
            },
            vec![(UNEXPECTED_WEB_IDENTITY_SUBJECT, High)],
        ),
        (
            "pod identity success unbound",
            pod_identity_assume("shop", "cart", ORDERS, None),
            vec![(UNEXPECTED_WEB_IDENTITY_SUBJECT, High)],
        ),
        (
            "node ecr pull",
            node_call("ecr.amazonaws.com", "BatchGetImage", "10.0.3.4", "2.0"),
            vec![],
        ),
        (
            "node cni",
            node_call("ec2.amazonaws.com", "AssignPrivateIpAddresses", "10.0.3.4", "2.0"),
            vec![],
        ),
        (
            "node cloudwatch metrics",
            node_call("monitoring.amazonaws.com", "PutMetricData", "10.0.3.4", "2.0"),
            vec![],
        ),
        (
            "node reads secrets",
            node_call(
                "secretsmanager.amazonaws.com",
                "GetSecretValue",
                "10.0.3.4",
                "2.0",
            ),
            vec![(NODE_ROLE_MISUSE, High)],
        ),
        (
            "node denied s3",
            with(
                node_call("s3.amazonaws.com", "PutObject", "52.1.2.3", "2.0"),
                "errorCode",
                json!("AccessDenied"),
            ),
            vec![(NODE_ROLE_MISUSE, High)],
        ),
        (
            "node imdsv1 inside",
            node_call("ec2.amazonaws.com", "DescribeInstances", "10.0.3.4", "1.0"),
            vec![(IMDSV1_CREDENTIAL_USE, Medium)],
        ),
        (
            "node imdsv1 misuse",
            node_call("s3.amazonaws.com", "GetObject", "10.0.3.4", "1.0"),
            vec![(IMDSV1_CREDENTIAL_USE, Medium), (NODE_ROLE_MISUSE, High)],
        ),
        (
            "unlisted instance imdsv1",
            bastion,
            vec![(IMDSV1_CREDENTIAL_USE, Low)],
        ),
        ("ssm host role is no instance profile", ssm_host, vec![]),
        (
            "node from outside",
            node_call("ec2.amazonaws.com", "DescribeInstances", "198.51.100.23", "2.0"),
            vec![(NODE_CREDENTIAL_EXFILTRATION, Critical)],
        ),
        (
            "node misuse from outside",
            node_call("s3.amazonaws.com", "ListBuckets", "198.51.100.23", "2.0"),
            vec![(NODE_ROLE_MISUSE, High), (NODE_CREDENTIAL_EXFILTRATION, Critical)],
        ),
        (
            "node from nat",
            node_call("ec2.amazonaws.com", "DescribeInstances", "52.1.2.3", "2.0"),
            vec![],
        ),
        (
            "node via service",
            node_call(
                "ec2.amazonaws.com",
                "DescribeInstances",
                "ec2.amazonaws.com",
                "2.0",
            ),
            vec![],
        ),
        (
            "node via endpoint",
            with(
                node_call("ec2.amazonaws.com", "DescribeInstances", "172.31.0.9", "2.0"),
                "vpcEndpointId",
                json!("vpce-1"),
            ),
            vec![],
        ),
        ("long-term key", akia, vec![(LONG_TERM_ACCESS_KEY, High)]),
        ("allowed long-term key", akia_ci, vec![]),
        (
            "trust policy of bound role",
            iam(
                "UpdateAssumeRolePolicy",
                json!({"roleName": "orders", "policyDocument": "{}"}),
            ),
            vec![(IDENTITY_CONFIG_CHANGE, Medium)],
        ),
        (
            "trust policy of node role",
            iam("UpdateAssumeRolePolicy", json!({"roleName": "prod-node"})),
            vec![(IDENTITY_CONFIG_CHANGE, Medium)],
        ),
        (
            "trust policy of other role",
            iam("UpdateAssumeRolePolicy", json!({"roleName": "reports"})),
            vec![],
        ),
        (
            "trust policy of a same-named role in another account (an organisation trail)",
            with(
                iam("UpdateAssumeRolePolicy", json!({"roleName": "orders"})),
                "recipientAccountId",
                json!("999988887777"),
            ),
            vec![],
        ),
        (
            "failed trust policy change",
            with(
                iam("UpdateAssumeRolePolicy", json!({"roleName": "orders"})),
                "errorCode",
                json!("AccessDenied"),
            ),
            vec![],
        ),
        (
            "policy on node role",
            iam(
                "AttachRolePolicy",
                json!({"roleName": "prod-node",
         "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
            ),
            vec![(IDENTITY_CONFIG_CHANGE, Medium)],
        ),
        (
            "policy on other role",
            iam("AttachRolePolicy", json!({"roleName": "orders"})),
            vec![],
        ),
        (
            "pod identity association",
            eks(
                "CreatePodIdentityAssociation",
                json!({"clusterName": "prod",
         "namespace": "shop", "serviceAccount": "orders", "roleArn": ORDERS}),
            ),
            vec![(IDENTITY_CONFIG_CHANGE, Medium)],
        ),
        (
            "eks oidc provider",
            iam(
                "CreateOpenIDConnectProvider",
                json!({"url": "https://oidc.eks.eu-west-1.amazonaws.com/id/XYZ"}),
            ),
            vec![(IDENTITY_CONFIG_CHANGE, Medium)],
        ),
        (
            "thumbprint",
            iam(
                "UpdateOpenIDConnectProviderThumbprint",
                json!({"openIDConnectProviderArn": PROVIDER}),
            ),
            vec![(IDENTITY_CONFIG_CHANGE, Medium)],
        ),
        (
            "github provider",
            iam(
                "CreateOpenIDConnectProvider",
                json!({"url": "https://token.actions.githubusercontent.com"}),
            ),
            vec![],
        ),
        (
            "access key created",
            iam("CreateAccessKey", json!({"userName": "bob"})),
            vec![(IDENTITY_CONFIG_CHANGE, Medium)],
        ),
        (
            "workload traffic",
            with(
                base("s3.amazonaws.com", "GetObject"),
                "userIdentity",
                json!({"type": "AssumedRole",
         "arn": "arn:aws:sts::111122223333:assumed-role/orders/botocore-session-1", "accessKeyId": "ASIAWORK",
         "sessionContext": {"sessionIssuer": {"arn": ORDERS}, "webIdFederationData": {"federatedProvider": PROVIDER}}}),
            ),
            vec![],
        ),
    ];
    let mut failures = Vec::new();
    for (name, record, want) in &cases {
        let got: Vec<(&str, Severity)> = findings(CONFIG, record)
            .iter()
            .map(|f| (f.detection, f.severity))
            .collect();
        if &got != want {
            failures.push(format!("{name}:\n  expected {want:?}\n  actual   {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn attribution_names_what_it_can() {
    let f = &findings(
        CONFIG,
        &web_identity("system:serviceaccount:shop:debug", ORDERS, Some("AccessDenied")),
    )[0];
    assert_eq!(f.cluster.as_deref(), Some("prod"));
    assert_eq!(
        (f.namespace.as_deref(), f.service_account.as_deref()),
        (Some("shop"), Some("debug"))
    );
    assert_eq!(f.role_arn.as_deref(), Some(ORDERS));
    assert_eq!(
        (f.account.as_deref(), f.region.as_deref()),
        (Some("111122223333"), Some("ap-southeast-1"))
    );
    assert_eq!(f.error_code.as_deref(), Some("AccessDenied"));
    let diagnosis = f.diagnosis.as_deref().unwrap_or_default();
    assert!(
        diagnosis.contains("system:serviceaccount:shop:debug") && diagnosis.contains("shop/orders"),
        "{diagnosis}"
    );

    let f = &findings(
        CONFIG,
        &node_call("s3.amazonaws.com", "ListBuckets", "198.51.100.23", "2.0"),
    )[1];
    assert_eq!(f.detection, NODE_CREDENTIAL_EXFILTRATION);
    assert_eq!(f.cluster.as_deref(), Some("prod"));
    assert_eq!(f.source_ip.as_deref(), Some("198.51.100.23"));
    assert_eq!(
        f.role_arn.as_deref(),
        Some("arn:aws:iam::111122223333:role/prod-node")
    );
}

/// Diagnosis and remediation of a finding, as one text.
fn advice(f: &Finding) -> String {
    format!(
        "{} {}",
        f.diagnosis.as_deref().unwrap_or(""),
        f.remediation.as_deref().unwrap_or("")
    )
}

#[test]
fn irsa_diagnosis_follows_the_error_code_and_message() {
    let cases = [
        ("AccessDenied", "An unknown error occurred", "trust policy"),
        (
            "InvalidIdentityToken",
            "No OpenIDConnect provider found in your account for https://oidc.eks.ap-southeast-1.amazonaws.com/id/X",
            "list-open-id-connect-providers",
        ),
        (
            "InvalidIdentityToken",
            "Incorrect token audience",
            "add-client-id-to-open-id-connect-provider",
        ),
        // CloudTrail writes some codes with the SDK's suffix: the same advice.
        (
            "InvalidIdentityTokenException",
            "",
            "list-open-id-connect-providers",
        ),
        (
            "ExpiredTokenException",
            "Token expired: current date/time 1 must be before the expiration date/time 0",
            "SDK",
        ),
        ("IDPCommunicationError", "", "signing keys"),
        ("IDPRejectedClaim", "", "revoked"),
        ("RegionDisabledException", "", "IAM account settings"),
        (
            "PackedPolicyTooLargeException",
            "Packed size of session tags consumes 112% of allotted space",
            "session tags",
        ),
        ("MalformedPolicyDocument", "", "not a valid policy document"),
        ("SomethingNew", "", "SomethingNew"),
    ];
    for (code, message, phrase) in cases {
        let mut r = web_identity("system:serviceaccount:shop:orders", ORDERS, Some(code));
        r["errorMessage"] = json!(message);
        let text = advice(&findings(CONFIG, &r)[0]);
        assert!(text.contains(phrase), "{code} / {message}: {text}");
    }
}

#[test]
fn pod_identity_diagnosis_follows_the_error_code_and_message() {
    let eks_auth = |code: &str, message: &str| {
        let mut r = node_call(
            "eks-auth.amazonaws.com",
            "AssumeRoleForPodIdentity",
            "10.0.3.4",
            "2.0",
        );
        r["errorCode"] = json!(code);
        r["errorMessage"] = json!(message);
        r["requestParameters"] = json!({"clusterName": "prod", "token": "HIDDEN_DUE_TO_SECURITY_REASONS"});
        r
    };
    let cases = [
        // As in the public record of `reference/real-records/eks-pod-identity.records.json`.
        (
            eks_auth(
                "AccessDenied",
                "Unauthorized Exception! EKS does not have permissions to assume the associated role.",
            ),
            "pods.eks.amazonaws.com",
        ),
        (
            eks_auth(
                "AccessDeniedException",
                "User: arn:aws:sts::111122223333:assumed-role/prod-node/i-0abc123 is not authorized to perform: eks-auth:AssumeRoleForPodIdentity on resource: arn:aws:eks:ap-southeast-1:111122223333:cluster/prod",
            ),
            "AmazonEKSWorkerNodePolicy",
        ),
        (
            eks_auth("ResourceNotFoundException", ""),
            "create-pod-identity-association",
        ),
        (
            eks_auth(
                "ExpiredTokenException",
                "The token included in the request is expired",
            ),
            "pod that has gone",
        ),
        (eks_auth("InvalidTokenException", ""), "not valid"),
        (eks_auth("ThrottlingException", "Rate exceeded"), "pod churn"),
        (eks_auth("InternalServerException", ""), "transient"),
        (eks_auth("SomethingNew", ""), "SomethingNew"),
        (
            pod_identity_assume("shop", "orders", ORDERS, Some("AccessDenied")),
            "aws:RequestTag/kubernetes-",
        ),
    ];
    for (record, phrase) in cases {
        let got = findings(CONFIG, &record);
        let f = got
            .iter()
            .find(|f| f.detection == POD_IDENTITY_FAILURE)
            .expect("a pod-identity-failure");
        let text = advice(f);
        assert!(text.contains(phrase), "{}: {text}", record["errorCode"]);
    }
}

/// One node role serves two clusters: a call from either cluster's egress is at home and
/// names that cluster; only a call from outside both is exfiltration. Before, the last
/// cluster listed took the role, and the first cluster's own calls were critical.
#[test]
fn a_node_role_shared_by_clusters_is_at_home_in_each() {
    let config = r#"
        [[clusters]]
        name = "prod"
        node_roles = ["arn:aws:iam::111122223333:role/prod-node"]
        egress_cidrs = ["52.1.2.3/32"]
        [[clusters]]
        name = "prod-eu"
        node_roles = ["arn:aws:iam::111122223333:role/prod-node"]
        egress_cidrs = ["34.1.1.1/32"]
    "#;
    let seen = |ip: &str| -> Vec<(&'static str, Option<String>)> {
        findings(
            config,
            &node_call("secretsmanager.amazonaws.com", "GetSecretValue", ip, "2.0"),
        )
        .into_iter()
        .map(|f| (f.detection, f.cluster))
        .collect()
    };
    let misuse = |cluster: &str| (NODE_ROLE_MISUSE, Some(cluster.to_string()));
    assert_eq!(seen("52.1.2.3"), [misuse("prod")]);
    assert_eq!(seen("34.1.1.1"), [misuse("prod-eu")]);
    assert_eq!(
        seen("198.51.100.7"),
        [
            misuse("prod"),
            (NODE_CREDENTIAL_EXFILTRATION, Some("prod".to_string()))
        ]
    );
    // A sharer that lists no egress ranges does not judge: outside the other's ranges,
    // the call is that one's, unjudged.
    let silent = config.replace("egress_cidrs = [\"34.1.1.1/32\"]", "");
    let call = node_call(
        "secretsmanager.amazonaws.com",
        "GetSecretValue",
        "34.1.1.1",
        "2.0",
    );
    let got: Vec<_> = findings(&silent, &call)
        .into_iter()
        .map(|f| (f.detection, f.cluster))
        .collect();
    assert_eq!(got, [misuse("prod-eu")]);
}

/// With the cluster's VPC endpoints listed, node credentials used through another VPC's
/// endpoint (from a private address there) are exfiltration; through the cluster's own, or
/// with no endpoints listed, they are not judged by the endpoint.
#[test]
fn node_credentials_through_another_vpc_endpoint_are_exfiltration() {
    let listed = CONFIG.replace(
        "egress_cidrs = [\"52.1.2.3/32\", \"10.0.0.0/16\"]\n",
        "egress_cidrs = [\"52.1.2.3/32\", \"10.0.0.0/16\"]\nvpc_endpoints = [\"vpce-0home\"]\n",
    );
    let through = |config: &str, vpce: &str| -> Vec<String> {
        let call = with(
            node_call("ec2.amazonaws.com", "DescribeInstances", "172.31.9.9", "2.0"),
            "vpcEndpointId",
            json!(vpce),
        );
        findings(config, &call)
            .iter()
            .filter(|f| f.detection == NODE_CREDENTIAL_EXFILTRATION)
            .map(|f| f.title.clone())
            .collect()
    };
    assert_eq!(
        through(&listed, "vpce-0attacker"),
        ["Node credentials of prod-node used from VPC endpoint vpce-0attacker, outside cluster prod"]
    );
    assert!(through(&listed, "vpce-0home").is_empty());
    assert!(
        through(CONFIG, "vpce-0attacker").is_empty(),
        "no endpoints listed: not judged"
    );
}

#[test]
fn cluster_token_checks_are_not_judged_by_their_source() {
    let exfiltration = |r: &Value| {
        findings(CONFIG, r)
            .iter()
            .any(|f| f.detection == NODE_CREDENTIAL_EXFILTRATION)
    };
    // EKS sends a node's presigned GetCallerIdentity itself, from EKS's own addresses,
    // without an SDK's user agent.
    let login = with(
        node_call("sts.amazonaws.com", "GetCallerIdentity", "198.51.100.23", "2.0"),
        "userAgent",
        json!("Go-http-client/1.1"),
    );
    assert!(!exfiltration(&login));
    // The same call from an SDK or the CLI is the caller's own, and outside the cluster;
    // so is another call from that address.
    for ua in [
        "aws-cli/2.22.7 md/awscrt#0.22.0 ua/2.0 os/macos#24.1.0",
        "Boto3/1.35.70 md/Botocore#1.35.70 ua/2.0",
        "aws-sdk-go-v2/1.32.5 ua/2.1 os/linux lang/go#1.23.3",
    ] {
        assert!(exfiltration(&with(login.clone(), "userAgent", json!(ua))), "{ua}");
    }
    assert!(exfiltration(&with(
        login.clone(),
        "eventName",
        json!("GetSessionToken")
    )));
}

#[test]
fn detections_can_be_disabled() {
    let config = format!("{CONFIG}\n[detections.node-role-misuse]\nenabled = false\n");
    let got = findings(
        &config,
        &node_call("s3.amazonaws.com", "ListBuckets", "198.51.100.23", "2.0"),
    );
    let ids: Vec<&str> = got.iter().map(|f| f.detection).collect();
    assert_eq!(ids, [NODE_CREDENTIAL_EXFILTRATION]);
}

#[test]
fn hostile_strings_are_capped_and_escaped() {
    let hostile = format!("evil\n\u{1b}[2J{}", "A".repeat(5000));
    let mut r = with(
        base("s3.amazonaws.com", "ListBuckets"),
        "userIdentity",
        json!({"type": "IAMUser", "arn": hostile, "accessKeyId": "AKIAEXAMPLE"}),
    );
    r["userAgent"] = json!(hostile);
    let f = &findings("", &r)[0];
    for text in [
        &f.title,
        &f.summary,
        f.user_agent.as_ref().unwrap(),
        f.principal_arn.as_ref().unwrap(),
    ] {
        assert!(
            !text.chars().any(char::is_control),
            "control character in {text:?}"
        );
        assert!(text.chars().count() < 1200, "{} characters", text.chars().count());
    }
}

#[test]
fn a_bound_name_from_elsewhere_is_not_the_bound_workload() {
    let rogue = PROVIDER.replace("/id/ABC", "/id/ROGUE");
    let record = with(
        web_identity("system:serviceaccount:shop:orders", ORDERS, None),
        "userIdentity",
        json!({"type": "WebIdentityUser", "userName": "system:serviceaccount:shop:orders",
               "identityProvider": rogue}),
    );
    let found = findings(CONFIG, &record);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].title.contains("of another cluster"),
        "{}",
        found[0].title
    );
    let summary = &found[0].summary;
    assert!(
        summary.contains("oidc.eks.ap-southeast-1.amazonaws.com/id/ROGUE")
            && summary.contains("no configured cluster"),
        "{summary}"
    );

    // Without the cluster's issuer in config, an issuer cannot set the subject apart.
    let no_issuer = CONFIG.replace(
        "oidc_provider = \"oidc.eks.ap-southeast-1.amazonaws.com/id/ABC\"\n",
        "",
    );
    assert_ne!(no_issuer, CONFIG);
    assert!(findings(&no_issuer, &record).is_empty());
    // Unless another configured cluster has it.
    let two = format!(
        "{no_issuer}\n[[clusters]]\nname = \"staging\"\noidc_provider = \"oidc.eks.ap-southeast-1.amazonaws.com/id/ROGUE\"\n"
    );
    let found = findings(&two, &record);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].summary.contains("in cluster staging"),
        "{}",
        found[0].summary
    );

    // A failure from elsewhere is the graver kind too.
    let mut failed = record.clone();
    failed["errorCode"] = json!("AccessDenied");
    let found = findings(CONFIG, &failed);
    assert_eq!(found[0].detection, IRSA_ASSUME_FAILURE);
    assert_eq!(found[0].severity, Severity::High);
}
