//! Episodes: what the detections are there to catch, one every few hundred steps, in
//! turn, amid the ordinary traffic.

use crate::synth::json::{B32, hex_id, random_id};
use crate::synth::records::{Caller, Who};
use crate::synth::world::{
    Federation, NAT, NODES, OIDC_ARN, Op, Session, SessionSpec, Style, UNREGISTERED_OIDC_HOST, new_pod,
    pod_ip, ua,
};

use super::workload::s3_key;
use super::{Gen, NOT_AUTHORIZED, admin_caller, session_name};

/// Something a detection should catch; they take turns.
#[derive(Clone, Copy)]
pub(super) enum Episode {
    ForeignSubject,
    UnregisteredIssuer,
    PodIdentityRefused,
    UnexpectedSubject,
    HardcodedKey,
    Fallback,
    WorkloadExfiltration,
    NodeExfiltration,
    Imdsv1,
    TrustPolicyChange,
    DeniedBurst,
    CrossAccount,
    NodeMisuse,
    OtherChange,
}

pub(super) const EPISODES: [Episode; 14] = [
    Episode::ForeignSubject,
    Episode::HardcodedKey,
    Episode::Fallback,
    Episode::WorkloadExfiltration,
    Episode::PodIdentityRefused,
    Episode::DeniedBurst,
    Episode::UnexpectedSubject,
    Episode::NodeExfiltration,
    Episode::TrustPolicyChange,
    Episode::CrossAccount,
    Episode::UnregisteredIssuer,
    Episode::Imdsv1,
    Episode::NodeMisuse,
    Episode::OtherChange,
];

/// Steps between two episodes.
pub(super) const EPISODE_SPACING: std::ops::Range<u64> = 400..800;

/// A record that follows an earlier one after a while.
pub(super) enum Later {
    /// The node-role call of a pod whose exchange failed (its SDK fell back to IMDS).
    Fallback { due: i64, node: usize, ip: String },
    /// A workload's credentials used from outside the cluster.
    Outside {
        due: i64,
        session: Box<Session>,
        ip: String,
    },
}

impl Later {
    pub(super) fn due(&self) -> i64 {
        match self {
            Self::Fallback { due, .. } | Self::Outside { due, .. } => *due,
        }
    }
}

impl Gen {
    pub(super) fn run_later(&mut self, later: Later) {
        let (mut r, world) = self.parts();
        match later {
            Later::Fallback { node, ip, .. } => {
                // The pod's SDK found no web identity credentials and took the node's.
                let n = &world.nodes[node];
                let c = Caller {
                    who: Who::Session(&n.session),
                    ip: &ip,
                    ua: ua::BOTO3,
                    vpce: Some(&world.vpce.s3),
                };
                let bucket = "prod-data-lake-111122223333";
                let key = s3_key(r.rng, bucket, r.now);
                r.s3_get(&c, "GetObject", bucket, &key, 48_213, None);
            }
            Later::Outside { session, ip, .. } => {
                let c = Caller {
                    who: Who::Session(&session),
                    ip: &ip,
                    ua: ua::CLI_LINUX,
                    vpce: None,
                };
                r.caller_identity(&c, None);
                r.s3_list_buckets(&c, None);
            }
        }
    }

