//! The alert policy: turns findings into alerts people can live with.
//!
//! Per detection: a severity floor, a dedup key (chosen finding fields) and window, and a
//! threshold. Findings with the same key in the same aligned window of event time become
//! one alert with `count`, `first_seen`, `last_seen` and (capped) `event_ids`. Claims in
//! the state store make this hold across files, runs and concurrent invocations: one
//! alert per key and window, and an event that was alerted on never alerts again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use serde::Deserialize;

use crate::config::ConfigError;
use crate::detect;
use crate::finding::{Finding, Severity};
use crate::record::parse_time;
use crate::state::{NewEntry, StateError, StateStore};

/// `[alerts]` as written.
#[derive(Debug, Clone, Deserialize)]
pub struct AlertsConfig {
    /// Default dedup window.
    #[serde(default = "fifteen_minutes", with = "humantime_serde")]
    pub window: Duration,
    /// Most event ids one alert lists.
    #[serde(default = "twenty")]
    pub max_event_ids: usize,
    /// How long an alerted event id is remembered (re-processing protection).
    #[serde(default = "seven_days", with = "humantime_serde")]
    pub event_memory: Duration,
    /// `[alerts.<detection-id>]` rules.
    #[serde(flatten)]
    pub rules: BTreeMap<String, AlertRuleConfig>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            window: fifteen_minutes(),
            max_event_ids: twenty(),
            event_memory: seven_days(),
            rules: BTreeMap::new(),
        }
    }
}

fn fifteen_minutes() -> Duration {
    Duration::from_secs(900)
}

fn twenty() -> usize {
    20
}

fn seven_days() -> Duration {
    Duration::from_secs(7 * 86_400)
}

/// `[alerts.<detection-id>]`: overrides for one detection.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRuleConfig {
    /// Dedup window for this detection.
    #[serde(default, with = "humantime_serde")]
    pub window: Option<Duration>,
    /// Findings within one window needed before an alert (default 1).
    pub threshold: Option<u64>,
    /// Findings below this severity are not alerted.
    pub min_severity: Option<Severity>,
    /// Finding fields that make the dedup key.
    pub dedup_by: Option<Vec<DedupField>>,
}

/// A finding field that can be part of a dedup key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum DedupField {
    Cluster,
    Namespace,
    ServiceAccount,
    RoleArn,
    PrincipalArn,
    SourceIp,
    ErrorCode,
    Action,
    Account,
    Region,
    /// Each event alerts on its own.
    EventId,
}

impl DedupField {
    fn of(self, f: &Finding) -> &str {
        let value = match self {
            Self::Cluster => &f.cluster,
            Self::Namespace => &f.namespace,
            Self::ServiceAccount => &f.service_account,
            Self::RoleArn => &f.role_arn,
            Self::PrincipalArn => &f.principal_arn,
            Self::SourceIp => &f.source_ip,
            Self::ErrorCode => &f.error_code,
            Self::Action => &f.action,
            Self::Account => &f.account,
            Self::Region => &f.region,
            Self::EventId => return f.event_ids.first().map_or("", String::as_str),
        };
        value.as_deref().unwrap_or("")
    }
}

/// The built-in dedup key of each detection.
fn default_dedup(detection: &str) -> Vec<DedupField> {
    use DedupField::*;
    match detection {
        detect::IRSA_ASSUME_FAILURE | detect::POD_IDENTITY_FAILURE => {
            vec![Cluster, Namespace, ServiceAccount, RoleArn, ErrorCode]
        }
        detect::NODE_ROLE_MISUSE => vec![Cluster, RoleArn, Action],
        // One alert per role (a node group's launch template), listing its instances'
        // events: not one per node.
        detect::IMDSV1_CREDENTIAL_USE => vec![Cluster, RoleArn],
        detect::NODE_CREDENTIAL_EXFILTRATION => vec![Cluster, RoleArn, SourceIp],
        detect::LONG_TERM_ACCESS_KEY => vec![PrincipalArn, SourceIp],
        detect::UNEXPECTED_WEB_IDENTITY_SUBJECT => vec![Cluster, Namespace, ServiceAccount, RoleArn],
        detect::IDENTITY_CONFIG_CHANGE => vec![EventId],
        detect::ACCESS_DENIED_BURST => vec![PrincipalArn],
        detect::UNEXPECTED_CROSS_ACCOUNT_ASSUME => vec![PrincipalArn, RoleArn],
        detect::FIRST_SEEN_ROLE_SOURCE => vec![EventId],
        // workload-credential-exfiltration, sdk-credential-fallback, and anything new
        _ => vec![Cluster, Namespace, ServiceAccount, SourceIp],
    }
}

