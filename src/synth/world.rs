//! Who is in the account: cluster `prod` of `samples/trailwatch.toml`, its nodes, its
//! workloads and their pods, the people and CI around it, and their sessions.

use fastrand::Rng;

use super::json::{B32, Out, hex_id, random_id};

pub(super) const ACCOUNT: &str = "111122223333";
pub(super) const TRUSTED_ACCOUNT: &str = "444455556666";
pub(super) const UNTRUSTED_ACCOUNT: &str = "999988887777";
pub(super) const REGION: &str = "ap-southeast-1";
/// IAM, Route 53 and other global services log in us-east-1.
pub(super) const GLOBAL_REGION: &str = "us-east-1";
pub(super) const CLUSTER: &str = "prod";
pub(super) const CLUSTER_ARN: &str = "arn:aws:eks:ap-southeast-1:111122223333:cluster/prod";
pub(super) const OIDC_HOST: &str =
    "oidc.eks.ap-southeast-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
pub(super) const OIDC_ARN: &str = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.ap-southeast-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
/// The issuer of a cluster ("staging") whose OIDC provider was never created here.
pub(super) const UNREGISTERED_OIDC_HOST: &str =
    "oidc.eks.ap-southeast-1.amazonaws.com/id/EXAMPLE7F3C1A0B9D8E6F5A4BEXAMPLE";
pub(super) const GITHUB_OIDC_ARN: &str =
    "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com";
/// The cluster's NAT gateways (its configured egress, with 10.0.0.0/16).
pub(super) const NAT: [&str; 2] = ["52.1.2.3", "52.1.2.4"];
pub(super) const OFFICE_IP: &str = "203.0.113.50";
pub(super) const CI_RUNNER_IPS: [&str; 3] = ["203.0.113.77", "203.0.113.78", "203.0.113.79"];
pub(super) const LEGACY_CI_IP: &str = "198.51.100.200";
pub(super) const KMS_KEY_ARN: &str =
    "arn:aws:kms:ap-southeast-1:111122223333:key/6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b";
pub(super) const ECR_REGISTRY: &str = "111122223333.dkr.ecr.ap-southeast-1.amazonaws.com";
pub(super) const ASG_NAME: &str = "eks-prod-ng-general-20261102-1ec8f2a4-1f2b-4c3d-8e9f-0a1b2c3d4e5f";