    pub(super) fn run_episode(&mut self, episode: Episode) {
        let now = self.now();
        match episode {
            Episode::ForeignSubject => {
                // production/checkout asks for payment-service's role: not bound, refused.
                let retries = self.rng.u32(2..4);
                let ip = pod_ip(&mut self.rng);
                for _ in 0..retries {
                    self.foreign_exchange(
                        "production",
                        "checkout",
                        1,
                        &ip,
                        true,
                        ("AccessDenied", NOT_AUTHORIZED),
                    );
                    self.tick();
                }
            }
            Episode::UnregisteredIssuer => {
                let ip = pod_ip(&mut self.rng);
                let message = format!(
                    "No OpenIDConnect provider found in your account for https://{UNREGISTERED_OIDC_HOST}"
                );
                self.foreign_exchange(
                    "batch",
                    "report-job",
                    0,
                    &ip,
                    false,
                    ("InvalidIdentityToken", &message),
                );
            }
            Episode::PodIdentityRefused => {
                // A new notification-worker pod whose role does not trust pods.eks.amazonaws.com.
                let pi = self.rng.usize(..self.world.workloads[3].pods.len());
                let pod = new_pod(&mut self.rng, self.world.workloads[3].def);
                self.world.workloads[3].pods[pi] = pod;
                let node = self.world.workloads[3].pods[pi].node;
                self.ensure_node(node, false);
                self.pod_identity(3, pi, true);
            }
            Episode::UnexpectedSubject => {
                // default/debug-pod into order-service's role: the trust policy lets it in.
                let (mut r, world) = self.parts();
                let w = &world.workloads[0];
                let name = session_name(r.rng, Style::Botocore, now);
                let s = Session::assumed(
                    r.rng,
                    SessionSpec {
                        role: &w.role,
                        name: name.clone(),
                        created: now,
                        lifetime: 3600,
                        federation: Federation::Eks,
                        mfa: false,
                        delivery: None,
                    },
                );
                let ip = world.debug_pod_ip.as_str();
                let web = Caller {
                    who: Who::Web {
                        provider: OIDC_ARN,
                        subject: "system:serviceaccount:default:debug-pod",
                        with_provider: true,
                    },
                    ip,
                    ua: ua::CLI_LINUX,
                    vpce: Some(&world.vpce.sts),
                };
                r.web_identity(&web, &w.role, &name, Some(&s), None);
                let c = Caller {
                    who: Who::Session(&s),
                    ip,
                    ua: ua::CLI_LINUX,
                    vpce: Some(&world.vpce.sts),
                };
                r.caller_identity(&c, None);
            }
            Episode::HardcodedKey => {
                let (mut r, world) = self.parts();
                let c = Caller {
                    who: Who::Session(&world.exporter),
                    ip: NAT[0],
                    ua: ua::BOTO3_JA,
                    vpce: None,
                };
                for day in ["2026-11-28", "2026-11-29"] {
                    let key = format!("reports/daily/{day}.csv");
                    let size = r.rng.u64(50_000..900_000);
                    r.s3_get(&c, "GetObject", "prod-reports-111122223333", &key, size, None);
                }
            }
            Episode::Fallback => {
                // An etl-worker pod on a fresh node: its exchange fails, the SDK falls back.
                let pi = self.rng.usize(..self.world.workloads[4].pods.len());
                let pod = new_pod(&mut self.rng, self.world.workloads[4].def);
                let (node, ip) = (pod.node, pod.ip.clone());
                self.world.workloads[4].pods[pi] = pod;
                self.irsa(
                    4,
                    pi,
                    Some((
                        "IDPCommunicationError",
                        "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements",
                    )),
                );
                let due = now + self.rng.i64(20..120);
                self.later.push(Later::Fallback { due, node, ip });
            }
            Episode::WorkloadExfiltration => {
                let pi = self.rng.usize(..self.world.workloads[0].pods.len());
                let fresh = self.world.workloads[0].pods[pi]
                    .session
                    .as_ref()
                    .is_some_and(|s| s.expires - now > 1200);
                if !fresh {
                    self.exchange(0, pi);
                }
                let Some(session) = self.world.workloads[0].pods[pi].session.clone() else {
                    return;
                };
                let due = now + self.rng.i64(60..600);
                let ip = format!("198.51.100.{}", self.rng.u32(2..99));
                self.later.push(Later::Outside {
                    due,
                    session: Box::new(session),
                    ip,
                });
                // The pod itself keeps working meanwhile.
                self.tick();
                self.workload_op(0, pi, Op::DdbQuery("orders"));
            }
            Episode::NodeExfiltration => {
                let ni = self.rng.usize(..NODES);
                self.ensure_node(ni, false);
                let (mut r, world) = self.parts();
                let c = Caller {
                    who: Who::Session(&world.nodes[ni].session),
                    ip: "198.51.100.23",
                    ua: ua::CLI_LINUX,
                    vpce: None,
                };
                let n = r.rng.usize(1..4);
                r.describe_instances(&c, None, n, None);
            }
            Episode::Imdsv1 => {
                let (mut r, world) = self.parts();
                let instance = hex_id(r.rng, "i-0", 16);
                let s = Session::assumed(
                    r.rng,
                    SessionSpec {
                        role: &world.bastion_role,
                        name: instance.clone(),
                        created: now - 1800,
                        lifetime: 21_600,
                        federation: Federation::Omit,
                        mfa: false,
                        delivery: Some("1.0"),
                    },
                );
                let c = Caller {
                    who: Who::Session(&s),
                    ip: "10.0.1.25",
                    ua: ua::SSM_AGENT,
                    vpce: Some(&world.vpce.ssm),
                };
                r.ssm(&c, "UpdateInstanceInformation", &instance);
                let c = Caller {
                    ua: ua::CLI_LINUX,
                    vpce: Some(&world.vpce.ec2),
                    ..c
                };
                r.describe_instances(&c, Some(&instance), 1, None);
            }
            Episode::TrustPolicyChange => {
                let (mut r, world) = self.parts();
                let c = admin_caller(world, 0);
                r.update_trust_policy(
                    &c,
                    "prod-production-order-service",
                    ("production", "order-service"),
                    None,
                );
            }
            Episode::OtherChange => {
                self.changes += 1;
                let variant = self.changes % 3;
                let (mut r, world) = self.parts();
                let c = admin_caller(world, 1);
                match variant {
                    0 => r.create_association(
                        &c,
                        "production",
                        "notification-worker",
                        &world.workloads[3].role,
                    ),
                    1 => {
                        let key = random_id(r.rng, "AKIA", B32, 16);
                        r.create_access_key(&c, "reports-exporter", &key);
                    }
                    _ => r.update_thumbprint(&c),
                }
            }
            Episode::DeniedBurst => {
                // A checkout-web pod probing what its credentials can do.
                let pi = self.rng.usize(..self.world.workloads[2].pods.len());
                self.ensure_credentials(2, pi);
                const PROBES: [(&str, &str); 12] = [
                    ("iam:ListRoles", "arn:aws:iam::111122223333:role/"),
                    ("s3:ListBuckets", "*"),
                    ("secretsmanager:ListSecrets", "*"),
                    ("kms:ListKeys", "*"),
                    ("ec2:DescribeInstances", "*"),
                    ("ssm:DescribeParameters", "*"),
                    ("dynamodb:ListTables", "*"),
                    ("lambda:ListFunctions", "*"),
                    ("iam:ListUsers", "arn:aws:iam::111122223333:user/"),
                    ("sqs:ListQueues", "*"),
                    (
                        "secretsmanager:GetSecretValue",
                        "arn:aws:secretsmanager:ap-southeast-1:111122223333:secret:prod/payment/stripe-api-key-a1B2c3",
                    ),
                    ("iam:GetAccountAuthorizationDetails", "*"),
                ];
                for (action, resource) in PROBES {
                    self.tick();
                    let (mut r, world) = self.parts();
                    let pod = &world.workloads[2].pods[pi];
                    let Some(s) = pod.session.as_ref() else { return };
                    let c = Caller {
                        who: Who::Session(s),
                        ip: NAT[world.nodes[pod.node].nat],
                        ua: ua::CLI_LINUX,
                        vpce: None,
                    };
                    r.denied(&c, &s.arn, action, resource);
                }
            }
            Episode::CrossAccount => {
                let pi = self.rng.usize(..self.world.workloads[0].pods.len());
                self.ensure_credentials(0, pi);
                self.tick();
                let now = self.now();
                let (mut r, world) = self.parts();
                let pod = &world.workloads[0].pods[pi];
                let Some(s) = pod.session.as_ref() else { return };
                let issued = Session::assumed(
                    r.rng,
                    SessionSpec {
                        role: &world.untrusted_role,
                        name: "order-export".into(),
                        created: now,
                        lifetime: 3600,
                        federation: Federation::Empty,
                        mfa: false,
                        delivery: None,
                    },
                );
                let c = Caller {
                    who: Who::Session(s),
                    ip: &pod.ip,
                    ua: ua::JAVA,
                    vpce: Some(&world.vpce.sts),
                };
                r.assume_role(&c, &world.untrusted_role, &issued, None);
            }
            Episode::NodeMisuse => {
                // A pod without its own role reads a secret with the node's credentials.
                let ni = self.rng.usize(..NODES);
                self.ensure_node(ni, false);
                let (mut r, world) = self.parts();
                let node = &world.nodes[ni];
                let c = Caller {
                    who: Who::Session(&node.session),
                    ip: NAT[node.nat],
                    ua: ua::BOTO3,
                    vpce: None,
                };
                r.secret_get(&c, "prod/payment/stripe-api-key", None);
            }
        }
    }

    /// A failed exchange by a service account that is not the workload's own.
    pub(super) fn foreign_exchange(
        &mut self,
        ns: &str,
        sa: &str,
        wi: usize,
        ip: &str,
        registered: bool,
        err: (&str, &str),
    ) {
        let now = self.now();
        let (mut r, world) = self.parts();
        let w = &world.workloads[wi];
        let subject = format!("system:serviceaccount:{ns}:{sa}");
        let name = session_name(r.rng, Style::Js, now);
        let provider = if registered {
            OIDC_ARN
        } else {
            UNREGISTERED_OIDC_HOST
        };
        let c = Caller {
            who: Who::Web {
                provider,
                subject: &subject,
                with_provider: registered,
            },
            ip,
            ua: ua::JS,
            vpce: Some(&world.vpce.sts),
        };
        r.web_identity(&c, &w.role, &name, None, Some(err));
    }
}
