//! Everyone but the workloads: nodes, AWS services, people and CI.

use crate::synth::json::hex_id;
use crate::synth::records::{Caller, Who};
use crate::synth::world::{
    CI_RUNNER_IPS, Federation, GITHUB_OIDC_ARN, LEGACY_CI_IP, NODES, OFFICE_IP, Session, SessionSpec,
    WORKLOADS, ua,
};

use super::workload::s3_key;
use super::{Gen, chance, node_caller, pick};

/// A node's own traffic (all of it in the node allowlist).
#[derive(Clone, Copy)]
enum NodeOp {
    EcrAuth,
    Pull,
    DescribeSelf,
    Enis,
    AssignIps,
    NewEni,
    InstanceTypes,
    Autoscaling,
    Logs,
    Ssm,
    Eks,
    CallerIdentity,
}

const NODE_OPS: [(u32, NodeOp); 12] = [
    (10, NodeOp::EcrAuth),
    (12, NodeOp::Pull),
    (10, NodeOp::DescribeSelf),
    (9, NodeOp::Enis),
    (5, NodeOp::AssignIps),
    (1, NodeOp::NewEni),
    (3, NodeOp::InstanceTypes),
    (6, NodeOp::Autoscaling),
    (8, NodeOp::Logs),
    (14, NodeOp::Ssm),
    (3, NodeOp::Eks),
    (3, NodeOp::CallerIdentity),
];

impl Gen {
    pub(super) fn node_step(&mut self) {
        let ni = self.rng.usize(..NODES);
        if self.ensure_node(ni, false) {
            self.tick();
        }
        let op = pick(&mut self.rng, &NODE_OPS);
        let (mut r, world) = self.parts();
        let node = &world.nodes[ni];
        let v = &world.vpce;
        match op {
            NodeOp::EcrAuth => {
                let vpce = r.rng.bool().then_some(v.ecr_api.as_str());
                r.ecr_auth(&node_caller(node, vpce, ua::ECR_CRED), false);
            }
            NodeOp::Pull => {
                let c = node_caller(node, Some(&v.ecr_dkr), ua::CONTAINERD);
                let repo = [
                    "order-service",
                    "payment-service",
                    "checkout-web",
                    "etl-worker",
                    "fluent-bit",
                ][r.rng.usize(..5)];
                r.ecr_pull(&c, repo, Some("v1.42.1"));
                r.ecr_pull(&c, repo, None);
            }
            NodeOp::DescribeSelf => {
                let c = node_caller(node, Some(&v.ec2), ua::CNI);
                r.describe_instances(&c, Some(&node.instance), 1, None);
            }
            NodeOp::Enis | NodeOp::AssignIps => {
                let name = if matches!(op, NodeOp::Enis) {
                    "DescribeNetworkInterfaces"
                } else {
                    "AssignPrivateIpAddresses"
                };
                r.cni(&node_caller(node, Some(&v.ec2), ua::CNI), name, &node.instance);
            }
            NodeOp::NewEni => {
                let c = node_caller(node, Some(&v.ec2), ua::CNI);
                for name in ["CreateNetworkInterface", "AttachNetworkInterface", "CreateTags"] {
                    r.cni(&c, name, &node.instance);
                }
            }
            NodeOp::InstanceTypes => {
                let n = r.rng.usize(120..240);
                r.describe_instance_types(&node_caller(node, Some(&v.ec2), ua::AUTOSCALER), n);
            }
            NodeOp::Autoscaling => {
                let set = chance(r.rng, 50).then(|| r.rng.u64(4..12));
                r.autoscaling(&node_caller(node, None, ua::AUTOSCALER), set);
            }
            NodeOp::Logs => {
                let name = if r.rng.bool() {
                    "CreateLogStream"
                } else {
                    "DescribeLogStreams"
                };
                r.logs(
                    &node_caller(node, Some(&v.logs), ua::FLUENTBIT),
                    name,
                    &node.instance,
                );
            }
            NodeOp::Ssm => {
                let (name, vpce) = match r.rng.u32(..3) {
                    0 => ("UpdateInstanceInformation", &v.ssm),
                    1 => ("ListInstanceAssociations", &v.ssm),
                    _ => ("GetMessages", &v.ec2messages),
                };
                r.ssm(
                    &node_caller(node, Some(vpce), ua::SSM_AGENT),
                    name,
                    &node.instance,
                );
            }
            NodeOp::Eks => r.eks_read(&node_caller(node, Some(&v.eks), ua::KUBELET), "DescribeCluster"),
            NodeOp::CallerIdentity => r.caller_identity(&node_caller(node, Some(&v.sts), ua::CNI), None),
        }
    }

    /// AWS services at work: EKS's and Auto Scaling's service-linked roles, EC2 vending
    /// instance credentials.
    pub(super) fn service_step(&mut self) {
        match self.rng.u32(..10) {
            0..5 => {
                let (mut r, world) = self.parts();
                let c = Caller {
                    who: Who::InvokedBy(&world.eks_slr, "eks.amazonaws.com"),
                    ip: "eks.amazonaws.com",
                    ua: "eks.amazonaws.com",
                    vpce: None,
                };
                if r.rng.bool() {
                    let n = r.rng.usize(1..6);
                    r.describe_instances(&c, None, n, None);
                } else {
                    let node = &world.nodes[r.rng.usize(..NODES)];
                    r.cni(&c, "DescribeNetworkInterfaces", &node.instance);
                }
            }
            5..8 => {
                let (mut r, world) = self.parts();
                let c = Caller {
                    who: Who::InvokedBy(&world.asg_slr, "autoscaling.amazonaws.com"),
                    ip: "autoscaling.amazonaws.com",
                    ua: "autoscaling.amazonaws.com",
                    vpce: None,
                };
                let n = r.rng.usize(3..13);
                r.describe_instances(&c, None, n, None);
            }
            _ => {
                let ni = self.rng.usize(..NODES);
                self.ensure_node(ni, true);
            }
        }
    }

