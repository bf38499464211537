//! Long-term access keys: the guide's rule is "never", in pods or anywhere near them.

use crate::config::Inventory;
use crate::finding::{Finding, MAX_FIELD_CHARS, Severity, clean};
use crate::record::RecordView;

use super::LONG_TERM_ACCESS_KEY;

/// `long-term-access-key`: a call signed with an `AKIA…` key.
pub fn long_term_access_key(record: &RecordView<'_>, inv: &Inventory, out: &mut Vec<Finding>) {
    let Some(key) = record.identity.access_key_id.filter(|k| k.starts_with("AKIA")) else {
        return;
    };
    let principal = record.identity.arn;
    let allowed = &inv.detections.long_term_access_key.allow_principals;
    if principal.is_some_and(|p| allowed.iter().any(|a| a == p)) {
        return;
    }
    // From a cluster's egress, a long-term key is most likely hard-coded in a pod.
    let cluster = record
        .source_addr
        .and_then(|ip| inv.cluster_by_egress(ip))
        .map(|c| inv.clusters[c].name.as_str());
    let who = clean(principal.unwrap_or("(unknown principal)"), MAX_FIELD_CHARS);
    let key = clean(key, 32);
    let action = record.action().map_or_else(
        || "(unknown action)".to_string(),
        |(s, n)| clean(&format!("{s}:{n}"), MAX_FIELD_CHARS),
    );
    let from = cluster.map_or_else(String::new, |c| format!(" from the egress of cluster {c}"));
    out.push(
        Finding::new(LONG_TERM_ACCESS_KEY, Severity::High, record)
            .cluster(cluster)
            .text(
                format!("Long-term access key {key} of {who} used"),
                format!("{action} was signed with the long-term access key {key} of {who}{from}."),
            )
            .advice(
                "Long-term keys do not expire and are usually copied into images, environment \
                 variables or Kubernetes secrets; if one leaks it works until someone notices."
                    .into(),
                format!(
                    "Move the caller to IRSA or Pod Identity (temporary credentials), then deactivate \
                     and delete {key}; allow it in [detections.long-term-access-key] allow_principals \
                     only while the migration is tracked."
                ),
            ),
    );
}
