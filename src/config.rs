//! Configuration: the TOML a user writes (`Config`), validated once into the runtime
//! [`Inventory`] of clusters, roles and bindings the detectors look things up in.

use foldhash::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::alert::AlertsConfig;
use crate::decode::Limits;

/// The configuration file as written. Keys are API: alarms and scripts depend on them.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Accounts whose roles workloads may assume.
    #[serde(default)]
    pub trusted_accounts: Vec<String>,
    /// Input limits.
    #[serde(default)]
    pub input: InputConfig,
    /// The EKS clusters to watch.
    #[serde(default)]
    pub clusters: Vec<ClusterConfig>,
    /// Which service account may use which role.
    #[serde(default)]
    pub bindings: Vec<BindingConfig>,
    /// Per-detection settings, keyed by detection id.
    #[serde(default)]
    pub detections: DetectionsConfig,
    /// The alert policy.
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// CloudWatch metrics (used by the Lambda functions).
    #[serde(default)]
    pub metrics: MetricsConfig,
}

/// `[metrics]`: how the Lambda functions report metrics.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// CloudWatch namespace.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// `api` (PutMetricData) or `emf` (structured log lines).
    #[serde(default)]
    pub mode: MetricsMode,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            namespace: default_namespace(),
            mode: MetricsMode::default(),
        }
    }
}

fn default_namespace() -> String {
    "TrailWatch".into()
}

/// How metrics leave a function.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsMode {
    /// `cloudwatch:PutMetricData`, aggregated per invocation.
    #[default]
    Api,
    /// CloudWatch Embedded Metric Format lines on stdout.
    Emf,
}

/// `[input]`: limits against hostile or broken input.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// Most bytes one file may decompress to.
    #[serde(default = "default_max_decompressed")]
    pub max_decompressed_bytes: u64,
    /// Longest record kept; longer ones are counted and skipped.
    #[serde(default = "default_max_record")]
    pub max_record_bytes: usize,
}

impl Default for InputConfig {
    fn default() -> Self {
        Self {
            max_decompressed_bytes: default_max_decompressed(),
            max_record_bytes: default_max_record(),
        }
    }
}

fn default_max_decompressed() -> u64 {
    Limits::default().max_decompressed_bytes
}

fn default_max_record() -> usize {
    Limits::default().max_record_bytes
}

/// `[[clusters]]`: one EKS cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The EKS cluster name.
    pub name: String,
    /// The account the cluster runs in.
    pub account: Option<String>,
    /// The cluster's region.
    pub region: Option<String>,
    /// The OIDC issuer as in the provider ARN: `oidc.eks.<region>.amazonaws.com/id/<ID>`.
    pub oidc_provider: Option<String>,
    /// ARNs of the roles the cluster's nodes run with.
    #[serde(default)]
    pub node_roles: Vec<String>,
    /// Where the cluster's calls come from (NAT gateway IPs, VPC CIDRs).
    #[serde(default)]
    pub egress_cidrs: Vec<String>,
    /// VPC endpoint ids the cluster's calls may come through.
    #[serde(default)]
    pub vpc_endpoints: Vec<String>,
}

/// `[[bindings]]`: a service account allowed to use a role.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingConfig {
    /// The cluster's `name`.
    pub cluster: String,
    /// Kubernetes namespace; `*` matches any.
    pub namespace: String,
    /// Service account name; `*` matches any, a trailing `*` any suffix.
    pub service_account: String,
    /// The IAM role the service account may assume.
    pub role_arn: String,
}

