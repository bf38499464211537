//! Node-role sessions: credentials an EC2 node got from IMDS, used for what nodes do —
//! or by a pod, or from somewhere else.

use foldhash::{HashMap, HashSet};

use crate::config::Inventory;
use crate::finding::{Finding, MAX_FIELD_CHARS, Severity, clean};
use crate::record::RecordView;

use super::{
    IMDSV1_CREDENTIAL_USE, NODE_CREDENTIAL_EXFILTRATION, NODE_ROLE_MISUSE, away_from, short_role,
    source_is_the_callers,
};

/// What an EKS node itself needs: image pulls (pull-through cache included), the VPC
/// CNI's ENI and IP calls, the reads AmazonEKSWorkerNodePolicy and AmazonEKS_CNI_Policy
/// grant, logs, metrics and trace agents, the SSM agent, cluster discovery and the Pod
/// Identity agent. EC2 reads are named one by one: `ec2:Describe*` would also let a pod
/// read instances' user data (DescribeInstanceAttribute) unseen.
const NODE_ALLOWLIST: &[&str] = &[
    "ecr:GetAuthorizationToken",
    "ecr:BatchGetImage",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:Describe*",
    "ecr:List*",
    "ecr-public:GetAuthorizationToken",
    // ECR pull-through cache: the first pull of an image creates its repository.
    "ecr:CreateRepository",
    "ecr:BatchImportUpstreamImage",
    "sts:GetServiceBearerToken",
    "ec2:DescribeInstances",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DescribeTags",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVolumes",
    "ec2:DescribeVolumesModifications",
    "ec2:DescribeVpcs",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
    "ec2:AssignIpv6Addresses",
    "ec2:UnassignIpv6Addresses",
    "ec2:AttachNetworkInterface",
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DetachNetworkInterface",
    "ec2:ModifyNetworkInterfaceAttribute",
    "ec2:CreateTags",
    "eks:DescribeCluster",
    "eks-auth:AssumeRoleForPodIdentity",
    "sts:GetCallerIdentity",
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
    "logs:PutRetentionPolicy",
    "cloudwatch:PutMetricData",
    // The CloudWatch agent's traces (CloudWatchAgentServerPolicy; Application Signals).
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
    "ssm:UpdateInstanceInformation",
    "ssm:ListInstanceAssociations",
    "ssm:ListAssociations",
    "ssm:DescribeAssociation",
    "ssm:GetDocument",
    "ssm:DescribeDocument",
    "ssm:UpdateInstanceAssociationStatus",
    "ssm:PutInventory",
    "ssm:PutComplianceItems",
    "ssm:GetManifest",
    "ssm:GetDeployablePatchSnapshotForInstance",
    "ssmmessages:*",
    "ec2messages:*",
];

/// A set of IAM actions: exact names and `prefix*` patterns.
#[derive(Debug, Default, Clone)]
pub struct ActionSet {
    /// Exact action names by service.
    exact: HashMap<String, HashSet<String>>,
    /// `service:Name*` as (service, name prefix); `serv*` (no colon) as (prefix, None).
    prefixes: Vec<(String, Option<String>)>,
}

impl ActionSet {
    /// The built-in node allowlist plus `extra` patterns from config.
    pub fn node_defaults(extra: &[String]) -> Self {
        let mut set = Self::default();
        for pattern in NODE_ALLOWLIST
            .iter()
            .copied()
            .chain(extra.iter().map(String::as_str))
        {
            match (pattern.strip_suffix('*'), pattern.split_once(':')) {
                (Some(prefix), _) => set.prefixes.push(match prefix.split_once(':') {
                    Some((service, name)) => (service.to_string(), Some(name.to_string())),
                    None => (prefix.to_string(), None),
                }),
                (None, Some((service, name))) => {
                    set.exact
                        .entry(service.to_string())
                        .or_default()
                        .insert(name.to_string());
                }
                // Not an action (no service): it can match nothing.
                (None, None) => {}
            }
        }
        set
    }

    /// Whether `service:name` is in the set.
    pub fn contains(&self, service: &str, name: &str) -> bool {
        self.exact.get(service).is_some_and(|names| names.contains(name))
            || self.prefixes.iter().any(|(s, n)| match n {
                Some(n) => s == service && name.starts_with(n.as_str()),
                None => service.starts_with(s.as_str()),
            })
    }
}

/// Whether the session holds EC2 instance-profile credentials: only those carry
/// `ec2RoleDelivery` (how IMDS delivered them).
fn is_instance_session(record: &RecordView<'_>) -> bool {
    // `aws:ec2-instance` is the SSM default host management role, not an instance profile.
    record.identity.ec2_role_delivery.is_some()
        && !record
            .identity
            .arn
            .is_some_and(|arn| arn.contains("assumed-role/aws:ec2-instance/"))
}

