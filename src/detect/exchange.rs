//! Credential exchanges: IRSA (`sts:AssumeRoleWithWebIdentity`) and EKS Pod Identity
//! (`eks-auth:AssumeRoleForPodIdentity`, then `sts:AssumeRole` by pods.eks.amazonaws.com).

use crate::config::{Binding, Inventory, Named};
use crate::finding::{Finding, MAX_FIELD_CHARS, Severity, clean};
use crate::record::{PodTags, RecordView};

use super::{
    IRSA_ASSUME_FAILURE, POD_IDENTITY_FAILURE, UNEXPECTED_WEB_IDENTITY_SUBJECT, is_access_denied,
    service_account_subject, short_role,
};

const PODS_EKS: &str = "pods.eks.amazonaws.com";

/// Whether an AssumeRoleWithWebIdentity came from a Kubernetes service account token
/// (an EKS OIDC provider, a configured one, or a `system:serviceaccount:` subject).
fn is_eks_web_identity(record: &RecordView<'_>, cluster: Option<usize>) -> bool {
    cluster.is_some()
        || record
            .identity
            .identity_provider
            .is_some_and(|p| p.contains("oidc.eks."))
        || record
            .identity
            .user_name
            .is_some_and(|s| s.starts_with("system:serviceaccount:"))
}

/// How a subject relates to the role's bindings in config.
enum BindingCheck {
    /// The role has no bindings: nothing to compare.
    Unbound,
    /// The subject is one the role is bound to.
    Allowed,
    /// The role is bound, but not to this subject; the bindings it has, and whether one
    /// of them names the subject (which then came from another cluster or issuer).
    Other(Vec<String>, bool),
}