#[derive(Debug, Clone)]
struct Rule {
    window: i64,
    threshold: u64,
    min_severity: Severity,
    dedup_by: Vec<DedupField>,
}

/// The validated policy.
#[derive(Debug, Clone)]
pub struct AlertPolicy {
    rules: HashMap<&'static str, Rule>,
    fallback: Rule,
    max_event_ids: usize,
    event_memory: i64,
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

impl AlertPolicy {
    /// Validates `[alerts]`.
    pub fn new(config: &AlertsConfig) -> Result<Self, ConfigError> {
        let invalid = |key: String, problem: &str| ConfigError::Invalid {
            key,
            problem: problem.to_string(),
        };
        if let Some(id) = config
            .rules
            .keys()
            .find(|id| !detect::all().any(|d| d == id.as_str()))
        {
            return Err(invalid(format!("alerts.{id}"), "not a detection id"));
        }
        if config.window.as_secs() == 0 {
            return Err(invalid("alerts.window".into(), "must be at least one second"));
        }
        let default_window = secs(config.window);
        let mut rules = HashMap::new();
        for id in detect::all() {
            let c = config.rules.get(id).cloned().unwrap_or_default();
            let window = c.window.map_or(default_window, secs);
            if window == 0 || c.threshold == Some(0) {
                return Err(invalid(
                    format!("alerts.{id}"),
                    "window and threshold must be positive",
                ));
            }
            rules.insert(
                id,
                Rule {
                    window,
                    threshold: c.threshold.unwrap_or(1),
                    min_severity: c.min_severity.unwrap_or(Severity::Info),
                    dedup_by: c.dedup_by.unwrap_or_else(|| default_dedup(id)),
                },
            );
        }
        Ok(Self {
            fallback: Rule {
                window: default_window,
                threshold: 1,
                min_severity: Severity::Info,
                dedup_by: default_dedup(""),
            },
            rules,
            max_event_ids: config.max_event_ids.max(1),
            event_memory: secs(config.event_memory),
        })
    }

    /// Starts collecting the findings of one run (a file, an invocation, a replay).
    pub fn batch(&self) -> AlertBatch<'_> {
        AlertBatch {
            policy: self,
            pending: Vec::new(),
            by_key: HashMap::new(),
            waiting: Vec::new(),
            listed: HashMap::new(),
            suppressed: 0,
            fresh: Vec::new(),
        }
    }
}

/// An alert about to be sent, with the claims that make it unique.
#[derive(Debug, Clone)]
pub struct Alert {
    /// The alert, in the finding schema.
    pub finding: Finding,
    /// The state key claimed for it (one alert per key and window).
    pub claim: String,
    /// The per-event keys claimed for it (an alerted event never alerts again).
    pub events: Vec<String>,
}

struct Pending {
    key: String,
    events: Vec<String>,
    window_end: i64,
    last: i64,
    finding: Finding,
    rule: Rule,
}

impl AlertPolicy {
    /// The rule of `finding` and the start of its window at `time`.
    fn window_of(&self, finding: &Finding, time: i64) -> (&Rule, i64) {
        let rule = self.rules.get(finding.detection).unwrap_or(&self.fallback);
        (rule, time.div_euclid(rule.window) * rule.window)
    }

    /// The dedup key of the alert `finding` at `time` belongs to ([`alert_key`]), and its
    /// rule.
    fn alert_key_of(&self, finding: &Finding, time: i64) -> (String, &Rule) {
        let (rule, start) = self.window_of(finding, time);
        let fields: Vec<&str> = rule.dedup_by.iter().map(|f| f.of(finding)).collect();
        (alert_key(finding.detection, &fields, start), rule)
    }

    /// Gives up the claims of an alert that could not be delivered, so that processing
    /// its input again (a redelivered message) alerts again.
    pub fn release(&self, alert: &Alert, store: &dyn StateStore) -> Result<(), StateError> {
        for key in alert.events.iter().chain([&alert.claim]) {
            // Expired entries are absent: an expiry in the past is a delete.
            store.put(key, b"", i64::MIN)?;
        }
        Ok(())
    }
}