/// `[detections.<id>]` tables.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectionsConfig {
    /// `[detections.irsa-assume-failure]`
    #[serde(default, rename = "irsa-assume-failure")]
    pub irsa_assume_failure: Toggle,
    /// `[detections.pod-identity-failure]`
    #[serde(default, rename = "pod-identity-failure")]
    pub pod_identity_failure: Toggle,
    /// `[detections.node-role-misuse]`
    #[serde(default, rename = "node-role-misuse")]
    pub node_role_misuse: NodeRoleMisuseConfig,
    /// `[detections.imdsv1-credential-use]`
    #[serde(default, rename = "imdsv1-credential-use")]
    pub imdsv1_credential_use: Toggle,
    /// `[detections.node-credential-exfiltration]`
    #[serde(default, rename = "node-credential-exfiltration")]
    pub node_credential_exfiltration: Toggle,
    /// `[detections.long-term-access-key]`
    #[serde(default, rename = "long-term-access-key")]
    pub long_term_access_key: LongTermAccessKeyConfig,
    /// `[detections.unexpected-web-identity-subject]`
    #[serde(default, rename = "unexpected-web-identity-subject")]
    pub unexpected_web_identity_subject: Toggle,
    /// `[detections.identity-config-change]`
    #[serde(default, rename = "identity-config-change")]
    pub identity_config_change: IdentityConfigChangeConfig,
    /// `[detections.workload-credential-exfiltration]`
    #[serde(default, rename = "workload-credential-exfiltration")]
    pub workload_credential_exfiltration: Toggle,
    /// `[detections.sdk-credential-fallback]`
    #[serde(default, rename = "sdk-credential-fallback")]
    pub sdk_credential_fallback: WindowConfig,
    /// `[detections.access-denied-burst]`
    #[serde(default, rename = "access-denied-burst")]
    pub access_denied_burst: BurstConfig,
    /// `[detections.unexpected-cross-account-assume]`
    #[serde(default, rename = "unexpected-cross-account-assume")]
    pub unexpected_cross_account_assume: Toggle,
    /// `[detections.first-seen-role-source]`
    #[serde(default, rename = "first-seen-role-source")]
    pub first_seen_role_source: FirstSeenConfig,
}

/// A detection that pairs events within a window.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// Whether the detection runs.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How long after the first event the second still counts (event time).
    #[serde(default = "five_minutes", with = "humantime_serde")]
    pub window: Duration,
}

impl Default for WindowConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window: five_minutes(),
        }
    }
}

fn five_minutes() -> Duration {
    Duration::from_secs(300)
}

/// `[detections.access-denied-burst]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstConfig {
    /// Whether the detection runs.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Errors within one window that make a burst.
    #[serde(default = "ten")]
    pub threshold: u64,
    /// The window (aligned, event time).
    #[serde(default = "five_minutes", with = "humantime_serde")]
    pub window: Duration,
}

impl Default for BurstConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            threshold: ten(),
            window: five_minutes(),
        }
    }
}

/// The largest `access-denied-burst` threshold: its counter keeps the ids of the denials
/// it counted (at most this many, plus one batch), and a DynamoDB item holds 400 KB.
pub const MAX_BURST_THRESHOLD: u64 = 2000;

fn ten() -> u64 {
    10
}

/// `[detections.first-seen-role-source]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstSeenConfig {
    /// Whether the detection runs.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How long (event time) a role is only learned, from its first record.
    #[serde(default = "seven_days", with = "humantime_serde")]
    pub learning_period: Duration,
    /// How long a learned network or service is remembered after its last use (to within
    /// a day), and a role's baseline after the role's last record: what stays in use is
    /// never forgotten, what does not is learned again.
    #[serde(default = "thirty_days", with = "humantime_serde")]
    pub retention: Duration,
}

impl Default for FirstSeenConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            learning_period: seven_days(),
            retention: thirty_days(),
        }
    }
}

fn seven_days() -> Duration {
    Duration::from_secs(7 * 86_400)
}

fn thirty_days() -> Duration {
    Duration::from_secs(30 * 86_400)
}

/// A detection with nothing to set but whether it runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toggle {
    /// Whether the detection runs (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl Default for Toggle {
    fn default() -> Self {
        Self { enabled: true }
    }
}

fn yes() -> bool {
    true
}

/// `[detections.node-role-misuse]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeRoleMisuseConfig {
    /// Whether the detection runs.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Actions (`service:Action`, trailing `*` wildcard) added to the node allowlist.
    #[serde(default)]
    pub allow_actions: Vec<String>,
}

impl Default for NodeRoleMisuseConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            allow_actions: Vec::new(),
        }
    }
}

/// `[detections.long-term-access-key]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongTermAccessKeyConfig {
    /// Whether the detection runs.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Principal ARNs whose long-term keys are accepted.
    #[serde(default)]
    pub allow_principals: Vec<String>,
}

impl Default for LongTermAccessKeyConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            allow_principals: Vec::new(),
        }
    }
}

/// `[detections.identity-config-change]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfigChangeConfig {
    /// Whether the detection runs.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Role ARNs watched besides the bound and node roles.
    #[serde(default)]
    pub watch_roles: Vec<String>,
}

