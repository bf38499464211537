//! The alert policy: turns findings into alerts people can live with.
//!
//! Per detection: a severity floor, a dedup key (chosen finding fields) and window, and a
//! threshold. Findings with the same key in the same aligned window of event time become
//! one alert with `count`, `first_seen`, `last_seen` and (capped) `event_ids`. Claims in
//! the state store make this hold across files, runs and concurrent invocations: one
//! alert per key and window, and an event that was alerted on never alerts again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use indexmap::IndexMap;
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
    pub fn batch(&self) -> AlertBatch {
        AlertBatch {
            policy: self.clone(),
            keys: IndexMap::new(),
            held: Vec::new(),
            covered: Vec::new(),
            ids: RandomState::new(),
            pending: Vec::new(),
            suppressed: 0,
            fresh: BTreeMap::new(),
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

/// An alert of a batch: its first new finding, what the others add, and its claims.
struct Pending {
    key: String,
    events: Vec<String>,
    window_end: i64,
    finding: Finding,
    part: Part,
    rule: Rule,
}

impl AlertPolicy {
    /// The rule of `detection`.
    fn rule(&self, detection: &str) -> &Rule {
        self.rules.get(detection).unwrap_or(&self.fallback)
    }

    /// The rule of `finding` and the start of its window at `time`.
    fn window_of(&self, finding: &Finding, time: i64) -> (&Rule, i64) {
        let rule = self.rule(finding.detection);
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

/// Findings of one run on their way to becoming alerts. They are folded by alert key as
/// they come ([`Gathered`]), and their events are claimed in the store [`WAITING_LIMIT`]
/// findings at a time, as they come ([`AlertBatch::add`]) or once they are all there
/// ([`AlertBatch::fold`], then [`AlertBatch::finish`]). Alerts are made in the order of
/// their first new finding. A batch keeps its own copy of the policy, so it can move
/// between threads with the findings it holds.
pub struct AlertBatch {
    policy: AlertPolicy,
    /// Every alert key of the batch so far, in the order they came.
    keys: IndexMap<String, Gathered>,
    /// Findings waiting whole for the claims of their events, in the order they came.
    held: Vec<Held>,
    /// The keys with findings in their [`Covered`].
    covered: Vec<usize>,
    /// Keys the hashes of event ids ([`Gathered::seen`]).
    ids: RandomState,
    /// The alerts of findings claimed new, one per key.
    pending: Vec<Pending>,
    suppressed: u64,
    /// The findings counted as new so far ([`AlertBatch::fresh`]).
    fresh: BTreeMap<Fresh, u64>,
}

/// A finding an alert batch counted as new: not dropped for events alerted before (a
/// redelivered or re-processed input). What metrics count, so that a redelivery does not
/// count the same failures again.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
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

/// Findings whose event claims go to the store in one batch under [`AlertBatch::add`].
const WAITING_LIMIT: usize = 256;

/// One alert key in a batch. Under a rule without a threshold, the key's first
/// `max_event_ids` distinct events are claimed one by one and the others are covered by
/// those claims: new when one of them was won, alerted before when none was (the same
/// input processed again). So a caller who makes a hundred thousand findings of one kind
/// costs the store twenty claims, not a hundred thousand, and the batch twenty findings
/// held whole: those whose events are all covered wait folded into one ([`Covered`]), and
/// each costs the batch an 8-byte hash of its event id. Covered events decide no alert
/// while the key's alert claim lives, which keeps one alert per key and window whatever
/// they are taken for. A threshold rule claims every event, and its findings wait whole
/// for their claims: its counts must take each event once, also across deliveries. Each
/// key is an alert to be: what a batch holds grows with its keys.
#[derive(Default)]
struct Gathered {
    /// A 64-bit hash (keyed per batch) of every event id of the key so far: an event
    /// given twice counts once.
    seen: HashSet<u64>,
    /// How many of them were claimed or wait to be.
    claimed: usize,
    /// Whether one of those claims was won.
    won: bool,
    /// Findings all of whose events are covered, waiting for the claims before them (boxed:
    /// most keys have none).
    covered: Option<Box<Covered>>,
    /// The key's alert in [`AlertBatch::pending`], once one of its findings was new.
    pending: Option<usize>,
}

/// A finding waiting for the claims of its first events; the others are covered.
struct Held {
    /// Its alert key in [`AlertBatch::keys`].
    key: usize,
    finding: Finding,
    time: i64,
    claimed: Vec<String>,
    covered: Vec<String>,
}

/// Findings of one key whose events are all covered, folded together while they wait.
#[derive(Default)]
struct Covered {
    findings: u64,
    part: Option<Part>,
    fresh: BTreeMap<Fresh, u64>,
}

/// What findings add to the alert of their key.
struct Part {
    count: u64,
    severity: Severity,
    event_ids: Vec<String>,
    first_seen: Option<String>,
    last_seen: Option<String>,
    /// Event time of the latest finding, whose `last_seen` this is.
    time: i64,
}

impl Part {
    /// Takes `finding`'s share out of it, with `event_ids` as its events.
    fn take(finding: &mut Finding, event_ids: Vec<String>, time: i64) -> Self {
        Self {
            count: finding.count,
            severity: finding.severity,
            event_ids,
            first_seen: finding.first_seen.take(),
            last_seen: finding.last_seen.take(),
            time,
        }
    }

    /// Adds `other`, listing at most `max_ids` event ids (the first part's own excepted).
    fn absorb(&mut self, other: Part, max_ids: usize) {
        self.count += other.count;
        self.severity = self.severity.max(other.severity);
        let room = max_ids.saturating_sub(self.event_ids.len());
        self.event_ids.extend(other.event_ids.into_iter().take(room));
        let time = |t: &Option<String>| t.as_deref().and_then(parse_time).unwrap_or(i64::MAX);
        if time(&other.first_seen) < time(&self.first_seen) {
            self.first_seen = other.first_seen;
        }
        if other.time >= self.time {
            self.time = other.time;
            self.last_seen = other.last_seen;
        }
    }

    /// Writes the sums back into the alert's finding.
    fn put(self, finding: &mut Finding) {
        finding.count = self.count;
        finding.severity = self.severity;
        finding.event_ids = self.event_ids;
        finding.first_seen = self.first_seen;
        finding.last_seen = self.last_seen;
    }
}

impl Covered {
    fn add(&mut self, mut finding: Finding, event_ids: Vec<String>, time: i64, max_ids: usize) {
        self.findings += 1;
        *self.fresh.entry(Fresh::from(&finding)).or_default() += 1;
        let part = Part::take(&mut finding, event_ids, time);
        match &mut self.part {
            Some(sum) => sum.absorb(part, max_ids),
            None => self.part = Some(part),
        }
    }
}

impl crate::engine::Sink for AlertBatch {
    /// Folds the finding ([`AlertBatch::fold`]): claimed by [`AlertBatch::finish`].
    fn finding(&mut self, finding: Finding) {
        self.fold(finding);
    }
}

impl AlertBatch {
    /// Whether no finding was given to the batch.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.fresh.is_empty()
    }

    /// How many findings wait whole for the claims of their events: under rules without a
    /// threshold at most `max_event_ids` per alert key ([`Gathered`]); the others wait as
    /// a count.
    pub fn waiting(&self) -> usize {
        self.held.len()
    }

    /// Findings dropped so far (below the floor, already alerted, under the threshold).
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }

    /// The findings counted as new, once [`AlertBatch::finish`] has claimed them all, by
    /// detection, cluster and error code: those whose events were not alerted before, and
    /// those below their floor (never claimed, so counted as found).
    pub fn fresh(&self) -> impl Iterator<Item = (&Fresh, u64)> {
        self.fresh.iter().map(|(f, n)| (f, *n))
    }

    /// Adds one finding. Its events are claimed in the store with the next batch of
    /// findings (or by [`AlertBatch::finish`]).
    pub fn add(&mut self, finding: Finding, store: &dyn StateStore) -> Result<(), StateError> {
        self.fold(finding);
        if self.held.len() >= WAITING_LIMIT {
            self.claim_events(store)?;
        }
        Ok(())
    }

    /// Adds one finding without a word to the store: its events are claimed by
    /// [`AlertBatch::finish`], or by an `add` that fills a batch of claims. What waits is
    /// bounded per alert key under rules without a threshold ([`Gathered`]).
    pub fn fold(&mut self, mut finding: Finding) {
        let policy = &self.policy;
        if finding.severity < policy.rule(finding.detection).min_severity {
            // Not claimed, so not known to be new: counted as found.
            *self.fresh.entry(Fresh::from(&finding)).or_default() += 1;
            self.suppressed += 1;
            return;
        }
        let time = finding.first_seen.as_deref().and_then(parse_time).unwrap_or(0);
        let (key, rule) = policy.alert_key_of(&finding, time);
        let cap = match rule.threshold {
            1 => policy.max_event_ids,
            _ => usize::MAX,
        };
        let entry = self.keys.entry(key);
        let k = entry.index();
        let gathered = entry.or_default();
        let (mut claimed, mut covered) = (Vec::new(), Vec::new());
        for id in std::mem::take(&mut finding.event_ids) {
            if !gathered.seen.insert(self.ids.hash_one(&id)) {
                continue;
            }
            if gathered.claimed < cap {
                gathered.claimed += 1;
                claimed.push(id);
            } else {
                covered.push(id);
            }
        }
        if !claimed.is_empty() {
            self.held.push(Held {
                key: k,
                finding,
                time,
                claimed,
                covered,
            });
        } else if !covered.is_empty() {
            let waiting = gathered.covered.get_or_insert_with(|| {
                self.covered.push(k);
                Box::default()
            });
            waiting.add(finding, covered, time, self.policy.max_event_ids);
        } else {
            // Its events came before in this batch.
            self.suppressed += 1;
        }
    }

    /// Claims the events of the waiting findings, [`WAITING_LIMIT`] findings at a time,
    /// then decides the covered ones ([`Gathered`]): an event already alerted on (a
    /// redelivered or re-processed file) is dropped, and a finding left without events.
    fn claim_events(&mut self, store: &dyn StateStore) -> Result<(), StateError> {
        let mut held = std::mem::take(&mut self.held).into_iter();
        loop {
            let round: Vec<Held> = held.by_ref().take(WAITING_LIMIT).collect();
            if round.is_empty() {
                break;
            }
            self.claim_round(round, store)?;
        }
        let max_ids = self.policy.max_event_ids;
        for k in std::mem::take(&mut self.covered) {
            let Some((_, gathered)) = self.keys.get_index_mut(k) else {
                continue;
            };
            let Some(covered) = gathered.covered.take() else {
                continue;
            };
            let Some(part) = covered.part else { continue };
            match (gathered.won, gathered.pending) {
                (true, Some(i)) => {
                    for (f, n) in covered.fresh {
                        *self.fresh.entry(f).or_default() += n;
                    }
                    self.pending[i].part.absorb(part, max_ids);
                }
                _ => self.suppressed += covered.findings,
            }
        }
        Ok(())
    }

    /// Claims the events of `round` in one write, in the order of the findings (which
    /// puts a key's covered findings after every claim that could cover them).
    fn claim_round(&mut self, round: Vec<Held>, store: &dyn StateStore) -> Result<(), StateError> {
        let memory = self.policy.event_memory;
        let claims: Vec<NewEntry> = round
            .iter()
            .flat_map(|h| {
                h.claimed.iter().map(move |id| NewEntry {
                    key: format!("event/{}/{id}", h.finding.detection),
                    value: Vec::new(),
                    now: h.time,
                    expires: h.time + memory,
                })
            })
            .collect();
        let won = store.put_if_absent_many(&claims).inspect_err(|_| {
            self.abandon(store, claims.iter().map(|c| c.key.as_str()));
        })?;
        let mut won = won.into_iter();
        let mut claims = claims.into_iter();
        for mut held in round {
            let mut fresh = Vec::with_capacity(held.claimed.len());
            let mut events = Vec::with_capacity(held.claimed.len());
            for (id, (claim, won)) in held.claimed.into_iter().zip(claims.by_ref().zip(won.by_ref())) {
                if won {
                    fresh.push(id);
                    events.push(claim.key);
                }
            }
            let Some((_, gathered)) = self.keys.get_index_mut(held.key) else {
                continue;
            };
            gathered.won |= !fresh.is_empty();
            if gathered.won {
                fresh.extend(held.covered);
            }
            if fresh.is_empty() {
                self.suppressed += 1;
                continue;
            }
            *self.fresh.entry(Fresh::from(&held.finding)).or_default() += 1;
            let part = Part::take(&mut held.finding, fresh, held.time);
            self.gather(held.key, held.finding, part, events);
        }
        Ok(())
    }

    /// Adds a finding with fresh events to the alert of its key `k`.
    fn gather(&mut self, k: usize, finding: Finding, part: Part, events: Vec<String>) {
        let Some((key, gathered)) = self.keys.get_index_mut(k) else {
            return;
        };
        match gathered.pending {
            Some(i) => {
                let p = &mut self.pending[i];
                p.events.extend(events);
                p.part.absorb(part, self.policy.max_event_ids);
            }
            None => {
                let (rule, start) = self.policy.window_of(&finding, part.time);
                gathered.pending = Some(self.pending.len());
                self.pending.push(Pending {
                    key: key.clone(),
                    events,
                    window_end: start + rule.window,
                    finding,
                    part,
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
                let counted =
                    store.increment(&format!("count/{}", p.key), p.part.count, p.part.time, expires);
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
                now: p.part.time,
                expires: *expires,
            })
            .collect();
        let won = store.put_if_absent_many(&claims).inspect_err(|_| {
            // Any alert claim of the failed write may have landed.
            self.abandon(store, claims.iter().map(|c| c.key.as_str()));
        })?;
        let mut won = won.into_iter();
        let mut alerts = Vec::new();
        for gathered in self.keys.values_mut() {
            gathered.pending = None;
        }
        for (mut p, (total, _)) in std::mem::take(&mut self.pending).into_iter().zip(totals) {
            if !due(&p, total) || !won.next().unwrap_or(false) {
                self.suppressed += p.part.count;
                continue;
            }
            p.part.put(&mut p.finding);
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