/// The node-role rules for an `AssumedRole` record.
pub fn node_session(record: &RecordView<'_>, inv: &Inventory, allow: &ActionSet, out: &mut Vec<Finding>) {
    let on = &inv.detections;
    let cluster = inv.cluster_by_node_role_at(
        record.identity.issuer_arn,
        record.identity.arn,
        record.source_addr,
        record.vpc_endpoint_id,
    );
    if cluster.is_none() && !is_instance_session(record) {
        return;
    }
    let role = record.identity.issuer_arn;
    // Texts for findings, made only when there is one (most node calls make none).
    let role_short = || {
        clean(
            role.or(record.identity.arn).map_or("", short_role),
            MAX_FIELD_CHARS,
        )
    };
    let cluster_name = cluster.map(|c| inv.clusters[c].name.as_str());
    let action = || {
        record.action().map_or_else(
            || "(unknown action)".to_string(),
            |(s, n)| clean(&format!("{s}:{n}"), MAX_FIELD_CHARS),
        )
    };
    let is_call = matches!(record.event_type, None | Some("AwsApiCall"));

    if on.imdsv1_credential_use.enabled && record.identity.ec2_role_delivery == Some("1.0") {
        // Unlisted instance roles still get the finding (IMDSv1 is wrong everywhere), one
        // step lower: without config it is not known to be an EKS node.
        let (role_short, action) = (role_short(), action());
        let (severity, whose) = match cluster_name {
            Some(c) => (Severity::Medium, format!("node role {role_short} of cluster {c}")),
            None => (
                Severity::Low,
                format!("instance role {role_short} (not a configured node role)"),
            ),
        };
        out.push(
            Finding::new(IMDSV1_CREDENTIAL_USE, severity, record)
                .cluster(cluster_name)
                .role(role)
                .text(
                    format!("IMDSv1 credentials of {role_short} used for {action}"),
                    format!("{action} was signed with credentials of {whose} that IMDSv1 delivered (ec2RoleDelivery 1.0)."),
                )
                .advice(
                    "IMDSv1 hands out credentials to any unauthenticated GET, so an SSRF in any pod \
                     or process on the instance can take them."
                        .into(),
                    "Require IMDSv2 in the launch template (HttpTokens=required) with a hop limit of 1, \
                     so pods cannot reach the node's credentials."
                        .into(),
                ),
        );
    }

    let Some(cluster) = cluster else { return };
    let cluster_name = inv.clusters[cluster].name.as_str();

    if on.node_role_misuse.enabled
        && is_call
        && let Some((service, name)) = record.action()
        && !allow.contains(service, name)
    {
        let failed = record
            .error_code
            .map(|c| format!(" (it failed with {})", clean(c, 64)))
            .unwrap_or_default();
        let (role_short, action) = (role_short(), action());
        out.push(
            Finding::new(NODE_ROLE_MISUSE, Severity::High, record)
                .cluster(Some(cluster_name))
                .role(role)
                .text(
                    format!("Node role {role_short} called {action}"),
                    format!(
                        "The node role of cluster {cluster_name} called {action}, which nodes \
                                 do not need{failed}: a pod is most likely using the node's IMDS credentials."
                    ),
                )
                .advice(
                    "Pods without their own IRSA or Pod Identity role fall back to the node's \
                             instance-profile credentials from IMDS."
                        .into(),
                    "Give the workload its own role (IRSA or Pod Identity), block pod access to \
                             IMDS (IMDSv2 hop limit 1 or a network policy), and keep the node role to \
                             what nodes need."
                        .into(),
                ),
        );
    }

    if on.node_credential_exfiltration.enabled && is_call && source_is_the_callers(record) {
        let Some((from, what)) =
            away_from(&inv.clusters[cluster], record.source_addr, record.vpc_endpoint_id)
        else {
            return;
        };
        let (role_short, action) = (role_short(), action());
        out.push(
            Finding::new(NODE_CREDENTIAL_EXFILTRATION, Severity::Critical, record)
                .cluster(Some(cluster_name))
                .role(role)
                .text(
                    format!(
                        "Node credentials of {role_short} used from {from}, outside cluster {cluster_name}"
                    ),
                    format!(
                        "{action} was signed with the node role of cluster {cluster_name} from {from}, \
                         which is not one of the cluster's {what}: the instance credentials have left the \
                         cluster."
                    ),
                )
                .advice(
                    "Instance-profile credentials were taken from a node (IMDS, a compromised pod) and \
                     are being used elsewhere."
                        .into(),
                    format!(
                        "Revoke the role's sessions now (IAM → Roles → {role_short} → Revoke active \
                         sessions, an aws:TokenIssueTime deny), then investigate the instance in the \
                         session name and what called IMDS."
                    ),
                ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_allowlist() {
        let set = ActionSet::node_defaults(&["autoscaling:Describe*".into(), "s3:GetObject".into()]);
        let cases = [
            ("ecr", "BatchGetImage", true),
            ("ec2", "DescribeInstances", true),
            ("ec2", "DescribeInstanceAttribute", false),
            ("ec2", "DescribeLaunchTemplateVersions", false),
            ("ecr", "CreateRepository", true),
            ("xray", "PutTraceSegments", true),
            ("ec2", "RunInstances", false),
            ("s3", "GetObject", true),
            ("s3", "PutObject", false),
            ("autoscaling", "DescribeAutoScalingGroups", true),
            ("secretsmanager", "GetSecretValue", false),
            ("ssmmessages", "OpenDataChannel", true),
        ];
        for (service, name, want) in cases {
            assert_eq!(set.contains(service, name), want, "{service}:{name}");
        }
    }
}