/// Where an exchange says its service account is, and the configured cluster that is.
#[derive(Debug, Clone, Copy)]
enum Origin<'a> {
    /// The record does not say.
    Unsaid,
    /// IRSA: the token's OIDC issuer (`identityProvider`).
    Issuer(&'a str, Option<usize>),
    /// Pod Identity: the `eks-cluster-name` session tag.
    Tagged(&'a str, Option<usize>),
}

impl<'a> Origin<'a> {
    /// The issuer of a web-identity exchange, whose cluster `cluster` is.
    fn issuer(record: &RecordView<'a>, cluster: Option<usize>) -> Self {
        record
            .identity
            .identity_provider
            .map_or(Origin::Unsaid, |p| Origin::Issuer(p, cluster))
    }

    /// Whether the exchange may come from the cluster of `binding`: a service account of
    /// the same name in another cluster, or behind an OIDC issuer no cluster has, is not
    /// the bound one. An unknown issuer is only judged against a cluster whose
    /// `oidc_provider` is configured.
    fn admits(self, inv: &Inventory, binding: &Binding) -> bool {
        match self {
            Origin::Unsaid => true,
            Origin::Issuer(_, Some(c)) | Origin::Tagged(_, Some(c)) => c == binding.cluster,
            Origin::Issuer(_, None) => inv.clusters[binding.cluster].oidc_provider.is_none(),
            Origin::Tagged(_, None) => false,
        }
    }
}

fn check_binding(
    inv: &Inventory,
    role_arn: Option<&str>,
    origin: Origin<'_>,
    ns: Option<&str>,
    sa: Option<&str>,
) -> BindingCheck {
    let Some(role_arn) = role_arn else {
        return BindingCheck::Unbound;
    };
    let bindings: Vec<&Binding> = inv.bindings_of(role_arn).collect();
    if bindings.is_empty() {
        return BindingCheck::Unbound;
    }
    let mut named = false;
    if let (Some(ns), Some(sa)) = (ns, sa) {
        for b in bindings.iter().filter(|b| b.allows(ns, sa)) {
            if origin.admits(inv, b) {
                return BindingCheck::Allowed;
            }
            named = true;
        }
    }
    BindingCheck::Other(
        bindings
            .iter()
            .map(|b| {
                format!(
                    "{}/{} in {}",
                    b.namespace, b.service_account, inv.clusters[b.cluster].name
                )
            })
            .collect(),
        named,
    )
}

/// `irsa-assume-failure`: a failed AssumeRoleWithWebIdentity with a service account token.
pub fn irsa_failure(record: &RecordView<'_>, inv: &Inventory, out: &mut Vec<Finding>) {
    if record.event_name != Some("AssumeRoleWithWebIdentity") {
        return;
    }
    let Some(code) = record.error_code else { return };
    let cluster = record
        .identity
        .identity_provider
        .and_then(|p| inv.cluster_by_oidc(p));
    if !is_eks_web_identity(record, cluster) {
        return;
    }
    let subject = record.identity.user_name.unwrap_or("(unknown subject)");
    let (ns, sa) = service_account_subject(subject).unzip();
    let role = record.request.role_arn;
    let role_short = role.map_or("(unknown role)", short_role);
    let binding = check_binding(inv, role, Origin::issuer(record, cluster), ns, sa);
    let severity = match binding {
        BindingCheck::Other(..) => Severity::High,
        _ => Severity::Medium,
    };
    let subject_c = clean(subject, MAX_FIELD_CHARS);
    let role_c = clean(role.unwrap_or("(unknown role)"), MAX_FIELD_CHARS);
    let issuer = record
        .identity
        .identity_provider
        .and_then(|p| p.rsplit_once("oidc-provider/").map(|(_, i)| i))
        .map_or_else(|| "<oidc issuer>".to_string(), |i| clean(i, MAX_FIELD_CHARS));
    let message = record.error_message.unwrap_or_default();
    let (mut diagnosis, remediation) = irsa_advice(code, message, &subject_c, &role_c, &issuer);
    if let BindingCheck::Other(bound, _) = &binding {
        diagnosis.push_str(&format!(
            " The configured bindings give {role_short} to {}, not to {subject_c}: the pod may run \
             with the wrong service account, or its role annotation points at another workload's role.",
            bound.join(", ")
        ));
    }
    let cluster_name = cluster.map(|c| inv.clusters[c].name.as_str());
    let title = format!(
        "IRSA exchange failed ({}) for {} → {}",
        clean(code, 64),
        ns.zip(sa).map_or_else(
            || subject_c.clone(),
            |(n, s)| clean(&format!("{n}/{s}"), MAX_FIELD_CHARS)
        ),
        clean(role_short, MAX_FIELD_CHARS)
    );
    let summary = format!(
        "sts:AssumeRoleWithWebIdentity for {subject_c} into {role_c} failed with {}{}.",
        clean(code, 64),
        cluster_name
            .map(|c| format!(" in cluster {c}"))
            .unwrap_or_default()
    );
    out.push(
        Finding::new(IRSA_ASSUME_FAILURE, severity, record)
            .cluster(cluster_name)
            .workload(ns, sa)
            .role(role)
            .text(title, summary)
            .advice(diagnosis, remediation),
    );
}

/// An error code as the advice tables name it: CloudTrail writes some codes with the
/// SDK's `Exception` suffix (`PackedPolicyTooLargeException`) and some without
/// (`InvalidIdentityToken`), so both spellings read the same.
fn base_code(code: &str) -> &str {
    code.strip_suffix("Exception").unwrap_or(code)
}

/// Whether an eks-auth AssumeRoleForPodIdentity failed for an expired token: often the
/// agent renewing credentials for a pod that has gone, which no running pod suffers.
pub(crate) fn is_agent_token_expired(code: &str) -> bool {
    base_code(code) == "ExpiredToken"
}

/// The guide's troubleshooting table, by error code and, where one code has several
/// causes, by the event's errorMessage: (diagnosis, remediation).
fn irsa_advice(code: &str, message: &str, subject: &str, role: &str, issuer: &str) -> (String, String) {
    match base_code(code) {
        c if is_access_denied(c) => (
            format!(
                "The trust policy of {role} does not accept this token: its `sub` condition must \
                 match `{subject}` and its `aud` condition `sts.amazonaws.com`, for the federated \
                 principal of the cluster's OIDC provider ({issuer})."
            ),
            format!(
                "Check the trust policy of {role}: Principal.Federated = the OIDC provider ARN of \
                 {issuer}; Condition StringEquals `{issuer}:sub` = `{subject}` and `{issuer}:aud` = \
                 `sts.amazonaws.com`. Check the eks.amazonaws.com/role-arn annotation on the service account."
            ),
        ),
        "InvalidIdentityToken" if message.contains("audience") => (
            format!(
                "STS rejected the token's audience: the IAM OIDC provider for {issuer} does not list \
                 the token's `aud` among its client ids."
            ),
            format!(
                "Add `sts.amazonaws.com` to the client ids of the OIDC provider for {issuer} \
                 (`aws iam add-client-id-to-open-id-connect-provider`), or project the token with \
                 that audience (the pod identity webhook does by default)."
            ),
        ),
        "InvalidIdentityToken" => (
            format!(
                "STS could not validate the token: no IAM OIDC provider for {issuer} in this account, \
                 or the token was not signed by that issuer's current keys (for an issuer outside \
                 AWS, a provider thumbprint that no longer matches its certificate)."
            ),
            format!(
                "Check `aws iam list-open-id-connect-providers` lists {issuer}; create it from the \
                 cluster's issuer URL (`eksctl utils associate-iam-oidc-provider`) if it is missing."
            ),
        ),
        "ExpiredToken" => (
            "The projected service account token had expired when it was presented (tokens are \
             valid for 24 hours by default): the SDK in the pod does not re-read the refreshed token file."
                .to_string(),
            "Upgrade the AWS SDK in the workload to a version that refreshes web identity tokens \
             (and credentials) automatically; do not cache the token yourself."
                .to_string(),
        ),
        "IDPCommunicationError" => (
            format!("STS could not reach the OIDC issuer {issuer} to fetch its signing keys."),
            "Usually transient: let the SDK retry with backoff. If it persists, check the cluster's \
             OIDC issuer endpoint and the AWS Health dashboard."
                .to_string(),
        ),
        "IDPRejectedClaim" => (
            format!(
                "The OIDC issuer {issuer} reported that authentication failed: a claim of the token \
                 is invalid, or the token has expired or been revoked."
            ),
            "Check the pod presents its current projected token (the service account was not \
             deleted and recreated since it was issued) and that the SDK re-reads the token file."
                .to_string(),
        ),
        "RegionDisabled" => (
            "STS is not activated, for this account, in the region the pod called.".to_string(),
            "Activate STS for that region in the IAM account settings, or point the workload at a \
             region where it is active (AWS_REGION)."
                .to_string(),
        ),
        "PackedPolicyTooLarge" => (
            "The session policy and session tags of the exchange are too large once packed (the \
             errorMessage gives the share of the limit); with web identity the tags come from the \
             token's claims."
                .to_string(),
            "Shorten the session policy the workload passes to AssumeRoleWithWebIdentity, or the \
             session tags its token carries."
                .to_string(),
        ),
        "MalformedPolicyDocument" => (
            "The session policy passed with the exchange is not a valid policy document (the \
             errorMessage says where)."
                .to_string(),
            "Fix the session policy the workload passes to AssumeRoleWithWebIdentity.".to_string(),
        ),
        _ => (
            format!(
                "AssumeRoleWithWebIdentity failed with {}; see the event's errorMessage.",
                clean(code, 64)
            ),
            format!(
                "Test the exchange by hand: `aws sts assume-role-with-web-identity --role-arn {role} …` with the pod's token."
            ),
        ),
    }
}

/// The cluster a Pod Identity session's tags name: its index when it is the configured
/// cluster of that name and `eks-cluster-arn` does not place it in another account or
/// region, and the name to show: the configured one, or the ARN of a same-named cluster
/// elsewhere (a name no configured cluster has, so that nothing takes it for one).
pub fn tagged_cluster<'r>(tags: &PodTags<'r>, inv: &'r Inventory) -> Option<(Option<usize>, &'r str)> {
    let name = tags.cluster?;
    let (account, region) = tags.cluster_place();
    Some(match inv.cluster_named(name, account, region) {
        Named::Configured(c) => (Some(c), inv.clusters[c].name.as_str()),
        Named::Elsewhere => (None, tags.cluster_arn.unwrap_or(name)),
        Named::Unconfigured => (None, name),
    })
}

