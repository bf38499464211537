//! Detections: functions from a record (and the inventory) to findings.
//!
//! Each detection has a stable id (API: alarms and subscription filters use it). The
//! stateless ones live here; each module holds one family.

mod change;
mod exchange;
mod keys;
mod node;
mod stateful;

use std::net::IpAddr;

use crate::config::{Cluster, ConfigError, Inventory};
use crate::finding::Finding;
use crate::record::RecordView;

pub use node::ActionSet;
pub use stateful::{Cache, Workload};

use crate::state::{StateError, StateStore};

/// Failed IRSA (AssumeRoleWithWebIdentity) exchange.
pub const IRSA_ASSUME_FAILURE: &str = "irsa-assume-failure";
/// Failed EKS Pod Identity exchange.
pub const POD_IDENTITY_FAILURE: &str = "pod-identity-failure";
/// Node-role session calling outside the node allowlist.
pub const NODE_ROLE_MISUSE: &str = "node-role-misuse";
/// Credentials delivered by IMDSv1.
pub const IMDSV1_CREDENTIAL_USE: &str = "imdsv1-credential-use";
/// Node-role session used from outside the cluster's egress.
pub const NODE_CREDENTIAL_EXFILTRATION: &str = "node-credential-exfiltration";
/// Call signed with a long-term (AKIA) access key.
pub const LONG_TERM_ACCESS_KEY: &str = "long-term-access-key";
/// Successful exchange by a subject not bound to the role.
pub const UNEXPECTED_WEB_IDENTITY_SUBJECT: &str = "unexpected-web-identity-subject";
/// Change to the identity plane (trust policies, associations, OIDC providers, keys).
pub const IDENTITY_CONFIG_CHANGE: &str = "identity-config-change";

/// IRSA/Pod Identity credentials used outside the cluster's egress.
pub const WORKLOAD_CREDENTIAL_EXFILTRATION: &str = "workload-credential-exfiltration";
/// A failed exchange followed by node-role business calls from the same IP.
pub const SDK_CREDENTIAL_FALLBACK: &str = "sdk-credential-fallback";
/// Many AccessDenied errors for one principal within a window.
pub const ACCESS_DENIED_BURST: &str = "access-denied-burst";
/// A workload or node role assuming into an untrusted account.
pub const UNEXPECTED_CROSS_ACCOUNT_ASSUME: &str = "unexpected-cross-account-assume";
/// A known role used from a new network or on a new service after learning.
pub const FIRST_SEEN_ROLE_SOURCE: &str = "first-seen-role-source";

/// The detections that need the state store.
pub const STATEFUL: [&str; 5] = [
    WORKLOAD_CREDENTIAL_EXFILTRATION,
    SDK_CREDENTIAL_FALLBACK,
    ACCESS_DENIED_BURST,
    UNEXPECTED_CROSS_ACCOUNT_ASSUME,
    FIRST_SEEN_ROLE_SOURCE,
];

/// Every detection id.
pub fn all() -> impl Iterator<Item = &'static str> {
    STATELESS.into_iter().chain(STATEFUL)
}

/// Every stateless detection id, in catalogue order.
pub const STATELESS: [&str; 8] = [
    IRSA_ASSUME_FAILURE,
    POD_IDENTITY_FAILURE,
    NODE_ROLE_MISUSE,
    IMDSV1_CREDENTIAL_USE,
    NODE_CREDENTIAL_EXFILTRATION,
    LONG_TERM_ACCESS_KEY,
    UNEXPECTED_WEB_IDENTITY_SUBJECT,
    IDENTITY_CONFIG_CHANGE,
];

/// The stateless detections, ready to run.
#[derive(Debug)]
pub struct Detectors {
    inventory: Inventory,
    node_allow: ActionSet,
}

impl Detectors {
    /// Builds the detections from a validated inventory.
    pub fn new(inventory: Inventory) -> Result<Self, ConfigError> {
        let node_allow = ActionSet::node_defaults(&inventory.detections.node_role_misuse.allow_actions);
        Ok(Self {
            inventory,
            node_allow,
        })
    }