/// User agents, as JSON string content (some carry escapes on purpose).
pub(super) mod ua {
    pub const JAVA: &str = "aws-sdk-java/2.29.20 Linux/6.1.115-126.197.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/21.0.5+11-LTS Java/21.0.5 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy";
    pub const BOTO3: &str = "Boto3/1.35.70 md/Botocore#1.35.70 ua/2.0 os/linux#6.1.115-126.197.amzn2023.x86_64 md/arch#x86_64 lang/python#3.12.7 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.70";
    pub const GO: &str =
        "aws-sdk-go-v2/1.32.5 ua/2.1 os/linux lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64 api/sqs#1.37.1";
    pub const JS: &str = "aws-sdk-js/3.699.0 ua/2.1 os/linux#6.1.115-126.197.amzn2023.x86_64 lang/js md/nodejs#20.18.1 api/dynamodb#3.699.0";
    /// Quotes and backslashes: `app/"checkout \"canary\" (C:\\build)"`.
    pub const JS_QUOTED: &str = r#"aws-sdk-js/3.699.0 ua/2.1 lang/js md/nodejs#20.18.1 api/s3#3.699.0 app/\"checkout \\\"canary\\\" (C:\\\\build)\""#;
    /// A `\u00e9` escape (é).
    pub const GO_CAFE: &str = r"aws-sdk-go-v2/1.32.5 ua/2.1 os/linux lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64 api/sqs#1.37.1 app/caf\u00e9-notifier";
    /// Raw UTF-8 (Japanese).
    pub const BOTO3_JA: &str = "Boto3/1.35.70 md/Botocore#1.35.70 ua/2.0 os/linux#6.1.115-126.197.amzn2023.x86_64 lang/python#3.12.7 app/請求書エクスポート";
    /// Escaped slashes, the way PHP's json_encode writes them.
    pub const PHP_SLASHES: &str =
        r"aws-sdk-php\/3.325.0 OS\/Linux\/6.1.115 lang\/php\/8.3.13 GuzzleHttp\/7 app\/legacy-billing";
    pub const YACE: &str = "aws-sdk-go-v2/1.32.5 ua/2.1 os/linux lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64 api/cloudwatch#1.43.1 yace/v0.61.2";
    pub const EXTERNAL_DNS: &str = "aws-sdk-go/1.55.5 (go1.23.2; linux; amd64) ExternalDNS/v0.15.0";
    pub const EBS_CSI: &str = "aws-sdk-go-v2/1.32.2 ua/2.1 os/linux lang/go#1.23.2 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.187.0 ebs-csi-driver/v1.37.0";
    pub const LBC: &str = "aws-sdk-go-v2/1.32.2 ua/2.1 os/linux lang/go#1.23.2 md/GOOS#linux md/GOARCH#amd64 api/elasticloadbalancingv2#1.43.0 elbv2.k8s.aws/v2.10.1";
    pub const CNI: &str = "aws-sdk-go/1.55.5 (go1.22.8; linux; amd64) amazon-vpc-cni-k8s/cni-ipamd/v1.19.0";
    pub const ECR_CRED: &str = "aws-sdk-go-v2/1.30.3 ua/2.1 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/ecr#1.32.1 ecr-credential-provider/v1.31.0";
    pub const CONTAINERD: &str = "containerd/1.7.23";
    pub const FLUENTBIT: &str = "aws-fluent-bit-plugins/2.32.4 aws-sdk-go/1.44.301 (go1.20.14; linux; amd64)";
    pub const PIA: &str =
        "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/eksauth#1.7.2";
    pub const AUTOSCALER: &str = "aws-sdk-go/1.48.7 (go1.21.9; linux; amd64) cluster-autoscaler/v1.31.0";
    pub const SSM_AGENT: &str = "aws-sdk-go/1.51.21 (go1.22.6; linux; amd64) amazon-ssm-agent/3.3.1142.0";
    pub const KUBELET: &str = "aws-sdk-go-v2/1.32.2 ua/2.1 os/linux lang/go#1.23.2 md/GOOS#linux md/GOARCH#amd64 api/eks#1.52.1 aws-iam-authenticator/0.6.27";
    pub const CLI_MAC: &str = "aws-cli/2.22.7 md/awscrt#0.22.0 ua/2.0 os/macos#24.1.0 md/arch#arm64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/prompt#off";
    pub const CLI_LINUX: &str = "aws-cli/2.22.7 md/awscrt#0.22.0 ua/2.0 os/linux#6.8.0-1019-aws md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off";
    pub const CLI_OLD: &str = "aws-cli/1.18.136 Python/3.8.5 Linux/5.4.0-1045-aws botocore/1.17.59";
    pub const CONSOLE: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    pub const GITHUB: &str =
        "aws-sdk-nodejs/2.1692.0 linux/v20.18.0 configure-aws-credentials-for-github-actions promise";
    /// Docker's own backslashes: `UpstreamClient(Docker-Client/27.3.1 \(linux\))`.
    pub const DOCKER: &str = r"docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8.0-1017-azure os/linux arch/amd64 UpstreamClient(Docker-Client/27.3.1 \\(linux\\))";
}

/// How a workload gets credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Via {
    /// `sts:AssumeRoleWithWebIdentity` with the projected service account token.
    Irsa,
    /// EKS Pod Identity: the node agent's `eks-auth:AssumeRoleForPodIdentity`.
    PodIdentity,
}

/// How the SDK names its sessions (`roleSessionName`).
#[derive(Debug, Clone, Copy)]
pub(super) enum Style {
    Java,
    Botocore,
    Go,
    Js,
}