/// The cluster an eks-auth call names (`clusterName`), where the call was made: eks-auth
/// is regional and names clusters of its own account and region. Its index when that is
/// the configured cluster, and the name to show (for a same-named cluster elsewhere, with
/// its region).
pub fn eks_auth_cluster(record: &RecordView<'_>, inv: &Inventory) -> Option<(Option<usize>, String)> {
    let name = record.request.cluster_name?;
    Some(
        match inv.cluster_named(name, record.recipient_account, record.region) {
            Named::Configured(c) => (Some(c), inv.clusters[c].name.clone()),
            Named::Elsewhere => (
                None,
                format!("{name} ({})", record.region.unwrap_or("another region")),
            ),
            Named::Unconfigured => (None, name.to_string()),
        },
    )
}

/// `pod-identity-failure` (eks-auth side): a failed AssumeRoleForPodIdentity.
pub fn pod_identity_eks_auth_failure(record: &RecordView<'_>, inv: &Inventory, out: &mut Vec<Finding>) {
    if record.event_name != Some("AssumeRoleForPodIdentity") {
        return;
    }
    let Some(code) = record.error_code else { return };
    let named = eks_auth_cluster(record, inv);
    // The cluster the call names is the one (eks-auth names it exactly); the node role
    // tells only when the call names none: a same-named cluster placed elsewhere must
    // not come back through a node role shared across regions.
    let cluster = match &named {
        Some((c, _)) => *c,
        None => inv.cluster_by_node_role_at(
            record.identity.issuer_arn,
            record.identity.arn,
            record.source_addr,
            record.vpc_endpoint_id,
        ),
    };
    let cluster_name = match cluster {
        Some(c) => Some(inv.clusters[c].name.as_str()),
        None => named.as_ref().map(|(_, n)| n.as_str()),
    };
    let where_ = cluster_name
        .map(|c| clean(c, MAX_FIELD_CHARS))
        .unwrap_or_else(|| "(unknown cluster)".into());
    let message = record.error_message.unwrap_or_default();
    let (diagnosis, remediation) = pod_identity_advice(code, message, None, "eks-auth");
    let severity = if is_agent_token_expired(code) {
        Severity::Low
    } else {
        Severity::Medium
    };
    out.push(
        Finding::new(POD_IDENTITY_FAILURE, severity, record)
            .cluster(cluster_name)
            .text(
                format!("Pod Identity exchange failed ({}) in {where_}", clean(code, 64)),
                format!(
                    "eks-auth:AssumeRoleForPodIdentity called by the Pod Identity agent on {} failed \
                     with {}: {}.",
                    record
                        .identity
                        .arn
                        .map_or("(unknown node)".into(), |a| clean(a, MAX_FIELD_CHARS)),
                    clean(code, 64),
                    record.error_message.map_or("no message".into(), |m| clean(
                        m.trim_end_matches('.'),
                        MAX_FIELD_CHARS
                    )),
                ),
            )
            .advice(diagnosis, remediation),
    );
}

