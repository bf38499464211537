//! Changes to the identity plane: who may assume which role, from which cluster.

use crate::config::{Inventory, role_name};
use crate::finding::{Finding, MAX_FIELD_CHARS, Severity, clean};
use crate::record::RecordView;

use super::IDENTITY_CONFIG_CHANGE;

/// `identity-config-change`: a successful change to trust policies, Pod Identity
/// associations, EKS OIDC providers, access keys, or node-role permissions.
pub fn identity_config_change(record: &RecordView<'_>, inv: &Inventory, out: &mut Vec<Finding>) {
    if record.error_code.is_some() {
        return;
    }
    let (Some(source), Some(name)) = (record.event_source, record.event_name) else {
        return;
    };
    let req = &record.request;
    let account = record.account();
    let mut cluster = None;
    let mut role = None;
    let (what, why) = match (source, name) {
        ("iam.amazonaws.com", "UpdateAssumeRolePolicy") => {
            let Some(r) = req.role_name.filter(|r| inv.is_watched_role(account, r)) else {
                return;
            };
            role = Some(r);
            (
                "trust policy of a watched role changed",
                "Who may assume this role changed.",
            )
        }
        ("iam.amazonaws.com", "AttachRolePolicy" | "PutRolePolicy") => {
            let Some(r) = req.role_name.filter(|r| inv.is_node_role_name(account, r)) else {
                return;
            };
            role = Some(r);
            (
                "permissions added to a node role",
                "Every pod that can reach IMDS on these nodes gets the new permissions too.",
            )
        }
        (
            "eks.amazonaws.com",
            "CreatePodIdentityAssociation" | "UpdatePodIdentityAssociation" | "DeletePodIdentityAssociation",
        ) => {
            cluster = req.cluster_name;
            (
                "Pod Identity association changed",
                "Which service account gets which role changed.",
            )
        }
        (
            "iam.amazonaws.com",
            "CreateOpenIDConnectProvider"
            | "DeleteOpenIDConnectProvider"
            | "UpdateOpenIDConnectProviderThumbprint"
            | "AddClientIDToOpenIDConnectProvider"
            | "RemoveClientIDFromOpenIDConnectProvider",
        ) => {
            let provider = req.url.or(req.oidc_provider_arn).unwrap_or_default();
            let known = inv.cluster_by_oidc(provider.trim_start_matches("https://"));
            if known.is_none() && !provider.contains("oidc.eks.") {
                return;
            }
            cluster = known.map(|c| inv.clusters[c].name.as_str());
            (
                "EKS OIDC provider changed",
                "IRSA trust for the cluster's service accounts depends on this provider.",
            )
        }
        ("iam.amazonaws.com", "CreateAccessKey") => (
            "long-term access key created",
            "A new long-term credential exists; the guide's rule for workloads is never.",
        ),
        _ => return,
    };
    let role_arn = role.and_then(|r| {
        // requestParameters carry the role name only; rebuild the ARN where config knows it.
        inv.bindings
            .iter()
            .map(|b| b.role_arn.as_str())
            .find(|arn| role_name(arn) == Some(r))
    });
    let target = role
        .or(req.user_name)
        .or(req.association_id)
        .or(req.url)
        .or(req.oidc_provider_arn)
        .or(req.cluster_name)
        .map(|t| format!(" on {}", clean(t, MAX_FIELD_CHARS)))
        .unwrap_or_default();
    let by = clean(
        record.identity.arn.unwrap_or("(unknown principal)"),
        MAX_FIELD_CHARS,
    );
    let action = clean(
        &format!("{}:{name}", source.trim_end_matches(".amazonaws.com")),
        MAX_FIELD_CHARS,
    );
    let mut finding = Finding::new(IDENTITY_CONFIG_CHANGE, Severity::Medium, record)
        .cluster(cluster)
        .workload(req.namespace, req.service_account)
        .text(
            format!("{action}{target}: {what}"),
            format!("{by} called {action}{target}. {why}"),
        )
        .advice(
            format!("An identity-plane change: {what}."),
            "Confirm the change was planned (change ticket, Terraform run); if not, revert it and \
             review what the principal did next."
                .into(),
        );
    finding = finding.role(role_arn.or(req.role_arn));
    out.push(finding);
}