impl Default for IdentityConfigChangeConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            watch_roles: Vec::new(),
        }
    }
}

/// A configuration that cannot be used, naming the key and the problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The TOML does not parse or has unknown keys / wrong types.
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    /// A value is out of range or malformed.
    #[error("{key}: {problem}")]
    Invalid {
        /// The key, as a TOML path.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
}

fn invalid(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        problem: problem.into(),
    }
}

impl Config {
    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Ok(toml::from_str(text)?)
    }
}

/// A cluster, validated.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The EKS cluster name.
    pub name: String,
    /// Its account, when configured.
    pub account: Option<String>,
    /// Its region, when configured.
    pub region: Option<String>,
    /// Its OIDC issuer (`oidc.eks.…/id/…`), lower-cased.
    pub oidc_provider: Option<String>,
    /// Where its calls come from.
    pub egress: Vec<IpNet>,
    /// VPC endpoints its calls may come through.
    pub vpc_endpoints: Vec<String>,
}

/// What [`Inventory::cluster_named`] finds a cluster name to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    /// The configured cluster of that index.
    Configured(usize),
    /// A cluster of a configured name in another account or region.
    Elsewhere,
    /// No configured cluster has the name.
    Unconfigured,
}

impl Cluster {
    /// Whether the cluster lists where calls of a kind come from: its VPC endpoints for a
    /// call through one (`vpce`), its egress ranges for any other. What it does not list,
    /// it does not judge.
    pub fn judges(&self, vpce: Option<&str>) -> bool {
        match vpce {
            Some(_) => !self.vpc_endpoints.is_empty(),
            None => !self.egress.is_empty(),
        }
    }

    /// Whether a call from `addr` (through VPC endpoint `vpce`, when it names one) comes
    /// from what the cluster lists: that endpoint, else an egress range holding `addr`.
    pub fn holds(&self, addr: Option<IpAddr>, vpce: Option<&str>) -> bool {
        match vpce {
            Some(vpce) => self.vpc_endpoints.iter().any(|v| v == vpce),
            None => addr.is_some_and(|ip| self.egress.iter().any(|n| n.contains(&ip))),
        }
    }
}

/// A binding, validated.
#[derive(Debug, Clone)]
pub struct Binding {
    /// Index into [`Inventory::clusters`].
    pub cluster: usize,
    /// Namespace pattern.
    pub namespace: String,
    /// Service account pattern.
    pub service_account: String,
    /// The role.
    pub role_arn: String,
}

impl Binding {
    /// Whether `namespace`/`service_account` is covered by this binding.
    pub fn allows(&self, namespace: &str, service_account: &str) -> bool {
        pattern_matches(&self.namespace, namespace) && pattern_matches(&self.service_account, service_account)
    }
}

/// `*` matches anything; a trailing `*` matches any suffix; otherwise exact.
pub fn pattern_matches(pattern: &str, value: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => pattern == value,
    }
}

/// The runtime view of the configuration: what the detectors look up.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Clusters in config order.
    pub clusters: Vec<Cluster>,
    /// Bindings in config order.
    pub bindings: Vec<Binding>,
    /// Accounts workloads may assume roles in.
    pub trusted_accounts: HashSet<String>,
    /// Input limits.
    pub limits: Limits,
    /// Per-detection settings.
    pub detections: DetectionsConfig,
    /// The alert policy as configured.
    pub alerts: AlertsConfig,
    /// Metrics settings.
    pub metrics: MetricsConfig,
    oidc: HashMap<String, usize>,
    /// Node role ARN → the clusters that list it, in config order: one role can serve
    /// several clusters.
    node_roles: HashMap<String, Vec<usize>>,
    /// `account/role-name` of node roles, for assumed-role ARNs (which drop the path).
    node_role_names: HashMap<String, Vec<usize>>,
    /// The bare names of node roles: most sessions are not node sessions, and this
    /// tells so without building a key. A few names: comparing lengths first, a scan
    /// costs less than hashing the name.
    node_role_bare_names: Vec<String>,
    by_name: HashMap<String, usize>,
    by_role: HashMap<String, Vec<usize>>,
    /// `account/role-name` of the roles watched for trust-policy changes.
    watched_roles: HashSet<String>,
}