/// Longest alert key kept as it is. State stores bound their keys (DynamoDB: 2048 bytes
/// per partition key), and a key the store refuses would fail the whole input, alerts of
/// other records included: a caller could hide a call behind a long role name.
const MAX_ALERT_KEY_BYTES: usize = 1024;
/// In a key past that limit, fields longer than this are shortened…
const MAX_KEY_FIELD_BYTES: usize = 64;
/// …to their first bytes, `~` and a digest of the whole field ([`digest`]).
const KEY_FIELD_PREFIX_BYTES: usize = 40;

/// `alert/<detection>/<field>/…/<window start>`: the dedup key of an alert. Keys that
/// fit [`MAX_ALERT_KEY_BYTES`] are the fields themselves; in longer ones each long field
/// is shortened (a stable digest, so the same fields always make the same key), which
/// bounds a key to 74 bytes per field.
fn alert_key(detection: &str, fields: &[&str], start: i64) -> String {
    let join = |shorten: bool| {
        let mut key = format!("alert/{detection}");
        for field in fields {
            key.push('/');
            if shorten && field.len() > MAX_KEY_FIELD_BYTES {
                let mut end = KEY_FIELD_PREFIX_BYTES;
                while !field.is_char_boundary(end) {
                    end -= 1;
                }
                key.push_str(&format!("{}~{}", &field[..end], digest(field.as_bytes())));
            } else {
                key.push_str(field);
            }
        }
        key.push_str(&format!("/{start}"));
        key
    };
    let key = join(false);
    if key.len() <= MAX_ALERT_KEY_BYTES {
        key
    } else {
        join(true)
    }
}

/// The first 128 bits of the SHA-256 of `bytes`, in hex: stable across builds and
/// releases (keys live in the state store), and a field cannot be made to share another
/// field's key, as it could with a non-cryptographic hash: a caller who chose a long role
/// path could otherwise have one alert's key taken by another's and suppress it.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    use std::fmt::Write as _;
    let sum = sha2::Sha256::digest(bytes);
    sum[..16].iter().fold(String::with_capacity(32), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// Findings of one run on their way to becoming alerts.
pub struct AlertBatch<'p> {
    policy: &'p AlertPolicy,
    pending: Vec<Pending>,
    by_key: HashMap<String, usize>,
    /// Findings whose events are claimed together, [`WAITING_LIMIT`] at a time.
    waiting: Vec<(Finding, i64)>,
    /// The events of each alert key so far ([`Listed`]).
    listed: HashMap<String, Listed>,
    suppressed: u64,
    /// The findings counted as new so far ([`AlertBatch::fresh`]).
    fresh: Vec<Fresh>,
}

/// A finding an alert batch counted as new: not dropped for events alerted before (a
/// redelivered or re-processed input). What metrics count, so that a redelivery does not
/// count the same failures again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fresh {
    /// The finding's detection id.
    pub detection: &'static str,
    /// Its cluster, when it names one.
    pub cluster: Option<String>,
    /// Its error code, when it has one.
    pub error_code: Option<String>,
}

impl From<&Finding> for Fresh {
    fn from(f: &Finding) -> Self {
        Self {
            detection: f.detection,
            cluster: f.cluster.clone(),
            error_code: f.error_code.clone(),
        }
    }
}

/// Findings whose event claims go to the store in one batch.
const WAITING_LIMIT: usize = 256;

/// The events of one alert key in a batch. Under a rule without a threshold, the key's
/// first `max_event_ids` distinct events are claimed one by one and the others are covered
/// by those claims: new when one of them was won, alerted before when none was (the same
/// input processed again). So a caller who makes a hundred thousand findings of one kind
/// costs the store twenty claims, not a hundred thousand. Covered events decide no alert
/// while the key's alert claim lives, which keeps one alert per key and window whatever
/// they are taken for. A threshold rule claims every event: its counts must take each
/// event once, also across deliveries.
#[derive(Debug, Default)]
struct Listed {
    /// Every event id of the key so far: an event given twice counts once.
    seen: HashSet<String>,
    /// How many of them were claimed.
    claimed: usize,
    /// Whether one of those claims was won.
    won: bool,
}