/// `pod-identity-failure` (STS side): a failed AssumeRole that EKS made for a pod.
pub fn pod_identity_sts_failure(record: &RecordView<'_>, inv: &Inventory, out: &mut Vec<Finding>) {
    if record.event_name != Some("AssumeRole") || record.identity.invoked_by != Some(PODS_EKS) {
        return;
    }
    let Some(code) = record.error_code else { return };
    let tags = &record.request.pod_tags;
    let cluster = tagged_cluster(tags, inv).map(|(_, name)| name);
    let role = record.request.role_arn;
    let message = record.error_message.unwrap_or_default();
    let (diagnosis, remediation) = pod_identity_advice(code, message, role, "STS");
    let workload = match (tags.namespace, tags.service_account) {
        (Some(ns), Some(sa)) => clean(&format!("{ns}/{sa}"), MAX_FIELD_CHARS),
        _ => "(unknown workload)".into(),
    };
    out.push(
        Finding::new(POD_IDENTITY_FAILURE, Severity::Medium, record)
            .cluster(cluster)
            .workload(tags.namespace, tags.service_account)
            .role(role)
            .text(
                format!(
                    "Pod Identity could not assume {} for {workload} ({})",
                    clean(role.map_or("(unknown role)", short_role), MAX_FIELD_CHARS),
                    clean(code, 64)
                ),
                format!(
                    "sts:AssumeRole by pods.eks.amazonaws.com into {} for pod {} failed with {}.",
                    clean(role.unwrap_or("(unknown role)"), MAX_FIELD_CHARS),
                    tags.pod
                        .map_or("(unknown pod)".into(), |p| clean(p, MAX_FIELD_CHARS)),
                    clean(code, 64)
                ),
            )
            .advice(diagnosis, remediation),
    );
}