/// A workload API call.
#[derive(Debug, Clone, Copy)]
pub(super) enum Op {
    S3Get(&'static str),
    S3Put(&'static str),
    S3Head(&'static str),
    S3List(&'static str),
    DdbGet(&'static str),
    DdbPut(&'static str),
    DdbQuery(&'static str),
    DdbUpdate(&'static str),
    DdbBatchWrite(&'static str),
    SqsSend(&'static str),
    SqsSendBatch(&'static str),
    SqsReceive(&'static str),
    SqsDelete(&'static str),
    KmsDecrypt,
    KmsGenerateDataKey,
    SecretGet(&'static str),
    MetricData,
    TagResources,
    DnsList,
    DnsChange,
    DescribeVolumes,
    AttachVolume,
    TargetHealth,
    RegisterTargets,
    /// `sts:AssumeRole` into the trusted account.
    AssumeTrusted,
    CallerIdentity,
}

/// A kind of workload in the cluster.
pub(super) struct WorkloadDef {
    pub ns: &'static str,
    pub sa: &'static str,
    pub role: &'static str,
    pub via: Via,
    pub ua: &'static str,
    /// Used for one call in eight (a sidecar, a second client library).
    pub alt_ua: &'static str,
    pub style: Style,
    /// The ReplicaSet hash in pod names.
    pub hash: &'static str,
    pub pods: usize,
    /// Share of workload calls.
    pub weight: u32,
    pub ops: &'static [(u32, Op)],
}

const ORDERS: &str = "prod-order-artifacts-111122223333";
const REPORTS: &str = "prod-reports-111122223333";
const LAKE: &str = "prod-data-lake-111122223333";
const ASSETS: &str = "prod-static-assets-111122223333";

/// The workloads; the first three roles (and prometheus) have bindings in the sample config.
pub(super) static WORKLOADS: [WorkloadDef; 9] = [
    WorkloadDef {
        ns: "production",
        sa: "order-service",
        role: "prod-production-order-service",
        via: Via::Irsa,
        ua: ua::JAVA,
        alt_ua: ua::JAVA,
        style: Style::Java,
        hash: "7d9c6b5f4",
        pods: 6,
        weight: 24,
        ops: &[
            (18, Op::S3Get(ORDERS)),
            (8, Op::S3Put(ORDERS)),
            (3, Op::S3Head(ORDERS)),
            (12, Op::DdbGet("orders")),
            (10, Op::DdbPut("orders")),
            (12, Op::DdbQuery("orders")),
            (4, Op::DdbUpdate("orders")),
            (14, Op::SqsSend("order-events")),
            (1, Op::SqsSendBatch("order-events")),
            (6, Op::KmsDecrypt),
            (3, Op::KmsGenerateDataKey),
            (1, Op::CallerIdentity),
        ],
    },
    WorkloadDef {
        ns: "production",
        sa: "payment-service",
        role: "prod-production-payment-service",
        via: Via::Irsa,
        ua: ua::BOTO3,
        alt_ua: ua::PHP_SLASHES,
        style: Style::Botocore,
        hash: "5f4b8c7d9",
        pods: 4,
        weight: 16,
        ops: &[
            (20, Op::DdbGet("payments")),
            (14, Op::DdbPut("payments")),
            (10, Op::DdbQuery("payments")),
            (6, Op::DdbUpdate("payments")),
            (14, Op::KmsDecrypt),
            (8, Op::KmsGenerateDataKey),
            (10, Op::SqsSend("payment-events")),
            (10, Op::SqsReceive("order-events")),
            (8, Op::SqsDelete("order-events")),
            (3, Op::SecretGet("prod/payment/stripe-api-key")),
            (1, Op::AssumeTrusted),
        ],
    },
    WorkloadDef {
        ns: "production",
        sa: "checkout-web",
        role: "prod-production-checkout-web",
        via: Via::PodIdentity,
        ua: ua::JS,
        alt_ua: ua::JS_QUOTED,
        style: Style::Js,
        hash: "6c8f9d7b5",
        pods: 6,
        weight: 18,
        ops: &[
            (24, Op::DdbGet("carts")),
            (16, Op::DdbPut("carts")),
            (6, Op::DdbGet("sessions")),
            (6, Op::DdbPut("sessions")),
            (10, Op::S3Get(ASSETS)),
            (12, Op::SqsSend("order-events")),
            (4, Op::KmsDecrypt),
        ],
    },
    WorkloadDef {
        ns: "production",
        sa: "notification-worker",
        role: "prod-production-notification-worker",
        via: Via::PodIdentity,
        ua: ua::GO,
        alt_ua: ua::GO_CAFE,
        style: Style::Go,
        hash: "84d6f5c9b",
        pods: 3,
        weight: 12,
        ops: &[
            (30, Op::SqsReceive("notifications")),
            (24, Op::SqsDelete("notifications")),
            (8, Op::SqsReceive("payment-events")),
            (6, Op::SqsDelete("payment-events")),
            (6, Op::KmsDecrypt),
            (2, Op::SecretGet("prod/notification/smtp")),
            (4, Op::S3Get(ASSETS)),
        ],
    },
    WorkloadDef {
        ns: "data",
        sa: "etl-worker",
        role: "prod-data-etl-worker",
        via: Via::Irsa,
        ua: ua::BOTO3,
        alt_ua: ua::BOTO3_JA,
        style: Style::Botocore,
        hash: "9b7c5d6f8",
        pods: 3,
        weight: 10,
        ops: &[
            (20, Op::S3Get(LAKE)),
            (12, Op::S3Put(LAKE)),
            (6, Op::S3List(LAKE)),
            (6, Op::S3Put(REPORTS)),
            (4, Op::S3Get(REPORTS)),
            (6, Op::DdbGet("etl-checkpoints")),
            (3, Op::DdbBatchWrite("etl-checkpoints")),
            (6, Op::KmsGenerateDataKey),
            (6, Op::KmsDecrypt),
            (8, Op::SqsReceive("etl-jobs")),
            (6, Op::SqsDelete("etl-jobs")),
        ],
    },
    WorkloadDef {
        ns: "monitoring",
        sa: "prometheus",
        role: "prod-monitoring-prometheus",
        via: Via::Irsa,
        ua: ua::YACE,
        alt_ua: ua::YACE,
        style: Style::Go,
        hash: "b5c9d7f6",
        pods: 2,
        weight: 5,
        ops: &[
            (20, Op::MetricData),
            (6, Op::TagResources),
            (1, Op::CallerIdentity),
        ],
    },
    WorkloadDef {
        ns: "kube-system",
        sa: "external-dns",
        role: "prod-kube-system-external-dns",
        via: Via::Irsa,
        ua: ua::EXTERNAL_DNS,
        alt_ua: ua::EXTERNAL_DNS,
        style: Style::Go,
        hash: "6f9d8c7b4",
        pods: 1,
        weight: 3,
        ops: &[(12, Op::DnsList), (1, Op::DnsChange)],
    },
    WorkloadDef {
        ns: "kube-system",
        sa: "ebs-csi-controller-sa",
        role: "prod-kube-system-ebs-csi",
        via: Via::PodIdentity,
        ua: ua::EBS_CSI,
        alt_ua: ua::EBS_CSI,
        style: Style::Go,
        hash: "7c4d9b8f6",
        pods: 2,
        weight: 3,
        ops: &[(10, Op::DescribeVolumes), (1, Op::AttachVolume)],
    },
    WorkloadDef {
        ns: "kube-system",
        sa: "aws-load-balancer-controller",
        role: "prod-kube-system-aws-load-balancer-controller",
        via: Via::Irsa,
        ua: ua::LBC,
        alt_ua: ua::LBC,
        style: Style::Go,
        hash: "5d7f8b9c6",
        pods: 2,
        weight: 4,
        ops: &[(12, Op::TargetHealth), (1, Op::RegisterTargets)],
    },
];

/// An IAM role.
pub(super) struct Role {
    pub name: &'static str,
    pub arn: String,
    /// Its unique id (`AROA…`).
    pub pid: String,
    pub account: &'static str,
}

impl Role {
    pub(super) fn new(rng: &mut Rng, name: &'static str, path: &str, account: &'static str) -> Self {
        Self {
            name,
            arn: format!("arn:aws:iam::{account}:role/{path}{name}"),
            pid: random_id(rng, "AROA", B32, 17),
            account,
        }
    }
}

/// `sessionContext.webIdFederationData` of an assumed-role session.
#[derive(Debug, Clone, Copy)]
pub(super) enum Federation {
    /// Not written (instance-profile sessions).
    Omit,
    /// `{}` (AssumeRole, SSO).
    Empty,
    /// IRSA: the cluster's OIDC provider.
    Eks,
    /// GitHub Actions.
    GitHub,
}

/// Temporary credentials and the `userIdentity` every call made with them carries.
#[derive(Clone)]
pub(super) struct Session {
    pub key: String,
    pub name: String,
    /// `arn:aws:sts::…:assumed-role/<role>/<name>` (or the user ARN).
    pub arn: String,
    /// The rendered `userIdentity` object.
    pub identity: Vec<u8>,
    pub created: i64,
    /// When the SDK fetches new credentials.
    pub refresh_at: i64,
    pub expires: i64,
}

/// What an assumed-role session looks like in `userIdentity`.
pub(super) struct SessionSpec<'a> {
    pub role: &'a Role,
    pub name: String,
    pub created: i64,
    pub lifetime: i64,
    pub federation: Federation,
    pub mfa: bool,
    /// `ec2RoleDelivery` for instance-profile sessions.
    pub delivery: Option<&'static str>,
}

impl Session {
    /// A new assumed-role session with a fresh `ASIA…` key.
    pub(super) fn assumed(rng: &mut Rng, spec: SessionSpec<'_>) -> Self {
        let key = random_id(rng, "ASIA", B32, 16);
        let role = spec.role;
        let arn = format!(
            "arn:aws:sts::{}:assumed-role/{}/{}",
            role.account, role.name, spec.name
        );
        let mut o = Out::with_capacity(1024);
        o.open();
        o.lit("type", "AssumedRole");
        o.open_str("principalId");
        o.part(&role.pid);
        o.part(":");
        o.part(&spec.name);
        o.close_str();
        o.lit("arn", &arn);
        o.lit("accountId", role.account);
        o.lit("accessKeyId", &key);
        o.obj("sessionContext");
        o.obj("sessionIssuer");
        o.lit("type", "Role");
        o.lit("principalId", &role.pid);
        o.lit("arn", &role.arn);
        o.lit("accountId", role.account);
        o.lit("userName", role.name);
        o.end();
        match spec.federation {
            Federation::Omit => {}
            Federation::Empty => o.raw("webIdFederationData", b"{}"),
            Federation::Eks | Federation::GitHub => {
                o.obj("webIdFederationData");
                let provider = match spec.federation {
                    Federation::GitHub => GITHUB_OIDC_ARN,
                    _ => OIDC_ARN,
                };
                o.lit("federatedProvider", provider);
                o.raw("attributes", b"{}");
                o.end();
            }
        }
        o.obj("attributes");
        o.time("creationDate", spec.created);
        o.lit("mfaAuthenticated", if spec.mfa { "true" } else { "false" });
        o.end();
        if let Some(delivery) = spec.delivery {
            o.lit("ec2RoleDelivery", delivery);
        }
        o.end();
        o.end();
        Self::finish(o, key, spec.name, arn, spec.created, spec.lifetime, rng)
    }

    /// An IAM user's long-term key (`AKIA…`).
    pub(super) fn iam_user(rng: &mut Rng, user: &str) -> Self {
        let key = random_id(rng, "AKIA", B32, 16);
        let arn = format!("arn:aws:iam::{ACCOUNT}:user/{user}");
        let mut o = Out::with_capacity(256);
        o.open();
        o.lit("type", "IAMUser");
        o.lit("principalId", &random_id(rng, "AIDA", B32, 17));
        o.lit("arn", &arn);
        o.lit("accountId", ACCOUNT);
        o.lit("accessKeyId", &key);
        o.s("userName", user);
        o.end();
        Self::finish(o, key, user.to_string(), arn, 0, i64::MAX / 4, rng)
    }

    fn finish(
        mut o: Out,
        key: String,
        name: String,
        arn: String,
        created: i64,
        lifetime: i64,
        rng: &mut Rng,
    ) -> Self {
        // Drop the writer's trailing comma: `identity` is a bare value.
        o.buf.pop();
        // SDKs refresh five to fifteen minutes before expiry.
        let early = if lifetime > 1800 { rng.i64(300..=900) } else { 0 };
        Self {
            key,
            name,
            arn,
            identity: o.buf,
            created,
            refresh_at: created.saturating_add(lifetime - early),
            expires: created.saturating_add(lifetime),
        }
    }
}

/// One pod of a workload.
pub(super) struct Pod {
    pub name: String,
    pub ip: String,
    pub node: usize,
    pub session: Option<Session>,
}

/// A workload and its pods.
pub(super) struct Workload {
    pub def: &'static WorkloadDef,
    pub role: Role,
    pub pods: Vec<Pod>,
}

/// A worker node of the cluster.
pub(super) struct Node {
    pub instance: String,
    pub ip: String,
    /// Index of the NAT gateway of its availability zone.
    pub nat: usize,
    pub session: Session,
}

/// VPC endpoints of the cluster's VPC (calls through them carry the private source IP).
pub(super) struct Endpoints {
    pub s3: String,
    pub dynamodb: String,
    pub sts: String,
    pub kms: String,
    pub sqs: String,
    pub ecr_api: String,
    pub ecr_dkr: String,
    pub ec2: String,
    pub logs: String,
    pub ssm: String,
    pub ec2messages: String,
    pub eks: String,
    pub eks_auth: String,
}

/// Everyone in the account.
pub(super) struct World {
    pub workloads: Vec<Workload>,
    pub nodes: Vec<Node>,
    pub node_role: Role,
    pub vpce: Endpoints,
    pub admin_role: Role,
    pub admins: Vec<Session>,
    pub github_role: Role,
    pub legacy_ci: Session,
    /// A key hard-coded in a pod (not allowlisted: every call is a finding).
    pub exporter: Session,
    pub bastion_role: Role,
    /// The EKS and Auto Scaling service-linked roles, used by those services.
    pub eks_slr: Session,
    pub asg_slr: Session,
    pub trusted_role: Role,
    pub untrusted_role: Role,
    pub debug_pod_ip: String,
}

/// Worker nodes in the cluster.
pub(super) const NODES: usize = 12;

/// Kubernetes' random-suffix alphabet (no vowels, no look-alikes).
const POD_SUFFIX: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

impl World {
    pub(super) fn new(rng: &mut Rng, start: i64) -> Self {
        let node_role = Role::new(rng, "prod-node-role", "", ACCOUNT);
        let nodes = (0..NODES)
            .map(|i| {
                let instance = hex_id(rng, "i-0", 16);
                let ip = format!("10.0.{}.{}", i % 3 * 4 + rng.usize(0..4), rng.u32(4..251));
                let created = start - rng.i64(60..3300);
                let session = Session::assumed(
                    rng,
                    SessionSpec {
                        role: &node_role,
                        name: instance.clone(),
                        created,
                        lifetime: 3600,
                        federation: Federation::Omit,
                        mfa: false,
                        delivery: Some("2.0"),
                    },
                );
                Node {
                    instance,
                    ip,
                    nat: i % 2,
                    session,
                }
            })
            .collect();
        let mut workloads = Vec::with_capacity(WORKLOADS.len());
        for def in &WORKLOADS {
            let role = Role::new(rng, def.role, "", ACCOUNT);
            let pods = (0..def.pods).map(|_| new_pod(rng, def)).collect();
            workloads.push(Workload { def, role, pods });
        }
        let vpce = Endpoints {
            s3: hex_id(rng, "vpce-0", 16),
            dynamodb: hex_id(rng, "vpce-0", 16),
            sts: hex_id(rng, "vpce-0", 16),
            kms: hex_id(rng, "vpce-0", 16),
            sqs: hex_id(rng, "vpce-0", 16),
            ecr_api: hex_id(rng, "vpce-0", 16),
            ecr_dkr: hex_id(rng, "vpce-0", 16),
            ec2: hex_id(rng, "vpce-0", 16),
            logs: hex_id(rng, "vpce-0", 16),
            ssm: hex_id(rng, "vpce-0", 16),
            ec2messages: hex_id(rng, "vpce-0", 16),
            eks: hex_id(rng, "vpce-0", 16),
            eks_auth: hex_id(rng, "vpce-0", 16),
        };
        let admin_role = Role::new(
            rng,
            "AWSReservedSSO_AdministratorAccess_4b7c1e2d9a0f3b6c",
            "aws-reserved/sso.amazonaws.com/ap-southeast-1/",
            ACCOUNT,
        );
        let admins = ["alice@example.com", "bob@example.com", "chloe@example.com"]
            .into_iter()
            .map(|name| {
                let created = start - rng.i64(60..7200);
                Session::assumed(
                    rng,
                    SessionSpec {
                        role: &admin_role,
                        name: name.to_string(),
                        created,
                        lifetime: 12 * 3600,
                        federation: Federation::Empty,
                        mfa: false,
                        delivery: None,
                    },
                )
            })
            .collect();
        Self {
            workloads,
            nodes,
            node_role,
            vpce,
            admin_role,
            admins,
            github_role: Role::new(rng, "github-actions-deploy", "", ACCOUNT),
            legacy_ci: Session::iam_user(rng, "legacy-ci"),
            exporter: Session::iam_user(rng, "reports-exporter"),
            bastion_role: Role::new(rng, "bastion-instance-role", "", ACCOUNT),
            eks_slr: service_session(
                rng,
                "AWSServiceRoleForAmazonEKS",
                "eks.amazonaws.com",
                "AmazonEKS",
                start,
            ),
            asg_slr: service_session(
                rng,
                "AWSServiceRoleForAutoScaling",
                "autoscaling.amazonaws.com",
                "AutoScaling",
                start,
            ),
            trusted_role: Role::new(rng, "shared-artifacts-reader", "", TRUSTED_ACCOUNT),
            untrusted_role: Role::new(rng, "data-export", "", UNTRUSTED_ACCOUNT),
            debug_pod_ip: pod_ip(rng),
        }
    }
}

/// A long-lived session of a service-linked role.
fn service_session(rng: &mut Rng, role: &'static str, service: &str, name: &str, start: i64) -> Session {
    let role = Role::new(rng, role, &format!("aws-service-role/{service}/"), ACCOUNT);
    let created = start - rng.i64(600..3000);
    Session::assumed(
        rng,
        SessionSpec {
            role: &role,
            name: name.to_string(),
            created,
            lifetime: 10 * 86_400,
            federation: Federation::Empty,
            mfa: false,
            delivery: None,
        },
    )
}

/// A private address for a pod (nodes live in 10.0.0.0/20, pods above it).
pub(super) fn pod_ip(rng: &mut Rng) -> String {
    format!("10.0.{}.{}", rng.u32(16..128), rng.u32(2..255))
}

/// A new pod of `def`, without credentials yet.
pub(super) fn new_pod(rng: &mut Rng, def: &WorkloadDef) -> Pod {
    let mut name = String::with_capacity(def.sa.len() + 16);
    name.push_str(def.sa);
    name.push('-');
    name.push_str(def.hash);
    name.push('-');
    for _ in 0..5 {
        name.push(char::from(POD_SUFFIX[rng.usize(..POD_SUFFIX.len())]));
    }
    Pod {
        name,
        ip: pod_ip(rng),
        node: rng.usize(..NODES),
        session: None,
    }
}