impl Inventory {
    /// Validates `config`; an error names the key and the problem.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        let mut inv = Inventory {
            limits: Limits {
                max_decompressed_bytes: config.input.max_decompressed_bytes,
                max_record_bytes: config.input.max_record_bytes,
            },
            ..Self::default()
        };
        if config.input.max_record_bytes < 1024 {
            return Err(invalid("input.max_record_bytes", "must be at least 1024"));
        }
        for (i, account) in config.trusted_accounts.iter().enumerate() {
            check_account(&format!("trusted_accounts[{i}]"), account)?;
            inv.trusted_accounts.insert(account.clone());
        }
        for (i, c) in config.clusters.iter().enumerate() {
            let key = |k: &str| format!("clusters[{i}].{k}");
            if c.name.is_empty() {
                return Err(invalid(key("name"), "must not be empty"));
            }
            if inv.by_name.insert(c.name.clone(), i).is_some() {
                return Err(invalid(
                    key("name"),
                    format!("duplicate cluster name {:?}", c.name),
                ));
            }
            if let Some(account) = &c.account {
                check_account(&key("account"), account)?;
            }
            let oidc_provider = match &c.oidc_provider {
                Some(p) => {
                    let p = p
                        .trim_start_matches("https://")
                        .trim_end_matches('/')
                        .to_ascii_lowercase();
                    if !p.contains("/id/") {
                        return Err(invalid(
                            key("oidc_provider"),
                            format!(
                                "{p:?} is not an OIDC issuer like oidc.eks.<region>.amazonaws.com/id/<ID>"
                            ),
                        ));
                    }
                    inv.oidc.insert(p.clone(), i);
                    Some(p)
                }
                None => None,
            };
            for (j, role) in c.node_roles.iter().enumerate() {
                let name = role_name(role).ok_or_else(|| {
                    invalid(
                        format!("{}[{j}]", key("node_roles")),
                        format!("{role:?} is not an IAM role ARN"),
                    )
                })?;
                let by_name = format!("{}/{name}", arn_account(role).unwrap_or_default());
                for clusters in [
                    inv.node_roles.entry(role.clone()),
                    inv.node_role_names.entry(by_name),
                ] {
                    let clusters = clusters.or_default();
                    if !clusters.contains(&i) {
                        clusters.push(i);
                    }
                }
                inv.watch(role, name);
                if !inv.node_role_bare_names.iter().any(|n| n == name) {
                    inv.node_role_bare_names.push(name.to_string());
                }
            }
            let mut egress = Vec::with_capacity(c.egress_cidrs.len());
            for (j, cidr) in c.egress_cidrs.iter().enumerate() {
                let net = cidr
                    .parse::<IpNet>()
                    .or_else(|_| cidr.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|e| {
                        invalid(format!("{}[{j}]", key("egress_cidrs")), format!("{cidr:?}: {e}"))
                    })?;
                egress.push(net);
            }
            inv.clusters.push(Cluster {
                name: c.name.clone(),
                account: c.account.clone(),
                region: c.region.clone(),
                oidc_provider,
                egress,
                vpc_endpoints: c.vpc_endpoints.clone(),
            });
        }
        for (i, b) in config.bindings.iter().enumerate() {
            let key = |k: &str| format!("bindings[{i}].{k}");
            let cluster = *inv
                .by_name
                .get(&b.cluster)
                .ok_or_else(|| invalid(key("cluster"), format!("no cluster named {:?}", b.cluster)))?;
            let name = role_name(&b.role_arn).ok_or_else(|| {
                invalid(
                    key("role_arn"),
                    format!("{:?} is not an IAM role ARN", b.role_arn),
                )
            })?;
            if b.namespace.is_empty() || b.service_account.is_empty() {
                return Err(invalid(
                    key("namespace"),
                    "namespace and service_account must not be empty",
                ));
            }
            inv.watch(&b.role_arn, name);
            inv.by_role.entry(b.role_arn.clone()).or_default().push(i);
            inv.bindings.push(Binding {
                cluster,
                namespace: b.namespace.clone(),
                service_account: b.service_account.clone(),
                role_arn: b.role_arn.clone(),
            });
        }
        for (j, pattern) in config
            .detections
            .node_role_misuse
            .allow_actions
            .iter()
            .enumerate()
        {
            if !pattern.contains(':') {
                return Err(invalid(
                    format!("detections.node-role-misuse.allow_actions[{j}]"),
                    format!("{pattern:?} is not an action like service:Action"),
                ));
            }
        }
        for (j, role) in config
            .detections
            .identity_config_change
            .watch_roles
            .iter()
            .enumerate()
        {
            let name = role_name(role).ok_or_else(|| {
                invalid(
                    format!("detections.identity-config-change.watch_roles[{j}]"),
                    format!("{role:?} is not an IAM role ARN"),
                )
            })?;
            inv.watch(role, name);
        }
        let burst = &config.detections.access_denied_burst;
        if burst.threshold == 0 || burst.window.as_secs() == 0 {
            return Err(invalid(
                "detections.access-denied-burst",
                "threshold and window must be positive",
            ));
        }
        if burst.threshold > MAX_BURST_THRESHOLD {
            return Err(invalid(
                "detections.access-denied-burst.threshold",
                format!(
                    "at most {MAX_BURST_THRESHOLD}: the counter remembers each denial it counted, \
                     up to the threshold, in one state entry"
                ),
            ));
        }
        if config.detections.sdk_credential_fallback.window.as_secs() == 0 {
            return Err(invalid(
                "detections.sdk-credential-fallback.window",
                "must be positive",
            ));
        }
        let ns = &config.metrics.namespace;
        if ns.is_empty() || ns.len() > 255 || ns.starts_with("AWS/") {
            return Err(invalid(
                "metrics.namespace",
                format!("{ns:?}: 1-255 characters, not starting with AWS/"),
            ));
        }
        inv.detections = config.detections;
        inv.alerts = config.alerts;
        inv.metrics = config.metrics;
        Ok(inv)
    }

    /// The cluster whose OIDC provider ARN (or issuer) is `provider`.
    pub fn cluster_by_oidc(&self, provider: &str) -> Option<usize> {
        let issuer = provider
            .rsplit_once("oidc-provider/")
            .map_or(provider, |(_, p)| p);
        self.oidc.get(&issuer.to_ascii_lowercase()).copied()
    }

    /// The cluster a node-role session belongs to, by its issuer role or assumed-role ARN:
    /// of clusters that share the role, the first listed.
    pub fn cluster_by_node_role(&self, issuer_arn: Option<&str>, session_arn: Option<&str>) -> Option<usize> {
        self.node_role_clusters(issuer_arn, session_arn).map(|c| c[0])
    }

    /// [`Inventory::cluster_by_node_role`] for a call from `addr` (through VPC endpoint
    /// `vpce`, when it names one): of clusters that share the role, the one whose egress
    /// ranges hold `addr` or whose endpoints list `vpce`; else one that lists none of
    /// that kind (and so does not judge the call); else the first listed.
    pub fn cluster_by_node_role_at(
        &self,
        issuer_arn: Option<&str>,
        session_arn: Option<&str>,
        addr: Option<IpAddr>,
        vpce: Option<&str>,
    ) -> Option<usize> {
        let clusters = self.node_role_clusters(issuer_arn, session_arn)?;
        if let [one] = clusters {
            return Some(*one);
        }
        let pick =
            |test: &dyn Fn(&Cluster) -> bool| clusters.iter().copied().find(|&c| test(&self.clusters[c]));
        pick(&|c| c.holds(addr, vpce))
            .or_else(|| pick(&|c| !c.judges(vpce)))
            .or(Some(clusters[0]))
    }

    /// The clusters that list a session's node role (never empty), by its issuer role or
    /// assumed-role ARN.
    fn node_role_clusters(&self, issuer_arn: Option<&str>, session_arn: Option<&str>) -> Option<&[usize]> {
        if let Some(arn) = issuer_arn {
            // Every node role's name is a bare name, and the session's role name is the
            // issuer's last segment: most records (not node roles) stop at this one
            // lookup of a short name.
            let name = memchr::memrchr(b'/', arn.as_bytes()).map_or(arn, |slash| &arn[slash + 1..]);
            if !self.is_node_role_bare_name(name) {
                return None;
            }
            if let Some(clusters) = self.node_roles.get(arn) {
                return Some(clusters);
            }
        }
        // arn:<partition>:sts::<acct>:assumed-role/<name>/<session>. Most ARNs here are
        // of IAM users and services: one search for the partition's end rejects them.
        let arn = session_arn?;
        let after_partition = arn.strip_prefix("arn:")?.split_once(':')?.1;
        let (account, resource) = after_partition.strip_prefix("sts::")?.split_once(':')?;
        if account.is_empty() {
            return None;
        }
        let name = resource.strip_prefix("assumed-role/")?.split('/').next()?;
        if !self.is_node_role_bare_name(name) {
            return None;
        }
        self.node_role_names
            .get(&format!("{account}/{name}"))
            .map(Vec::as_slice)
    }

    fn is_node_role_bare_name(&self, name: &str) -> bool {
        self.node_role_bare_names
            .iter()
            .any(|n| n.len() == name.len() && n == name)
    }

    /// The cluster named `name`.
    pub fn cluster_by_name(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The configured cluster a record calls `name`, where the record places it: a
    /// configured account or region that `account` or `region` contradicts means a
    /// cluster of the same name in another account or region. A place not said (None)
    /// rules nothing out.
    pub fn cluster_named(&self, name: &str, account: Option<&str>, region: Option<&str>) -> Named {
        let Some(i) = self.cluster_by_name(name) else {
            return Named::Unconfigured;
        };
        let c = &self.clusters[i];
        let contradicts = |configured: &Option<String>, said: Option<&str>| matches!((configured, said), (Some(c), Some(s)) if c != s);
        if contradicts(&c.account, account) || contradicts(&c.region, region) {
            Named::Elsewhere
        } else {
            Named::Configured(i)
        }
    }

    /// The cluster whose egress ranges hold `ip`.
    pub fn cluster_by_egress(&self, ip: IpAddr) -> Option<usize> {
        self.clusters
            .iter()
            .position(|c| c.egress.iter().any(|net| net.contains(&ip)))
    }

    /// Whether `ip` is listed on its own (a /32 or /128) in a cluster's egress ranges: how
    /// NAT gateways, which all of a cluster's nodes share, are listed.
    pub fn is_listed_address(&self, ip: IpAddr) -> bool {
        self.clusters.iter().any(|c| {
            c.egress
                .iter()
                .any(|n| n.prefix_len() == n.max_prefix_len() && n.contains(&ip))
        })
    }

    /// Bindings of `role_arn` (empty when the role is not bound in config).
    pub fn bindings_of(&self, role_arn: &str) -> impl Iterator<Item = &Binding> {
        self.by_role
            .get(role_arn)
            .into_iter()
            .flatten()
            .map(|&i| &self.bindings[i])
    }

    /// Whether role `name` (in `account`, when known) is watched for trust-policy
    /// changes: a role of the same name in another account of an organisation trail is not.
    pub fn is_watched_role(&self, account: Option<&str>, name: &str) -> bool {
        role_listed(
            account,
            name,
            |k| self.watched_roles.contains(k),
            self.watched_roles.iter(),
        )
    }

    /// Watches role `arn`, named `name`, for trust-policy changes.
    fn watch(&mut self, arn: &str, name: &str) {
        self.watched_roles
            .insert(format!("{}/{name}", arn_account(arn).unwrap_or_default()));
    }

    /// Whether role `name` (in `account`, when known) is a node role.
    pub fn is_node_role_name(&self, account: Option<&str>, name: &str) -> bool {
        role_listed(
            account,
            name,
            |k| self.node_role_names.contains_key(k),
            self.node_role_names.keys(),
        )
    }
}