/// By error code and, for a denial, the errorMessage: (diagnosis, remediation). `service`
/// made the failed call: `eks-auth` (the agent's exchange) or `STS` (EKS's AssumeRole).
fn pod_identity_advice(code: &str, message: &str, role: Option<&str>, service: &str) -> (String, String) {
    let role = role.map_or("the associated role".into(), |r| clean(r, MAX_FIELD_CHARS));
    if is_access_denied(code) && message.contains("eks-auth:AssumeRoleForPodIdentity") {
        return (
            "The node's role may not call eks-auth:AssumeRoleForPodIdentity, so the Pod Identity \
             agent on the node can get no credentials for any pod."
                .into(),
            "Allow `eks-auth:AssumeRoleForPodIdentity` to the node role (AmazonEKSWorkerNodePolicy \
             grants it)."
                .into(),
        );
    }
    if is_access_denied(code) {
        return (
            format!(
                "EKS could not assume {role}: its trust policy does not allow the service principal \
                 `pods.eks.amazonaws.com` both `sts:AssumeRole` and `sts:TagSession`, or a condition \
                 of it (on `aws:RequestTag/kubernetes-*`, say) does not match the pod's session tags."
            ),
            format!(
                "Add to the trust policy of {role}: {{\"Effect\":\"Allow\",\"Principal\":{{\"Service\":\
                 \"pods.eks.amazonaws.com\"}},\"Action\":[\"sts:AssumeRole\",\"sts:TagSession\"]}}; \
                 check its conditions and that the Pod Identity association points at that role."
            ),
        );
    }
    match base_code(code) {
        "ResourceNotFound" => (
            "No Pod Identity association matches the pod's namespace and service account.".into(),
            "Create the association: `aws eks create-pod-identity-association --cluster-name … \
             --namespace … --service-account … --role-arn …`."
                .into(),
        ),
        "InvalidToken" => (
            "The service account token the Pod Identity agent presented was not valid.".into(),
            "Check the eks-pod-identity-agent add-on is healthy and current on the node.".into(),
        ),
        "ExpiredToken" => (
            "The service account token the Pod Identity agent presented had expired: often the \
             agent renewing credentials for a pod that has gone, which is harmless; it matters when \
             a running pod's calls fail too."
                .into(),
            "Check whether the pod still runs; if it does, check the eks-pod-identity-agent add-on \
             is healthy and current on the node."
                .into(),
        ),
        "Throttling" => (
            format!(
                "{service} throttled the Pod Identity exchange: the account's request rate was exceeded."
            ),
            "Look for what drives the calls: high pod churn, or agents renewing credentials of \
             pods that have gone (ExpiredTokenException from the same nodes); keep the \
             eks-pod-identity-agent add-on current, and raise a lasting limit with AWS Support."
                .into(),
        ),
        "InternalServer" | "ServiceUnavailable" => (
            format!("{service} failed on its side."),
            "Usually transient: the agent retries. If it persists, check the AWS Health dashboard.".into(),
        ),
        _ => (
            format!(
                "The Pod Identity exchange failed with {}; see the event's errorMessage.",
                clean(code, 64)
            ),
            "Check the eks-pod-identity-agent logs on the node and the association's role.".into(),
        ),
    }
}