    /// Platform engineers through IAM Identity Center: console and CLI reads.
    pub(super) fn human_step(&mut self) {
        let now = self.now();
        let ai = self.rng.usize(..self.world.admins.len());
        if now >= self.world.admins[ai].expires {
            let (r, world) = self.parts();
            let name = world.admins[ai].name.clone();
            world.admins[ai] = Session::assumed(
                r.rng,
                SessionSpec {
                    role: &world.admin_role,
                    name,
                    created: now,
                    lifetime: 12 * 3600,
                    federation: Federation::Empty,
                    mfa: false,
                    delivery: None,
                },
            );
        }
        let (mut r, world) = self.parts();
        let s = &world.admins[ai];
        let ua = if r.rng.bool() { ua::CONSOLE } else { ua::CLI_MAC };
        let c = Caller {
            who: Who::Session(s),
            ip: OFFICE_IP,
            ua,
            vpce: None,
        };
        let role = WORKLOADS[r.rng.usize(..WORKLOADS.len())].role;
        match r.rng.u32(..100) {
            0..15 => r.eks_read(&c, "DescribeCluster"),
            15..25 => r.eks_read(&c, "ListNodegroups"),
            25..40 => r.iam_read(&c, "GetRole", role, None),
            40..50 => r.iam_read(&c, "ListAttachedRolePolicies", role, None),
            50..55 => r.iam_read(&c, "ListRoles", "", None),
            55..65 => r.describe_stacks(&c),
            65..75 => r.s3_list_buckets(&c, None),
            75..85 => r.caller_identity(&c, None),
            85..97 => {
                // The EC2 console listing the fleet: a large instancesSet.
                let n = r.rng.usize(150..1400);
                r.describe_instances(&c, None, n, None);
            }
            97..99 => {
                let message = format!("The role with name {role}-old cannot be found.");
                r.iam_read(
                    &c,
                    "GetRole",
                    &format!("{role}-old"),
                    Some(("NoSuchEntityException", &message)),
                );
            }
            _ => {
                // A trust policy naming a role that was deleted: IAM quotes the principal.
                let message = "Invalid principal in policy: \"AWS\":\"arn:aws:iam::111122223333:role/reporting-lambda-role-old\"";
                r.update_trust_policy(
                    &c,
                    "reporting-lambda-role",
                    ("reporting", "lambda"),
                    Some(("MalformedPolicyDocumentException", message)),
                );
            }
        }
    }

    /// A GitHub Actions deploy: web identity exchange, image push, cluster lookup.
    pub(super) fn ci_step(&mut self) {
        let now = self.now();
        let (mut r, world) = self.parts();
        let ip = CI_RUNNER_IPS[r.rng.usize(..CI_RUNNER_IPS.len())];
        let subject = "repo:example-org/shop:ref:refs/heads/main";
        let s = Session::assumed(
            r.rng,
            SessionSpec {
                role: &world.github_role,
                name: "GitHubActions".into(),
                created: now,
                lifetime: 3600,
                federation: Federation::GitHub,
                mfa: false,
                delivery: None,
            },
        );
        let web = Caller {
            who: Who::Web {
                provider: GITHUB_OIDC_ARN,
                subject,
                with_provider: true,
            },
            ip,
            ua: ua::GITHUB,
            vpce: None,
        };
        if chance(r.rng, 50) {
            // A workflow that put a space in its session name; the retry uses the default.
            let message = "1 validation error detected: Value 'GitHub Actions' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*";
            r.web_identity(
                &web,
                &world.github_role,
                "GitHub Actions",
                None,
                Some(("ValidationError", message)),
            );
        }
        r.web_identity(&web, &world.github_role, "GitHubActions", Some(&s), None);
        let tag = format!("sha-{}", hex_id(r.rng, "", 7));
        let repo = WORKLOADS[r.rng.usize(..5)].sa;
        let mut c = Caller {
            who: Who::Session(&s),
            ip,
            ua: ua::GITHUB,
            vpce: None,
        };
        r.ecr_auth(&c, false);
        c.ua = ua::DOCKER;
        for name in [
            "BatchCheckLayerAvailability",
            "InitiateLayerUpload",
            "UploadLayerPart",
            "CompleteLayerUpload",
            "PutImage",
        ] {
            r.ecr_push(&c, name, repo, &tag);
        }
        c.ua = ua::GITHUB;
        r.eks_read(&c, "DescribeCluster");
    }

    /// The allowlisted legacy CI user and its long-term key.
    pub(super) fn legacy_ci_step(&mut self) {
        let now = self.now();
        let (mut r, world) = self.parts();
        let c = Caller {
            who: Who::Session(&world.legacy_ci),
            ip: LEGACY_CI_IP,
            ua: ua::CLI_OLD,
            vpce: None,
        };
        if r.rng.bool() {
            r.ecr_auth(&c, true);
        } else {
            let bucket = "prod-static-assets-111122223333";
            let key = s3_key(r.rng, bucket, now);
            let size = r.rng.u64(10_000..5_000_000);
            r.s3_put(&c, bucket, &key, size, 0, None);
        }
    }
}