impl AlertBatch<'_> {
    /// Findings dropped so far (below the floor, already alerted, under the threshold).
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }

    /// The findings counted as new, once [`AlertBatch::finish`] has claimed them all:
    /// those whose events were not alerted before, and those below their floor (never
    /// claimed, so counted as found).
    pub fn fresh(&self) -> &[Fresh] {
        &self.fresh
    }

    /// Adds one finding. Its events are claimed in the store with the next batch of
    /// findings (or by [`AlertBatch::finish`]).
    pub fn add(&mut self, finding: Finding, store: &dyn StateStore) -> Result<(), StateError> {
        let policy = self.policy;
        let rule = policy.rules.get(finding.detection).unwrap_or(&policy.fallback);
        if finding.severity < rule.min_severity {
            // Not claimed, so not known to be new: counted as found.
            self.fresh.push(Fresh::from(&finding));
            self.suppressed += 1;
            return Ok(());
        }
        let time = finding.first_seen.as_deref().and_then(parse_time).unwrap_or(0);
        self.waiting.push((finding, time));
        if self.waiting.len() >= WAITING_LIMIT {
            self.claim_events(store)?;
        }
        Ok(())
    }

    /// Claims the events of the waiting findings ([`Listed`]): an event already alerted on
    /// (a redelivered or re-processed file) is dropped, and a finding left without events.
    fn claim_events(&mut self, store: &dyn StateStore) -> Result<(), StateError> {
        let waiting = std::mem::take(&mut self.waiting);
        let policy = self.policy;
        let mut claims: Vec<NewEntry> = Vec::new();
        let mut keyed = Vec::with_capacity(waiting.len());
        for (mut finding, time) in waiting {
            let (key, rule) = policy.alert_key_of(&finding, time);
            let cap = match rule.threshold {
                1 => policy.max_event_ids,
                _ => usize::MAX,
            };
            let listed = self.listed.entry(key.clone()).or_default();
            let (mut claimed, mut covered) = (Vec::new(), Vec::new());
            for id in finding.event_ids.drain(..) {
                if !listed.seen.insert(id.clone()) {
                    continue;
                }
                if listed.claimed < cap {
                    listed.claimed += 1;
                    claims.push(NewEntry {
                        key: format!("event/{}/{id}", finding.detection),
                        value: Vec::new(),
                        now: time,
                        expires: time + policy.event_memory,
                    });
                    claimed.push(id);
                } else {
                    covered.push(id);
                }
            }
            keyed.push((finding, time, key, claimed, covered));
        }
        let won = store.put_if_absent_many(&claims).inspect_err(|_| {
            self.abandon(store, claims.iter().map(|c| c.key.as_str()));
        })?;
        let mut won = won.into_iter();
        let mut claims = claims.into_iter();
        // Claims go in the order of the findings, so a finding's covered events come after
        // every claim of its key that could cover them.
        for (mut finding, time, key, claimed, covered) in keyed {
            let mut fresh = Vec::with_capacity(claimed.len());
            let mut events = Vec::with_capacity(claimed.len());
            for (id, (claim, won)) in claimed.into_iter().zip(claims.by_ref().zip(won.by_ref())) {
                if won {
                    fresh.push(id);
                    events.push(claim.key);
                }
            }
            let won = !fresh.is_empty();
            let key_won = self.listed.get_mut(&key).map_or(won, |listed| {
                listed.won |= won;
                listed.won
            });
            if key_won {
                fresh.extend(covered);
            }
            if fresh.is_empty() && finding.count > 0 {
                self.suppressed += 1;
                continue;
            }
            self.fresh.push(Fresh::from(&finding));
            finding.event_ids = fresh;
            self.gather(finding, time, key, events);
        }
        Ok(())
    }

    /// Adds a finding with fresh events to the alert of its key.
    fn gather(&mut self, finding: Finding, time: i64, key: String, events: Vec<String>) {
        let policy = self.policy;
        let (rule, start) = policy.window_of(&finding, time);
        match self.by_key.get(&key) {
            Some(&i) => {
                self.pending[i].events.extend(events);
                merge(&mut self.pending[i], finding, time, policy.max_event_ids);
            }
            None => {
                self.by_key.insert(key.clone(), self.pending.len());
                self.pending.push(Pending {
                    key,
                    events,
                    window_end: start + rule.window,
                    last: time,
                    finding,
                    rule: rule.clone(),
                });
            }
        }
    }

    /// The alerts of this run, claimed in the store: at most one per key and window ever.
    pub fn finish(&mut self, store: &dyn StateStore) -> Result<Vec<Alert>, StateError> {
        self.claim_events(store)?;
        self.claim_alerts(store)
    }

    /// Counts the pending alerts of threshold rules, claims those that are due, and makes
    /// alerts of the claims won. The pending alerts stay until nothing can fail; when
    /// something does, the batch gives its claims up ([`AlertBatch::abandon`]).
    fn claim_alerts(&mut self, store: &dyn StateStore) -> Result<Vec<Alert>, StateError> {
        let mut totals = Vec::with_capacity(self.pending.len());
        for p in &self.pending {
            let expires = p.window_end + p.rule.window;
            let total = if p.rule.threshold > 1 {
                let counted = store.increment(&format!("count/{}", p.key), p.finding.count, p.last, expires);
                Some(counted.inspect_err(|_| self.abandon(store, std::iter::empty()))?)
            } else {
                None
            };
            totals.push((total, expires));
        }
        let due = |p: &Pending, total: Option<u64>| total.is_none_or(|t| t >= p.rule.threshold);
        let claims: Vec<NewEntry> = self
            .pending
            .iter()
            .zip(&totals)
            .filter(|(p, (total, _))| due(p, *total))
            .map(|(p, (_, expires))| NewEntry {
                key: p.key.clone(),
                value: Vec::new(),
                now: p.last,
                expires: *expires,
            })
            .collect();
        let won = store.put_if_absent_many(&claims).inspect_err(|_| {
            // Any alert claim of the failed write may have landed.
            self.abandon(store, claims.iter().map(|c| c.key.as_str()));
        })?;
        let mut won = won.into_iter();
        let mut alerts = Vec::new();
        for (mut p, (total, _)) in std::mem::take(&mut self.pending).into_iter().zip(totals) {
            if !due(&p, total) || !won.next().unwrap_or(false) {
                self.suppressed += p.finding.count;
                continue;
            }
            if let Some(total) = total {
                p.finding.count = total;
            }
            if p.finding.count > 1 {
                p.finding.title = format!("{} ({} events)", p.finding.title, p.finding.count);
            }
            alerts.push(Alert {
                finding: p.finding,
                claim: p.key,
                events: p.events,
            });
        }
        Ok(alerts)
    }

    /// After a store failure stopped this batch (its input fails, to be processed again):
    /// gives up the event claims it won, and `unsure`, the claims of the failed write,
    /// which may have landed. Kept, they would make the next try drop these alerts as
    /// sent. Giving up a claim that was another's (an event alerted before) can alert
    /// twice instead. Best effort: the store is failing already.
    fn abandon<'k>(&'k self, store: &dyn StateStore, unsure: impl Iterator<Item = &'k str>) {
        let won = self
            .pending
            .iter()
            .flat_map(|p| p.events.iter().map(String::as_str));
        for key in won.chain(unsure) {
            // Expired entries are absent: an expiry in the past is a delete.
            if store.put(key, b"", i64::MIN).is_err() {
                break;
            }
        }
    }
}