/// `unexpected-web-identity-subject`: a successful exchange for a namespace/service
/// account that the config does not bind to the role.
pub fn unexpected_subject(record: &RecordView<'_>, inv: &Inventory, out: &mut Vec<Finding>) {
    if record.error_code.is_some() {
        return;
    }
    let role = record.request.role_arn;
    let (cluster, origin, ns, sa, how) = match record.event_name {
        Some("AssumeRoleWithWebIdentity") => {
            let cluster = record
                .identity
                .identity_provider
                .and_then(|p| inv.cluster_by_oidc(p));
            if !is_eks_web_identity(record, cluster) {
                return;
            }
            let subject = record.identity.user_name.or(record.response.token_subject);
            let (ns, sa) = subject.and_then(service_account_subject).unzip();
            (
                cluster.map(|c| inv.clusters[c].name.as_str()),
                Origin::issuer(record, cluster),
                ns,
                sa,
                "IRSA",
            )
        }
        Some("AssumeRole") if record.identity.invoked_by == Some(PODS_EKS) => {
            let tags = &record.request.pod_tags;
            let origin =
                tagged_cluster(tags, inv).map_or(Origin::Unsaid, |(c, name)| Origin::Tagged(name, c));
            let cluster = match origin {
                Origin::Tagged(n, c) => Some(c.map_or(n, |c| inv.clusters[c].name.as_str())),
                _ => None,
            };
            (
                cluster,
                origin,
                tags.namespace,
                tags.service_account,
                "Pod Identity",
            )
        }
        _ => return,
    };
    let BindingCheck::Other(bound, named) = check_binding(inv, role, origin, ns, sa) else {
        return;
    };
    // Where the subject came from, when that is what sets it apart from the binding.
    let from = match (origin, cluster) {
        (Origin::Unsaid, _) => String::new(),
        _ if !named => String::new(),
        (_, Some(c)) => format!(" in cluster {}", clean(c, MAX_FIELD_CHARS)),
        (Origin::Issuer(p, _), None) => format!(
            " behind OIDC issuer {}, which no configured cluster has",
            clean(
                p.rsplit_once("oidc-provider/").map_or(p, |(_, i)| i),
                MAX_FIELD_CHARS
            )
        ),
        (Origin::Tagged(..), None) => String::new(),
    };
    let workload = match (ns, sa) {
        (Some(ns), Some(sa)) => clean(&format!("{ns}/{sa}"), MAX_FIELD_CHARS),
        _ => "an unknown subject".into(),
    };
    let role_short = clean(role.map_or("", short_role), MAX_FIELD_CHARS);
    out.push(
        Finding::new(UNEXPECTED_WEB_IDENTITY_SUBJECT, Severity::High, record)
            .cluster(cluster)
            .workload(ns, sa)
            .role(role)
            .text(
                if from.is_empty() {
                    format!("{workload} obtained {role_short} via {how}, but is not bound to it")
                } else {
                    format!("{workload} of another cluster obtained {role_short} via {how}")
                },
                format!(
                    "{} exchange into {} succeeded for {workload}{from}; config binds that role to {} only.",
                    if how == "IRSA" {
                        "An IRSA"
                    } else {
                        "A Pod Identity"
                    },
                    clean(role.unwrap_or(""), MAX_FIELD_CHARS),
                    bound.join(", ")
                ),
            )
            .advice(
                "The role's trust policy (or Pod Identity association) admits more subjects than \
                 intended — a wildcard `sub` condition, a StringLike match, or an extra association."
                    .into(),
                format!(
                    "Tighten the trust policy of {role_short} to exactly the bound subjects (StringEquals \
                     on `sub`), or add a binding if this workload is meant to use the role."
                ),
            ),
    );
}