    /// The inventory the detections look things up in.
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// Runs every enabled detection, stateless and stateful, on `record`.
    /// `times` collects the record's event time. Some stateful findings wait for a batch
    /// of store work and come out of a later call or of [`Detectors::settle`].
    pub fn run_with_state(
        &self,
        record: &RecordView<'_>,
        times: &mut crate::engine::EventTimes,
        store: &dyn StateStore,
        cache: &mut Cache,
        out: &mut Vec<Finding>,
    ) -> Result<(), StateError> {
        let own = out.len();
        self.run(record, out);
        // Stateful rules window on event time: without one there is nothing to window.
        let Some(now) = record.event_time.and_then(|t| cache.epoch(t)) else {
            return Ok(());
        };
        times.add(now);
        self.stateful(store, cache).run(record, now, out, own)
    }

    fn stateful<'a>(&'a self, store: &'a dyn StateStore, cache: &'a mut Cache) -> stateful::Context<'a> {
        stateful::Context {
            inventory: &self.inventory,
            node_allow: &self.node_allow,
            store,
            cache,
        }
    }

    /// Fetches in one batch who the temporary `keys` were handed to, so that the records
    /// using them find it in `cache`.
    pub fn prefetch(
        &self,
        store: &dyn StateStore,
        cache: &mut Cache,
        keys: &[String],
    ) -> Result<(), StateError> {
        self.stateful(store, cache).prefetch(keys)
    }

    /// Finishes the store work the stateful pass left for a batch (see
    /// [`Detectors::run_with_state`]), appending the findings it decides. Call it at the
    /// end of each input.
    pub fn settle(
        &self,
        store: &dyn StateStore,
        cache: &mut Cache,
        out: &mut Vec<Finding>,
    ) -> Result<(), StateError> {
        self.stateful(store, cache).settle(out)
    }

    /// Runs every enabled stateless detection on `record`, appending findings to `out`.
    pub fn run(&self, record: &RecordView<'_>, out: &mut Vec<Finding>) {
        let inv = &self.inventory;
        let on = &inv.detections;
        // Cheap dispatch on the event source first: most records are workload traffic
        // that only the identity-based rules look at.
        match record.event_source {
            Some("sts.amazonaws.com") => {
                if on.irsa_assume_failure.enabled {
                    exchange::irsa_failure(record, inv, out);
                }
                if on.pod_identity_failure.enabled {
                    exchange::pod_identity_sts_failure(record, inv, out);
                }
                if on.unexpected_web_identity_subject.enabled {
                    exchange::unexpected_subject(record, inv, out);
                }
            }
            Some("eks-auth.amazonaws.com") if on.pod_identity_failure.enabled => {
                exchange::pod_identity_eks_auth_failure(record, inv, out);
            }
            Some("iam.amazonaws.com" | "eks.amazonaws.com") if on.identity_config_change.enabled => {
                change::identity_config_change(record, inv, out);
            }
            _ => {}
        }
        if record.identity.kind == Some("AssumedRole") {
            node::node_session(record, inv, &self.node_allow, out);
        }
        if on.long_term_access_key.enabled {
            keys::long_term_access_key(record, inv, out);
        }
    }
}

/// Whether an error code means "not allowed", matched loosely across APIs
/// (`AccessDenied`, `AccessDeniedException`, `Client.UnauthorizedOperation`, …).
pub fn is_access_denied(code: &str) -> bool {
    code.contains("AccessDenied") || code.ends_with("UnauthorizedOperation") || code == "UnauthorizedAccess"
}

/// `system:serviceaccount:<namespace>:<name>` → `(namespace, name)`.
pub fn service_account_subject(subject: &str) -> Option<(&str, &str)> {
    let rest = subject.strip_prefix("system:serviceaccount:")?;
    let (namespace, name) = rest.split_once(':')?;
    (!namespace.is_empty() && !name.is_empty()).then_some((namespace, name))
}