fn merge(p: &mut Pending, f: Finding, time: i64, max_ids: usize) {
    let into = &mut p.finding;
    into.count += f.count;
    into.severity = into.severity.max(f.severity);
    for id in f.event_ids {
        if into.event_ids.len() < max_ids {
            into.event_ids.push(id);
        }
    }
    let earlier = |a: &Option<String>, b: &Option<String>| {
        a.as_deref().and_then(parse_time).unwrap_or(i64::MAX)
            < b.as_deref().and_then(parse_time).unwrap_or(i64::MAX)
    };
    if earlier(&f.first_seen, &into.first_seen) {
        into.first_seen = f.first_seen;
    }
    if time >= p.last {
        p.last = time;
        into.last_seen = f.last_seen;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_keys_stay_within_what_stores_take() {
        assert_eq!(
            alert_key(
                "irsa-assume-failure",
                &["prod", "", "orders", "AccessDenied"],
                900
            ),
            "alert/irsa-assume-failure/prod//orders/AccessDenied/900"
        );
        let long = |c: &str| format!("arn:aws:iam::111122223333:role/{}", c.repeat(1000));
        let (a, b) = (long("a"), long("ü"));
        let fields: Vec<&str> = vec![&a, &b, &a, &b, &a, &b, &a, &b, &a, &b, &a];
        let key = alert_key("node-role-misuse", &fields, 900);
        assert!(key.len() <= 11 * 76 + 40, "{} bytes", key.len());
        assert_eq!(key, alert_key("node-role-misuse", &fields, 900), "stable");
        // Fields that differ past the kept prefix still make different keys.
        let (c, d) = (format!("{a}x"), format!("{a}y"));
        assert_ne!(
            alert_key("node-role-misuse", &[&c, &a, &a], 900),
            alert_key("node-role-misuse", &[&d, &a, &a], 900)
        );
        // SHA-256("abc"), FIPS 180-2's first example, to 128 bits.
        assert_eq!(digest(b"abc"), "ba7816bf8f01cfea414140de5dae2223");
    }
}