/// Whether role `name` of `account` is among `account/role-name` entries (looked up by
/// `has`); with no account known, whether any entry names it (`keys`).
fn role_listed<'k>(
    account: Option<&str>,
    name: &str,
    has: impl Fn(&str) -> bool,
    mut keys: impl Iterator<Item = &'k String>,
) -> bool {
    match account {
        Some(account) => has(&format!("{account}/{name}")),
        None => keys.any(|k| k.rsplit_once('/').map(|(_, n)| n) == Some(name)),
    }
}

fn check_account(key: &str, account: &str) -> Result<(), ConfigError> {
    if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("{account:?} is not a 12-digit AWS account id"),
        ))
    }
}

/// The account of an ARN (`arn:partition:service:region:account:…`).
pub fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// The role name of an IAM role ARN (the last path segment).
pub fn role_name(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let (_, resource) = rest.split_once(":iam::")?;
    let path = resource.split_once(":role/")?.1;
    path.rsplit('/').next().filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Inventory, ConfigError> {
        Inventory::new(Config::from_toml(text)?)
    }

    #[test]
    fn invalid_configs_name_the_key() {
        let cases = [
            ("trusted_accounts = [\"12\"]", "trusted_accounts[0]"),
            (
                "[[clusters]]\nname = \"a\"\negress_cidrs = [\"10.0.0.0/33\"]",
                "clusters[0].egress_cidrs[0]",
            ),
            (
                "[[clusters]]\nname = \"a\"\nnode_roles = [\"role/x\"]",
                "clusters[0].node_roles[0]",
            ),
            (
                "[[clusters]]\nname = \"a\"\noidc_provider = \"example.com\"",
                "clusters[0].oidc_provider",
            ),
            (
                "[[bindings]]\ncluster = \"x\"\nnamespace = \"n\"\nservice_account = \"s\"\nrole_arn = \"arn:aws:iam::111122223333:role/r\"",
                "bindings[0].cluster",
            ),
            ("[[clusters]]\nnam = \"a\"", "nam"),
            (
                "[detections.no-such-detection]\nenabled = false",
                "no-such-detection",
            ),
            (
                "[detections.node-role-misuse]\nallow_actions = [\"GetObject\"]",
                "allow_actions[0]",
            ),
            ("[input]\nmax_record_bytes = 10", "input.max_record_bytes"),
            (
                "[detections.access-denied-burst]\nthreshold = 2001",
                "detections.access-denied-burst.threshold",
            ),
        ];
        for (text, key) in cases {
            let message = load(text).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(
                message.contains(key),
                "config {text:?}: expected an error naming {key:?}, got {message:?}"
            );
        }
    }

    #[test]
    fn empty_config_is_valid() {
        let inv = load("").map_err(|e| e.to_string());
        assert!(inv.is_ok(), "{inv:?}");
    }

    #[test]
    fn role_names_and_accounts() {
        let cases = [
            ("arn:aws:iam::111122223333:role/a", Some("a")),
            ("arn:aws:iam::111122223333:role/path/to/b", Some("b")),
            ("arn:aws-cn:iam::111122223333:role/c", Some("c")),
            ("arn:aws:iam::111122223333:user/d", None),
            ("arn:aws:iam::111122223333:role/", None),
        ];
        for (arn, name) in cases {
            assert_eq!(role_name(arn), name, "{arn}");
        }
        assert_eq!(
            arn_account("arn:aws:sts::111122223333:assumed-role/a/b"),
            Some("111122223333")
        );
    }

    #[test]
    fn node_roles_by_issuer_or_session() {
        let inv = load(
            "[[clusters]]\nname = \"a\"\nnode_roles = [\"arn:aws:iam::111122223333:role/node\"]\n\
             [[clusters]]\nname = \"b\"\nnode_roles = [\"arn:aws-cn:iam::444455556666:role/path/node\"]",
        )
        .unwrap();
        let cases = [
            (Some("arn:aws:iam::111122223333:role/node"), None, Some(0)),
            (Some("arn:aws-cn:iam::444455556666:role/path/node"), None, Some(1)),
            (Some("arn:aws:iam::999999999999:role/node"), None, None),
            (Some("arn:aws:iam::111122223333:role/other"), None, None),
            (
                None,
                Some("arn:aws:sts::111122223333:assumed-role/node/i-0abc"),
                Some(0),
            ),
            (
                None,
                Some("arn:aws-cn:sts::444455556666:assumed-role/node/i-0abc"),
                Some(1),
            ),
            (
                None,
                Some("arn:aws:sts::999999999999:assumed-role/node/i-0abc"),
                None,
            ),
            (
                None,
                Some("arn:aws:sts::111122223333:assumed-role/other/i-0abc"),
                None,
            ),
            (None, Some("arn:aws:iam::111122223333:user/node"), None),
            (None, Some("arn:aws:sts:::assumed-role/node/i-0abc"), None),
            (None, Some("arn:aws:sts::111122223333"), None),
            (None, Some("node"), None),
            (None, None, None),
        ];
        for (issuer, session, want) in cases {
            assert_eq!(
                inv.cluster_by_node_role(issuer, session),
                want,
                "{issuer:?} {session:?}"
            );
        }
    }

    #[test]
    fn patterns() {
        let cases = [
            ("*", "x", true),
            ("web-*", "web-1", true),
            ("web-*", "api", false),
            ("a", "a", true),
            ("a", "ab", false),
        ];
        for (pattern, value, want) in cases {
            assert_eq!(pattern_matches(pattern, value), want, "{pattern} vs {value}");
        }
    }
}