/// Whether a call's source address is where its credentials were used. Not for the
/// `sts:GetCallerIdentity` that checks a cluster token: EKS sends the request the client
/// presigned itself, from EKS's own addresses (the EKS user guide, "Cluster
/// authentication"), with its own HTTP client rather than an AWS SDK. It is told apart by
/// its user agent, which names no AWS SDK or CLI; a caller's own GetCallerIdentity made
/// with one is judged. (A thief's check with a made-up user agent is therefore not; their
/// other calls are.)
pub fn source_is_the_callers(record: &RecordView<'_>) -> bool {
    let sdk = |ua: &str| {
        ["aws-sdk-", "aws-cli/", "Boto3/", "Botocore/", "botocore/"]
            .iter()
            .any(|p| ua.contains(p))
    };
    let token_check = record.event_source == Some("sts.amazonaws.com")
        && record.event_name == Some("GetCallerIdentity")
        && !record.user_agent.is_some_and(sdk);
    !token_check
}

/// Where a call made with a cluster's credentials came from, when that is outside the
/// cluster: a VPC endpoint not among its `vpc_endpoints` (another VPC's: GuardDuty's
/// "inside AWS" exfiltration), or a public address outside its egress ranges. The place
/// and what it is not one of. None at home, and where the cluster does not say: an
/// endpoint call with no endpoints listed, a public address with no egress ranges, a
/// private address not through an endpoint.
pub fn away_from(
    cluster: &Cluster,
    addr: Option<IpAddr>,
    vpce: Option<&str>,
) -> Option<(String, &'static str)> {
    if !cluster.judges(vpce) {
        return None;
    }
    match vpce {
        Some(vpce) => (!cluster.holds(None, Some(vpce))).then(|| {
            (
                format!("VPC endpoint {}", crate::finding::clean(vpce, 64)),
                "VPC endpoints",
            )
        }),
        None => addr
            .and_then(public_ip)
            .filter(|ip| !cluster.holds(Some(*ip), None))
            .map(|ip| (ip.to_string(), "egress ranges")),
    }
}

/// `ip` (a record's [`RecordView::source_addr`]) when it is public: not a private,
/// loopback, link-local or shared range. IPv4-mapped IPv6 addresses read as IPv4.
pub fn public_ip(ip: IpAddr) -> Option<IpAddr> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let public = match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    };
    public.then_some(ip)
}

/// The last segment of a role or assumed-role ARN, for short titles.
pub fn short_role(arn: &str) -> &str {
    match arn.split_once(":assumed-role/") {
        Some((_, rest)) => rest.split('/').next().unwrap_or(rest),
        None => arn.rsplit('/').next().unwrap_or(arn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_ips() {
        let cases = [
            ("52.1.2.3", true),
            ("198.51.100.23", true),
            ("10.0.1.2", false),
            ("172.20.0.1", false),
            ("192.168.1.1", false),
            ("100.64.0.1", false),
            ("169.254.169.254", false),
            ("127.0.0.1", false),
            ("2600:1f18::1", true),
            ("fd00::1", false),
            ("fe80::1", false),
            ("::ffff:10.0.0.1", false),
            ("ec2.amazonaws.com", false),
            ("AWS Internal", false),
        ];
        for (source, want) in cases {
            let public = source.parse().ok().and_then(public_ip);
            assert_eq!(public.is_some(), want, "{source}");
        }
    }

    #[test]
    fn subjects() {
        let cases = [
            ("system:serviceaccount:prod:web", Some(("prod", "web"))),
            ("system:serviceaccount:prod", None),
            ("system:serviceaccount::web", None),
            ("repo:org/app:ref:refs/heads/main", None),
        ];
        for (subject, want) in cases {
            assert_eq!(service_account_subject(subject), want, "{subject}");
        }
    }

    #[test]
    fn access_denied_codes() {
        let cases = [
            ("AccessDenied", true),
            ("AccessDeniedException", true),
            ("Client.UnauthorizedOperation", true),
            ("InvalidIdentityToken", false),
            ("ThrottlingException", false),
        ];
        for (code, want) in cases {
            assert_eq!(is_access_denied(code), want, "{code}");
        }
    }
}

#[cfg(test)]
mod table_tests;
