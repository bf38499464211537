//! Detections that remember: credential stitching, SDK fallback, bursts, cross-account
//! assumes and first-seen baselines. All windows run on event time.

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::rc::Rc;

use foldhash::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::alert::digest;
use crate::config::{Inventory, arn_account};
use crate::finding::{Finding, MAX_FIELD_CHARS, Severity, clean};
use crate::record::{RecordView, parse_expiration, parse_time};
use crate::state::{DistinctCount, NewEntry, StateError, StateStore};

use super::exchange::{eks_auth_cluster, is_agent_token_expired, tagged_cluster};
use super::node::ActionSet;
use super::{
    ACCESS_DENIED_BURST, FIRST_SEEN_ROLE_SOURCE, SDK_CREDENTIAL_FALLBACK, UNEXPECTED_CROSS_ACCOUNT_ASSUME,
    WORKLOAD_CREDENTIAL_EXFILTRATION, away_from, is_access_denied, public_ip, service_account_subject,
    short_role, source_is_the_callers,
};

const PODS_EKS: &str = "pods.eks.amazonaws.com";
/// STS credentials live at most 12 hours; without an expiry in the record, 1 hour.
const MAX_CREDENTIAL_SECS: i64 = 12 * 3600;
const DEFAULT_CREDENTIAL_SECS: i64 = 3600;
/// How long a use of an unknown key waits for its exchange to show up.
const PENDING_USE_SECS: i64 = 3600;

/// Who a temporary credential was handed to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    /// Index-free cluster name (configs change between runs).
    pub cluster: Option<String>,
    /// Kubernetes namespace.
    pub namespace: Option<String>,
    /// Kubernetes service account.
    pub service_account: Option<String>,
    /// The role the credential is for.
    pub role_arn: Option<String>,
    /// `irsa` or `pod-identity`.
    pub via: String,
    /// When the credential expires (epoch seconds; 0 when unknown).
    #[serde(default)]
    pub expires: i64,
}

/// One remembered event, enough to report it later.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct EventRef {
    id: Option<String>,
    time: i64,
    at: Option<String>,
    ip: Option<String>,
    principal: Option<String>,
    action: Option<String>,
    account: Option<String>,
    region: Option<String>,
}

impl EventRef {
    fn of(record: &RecordView<'_>, time: i64) -> Self {
        let field = |s: Option<&str>| s.map(|s| clean(s, MAX_FIELD_CHARS));
        Self {
            id: field(Some(&record.event_key())),
            time,
            at: field(record.event_time),
            ip: field(record.source_ip),
            principal: record.identity.arn.map(|s| clean(s, 1024)),
            action: record
                .action()
                .map(|(s, n)| clean(&format!("{s}:{n}"), MAX_FIELD_CHARS)),
            account: field(record.account()),
            region: field(record.region),
        }
    }

    /// A finding about this remembered event.
    fn finding(&self, detection: &'static str, severity: Severity) -> Finding {
        let mut f = Finding::new(detection, severity, &RecordView::default());
        f.event_ids = self.id.iter().cloned().collect();
        f.first_seen = self.at.clone();
        f.last_seen = self.at.clone();
        f.source_ip = self.ip.clone();
        f.principal_arn = self.principal.clone();
        f.action = self.action.clone();
        f.account = self.account.clone();
        f.region = self.region.clone();
        f
    }
}

/// A failed exchange remembered by source IP, for `sdk-credential-fallback`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Failure {
    workload: Workload,
    event: EventRef,
}

/// What a batch does with an entry it holds for an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    /// Nothing: it is the entry read from the store.
    Kept,
    /// Writes it where the store has none (live).
    New,
    /// Writes it over the live one read.
    Over,
}

/// Per-input memory in front of the store: each key is fetched once per file.
#[derive(Debug, Default)]
pub struct Cache {
    credentials: HashMap<String, Option<Rc<Workload>>>,
    /// Keys known to exist in the store (put_if_absent already refused or done).
    present: HashSet<String>,
    /// Temporary keys whose first unknown use is already remembered.
    pending: HashSet<String>,
    /// When each role's first-seen baseline began, and when its entry was last written
    /// (by role ARN).
    first_seen: HashMap<String, (i64, i64)>,
    /// (role, service, network) triples of `first-seen-role-source` already settled in
    /// this input, as 64-bit hashes: a repeat costs a hash and no allocation.
    sources: HashSet<u64>,
    hasher: foldhash::fast::RandomState,
    /// Denials without an event id seen so far in this input (each is given an id of its
    /// own, from its place among them).
    unnamed: u64,
    /// The last event time read, and its epoch second.
    time: (String, Option<i64>),
    /// Store work that waits for the next batch.
    later: Later,
}

/// Store work whose answer can wait: it is done in batches ([`Context::settle`]), so a
/// remote store answers hundreds of records in a few round trips. Its findings come
/// out when the batch is settled, at the latest at the end of the input.
#[derive(Debug, Default)]
struct Later {
    /// Conditional writes: first unknown uses (`pend/`) and first-seen markers.
    writes: Vec<NewEntry>,
    /// For each write, the first-seen candidate it decides and what it marks.
    marks: Vec<Option<(usize, &'static str)>>,
    /// Exchanges to judge against a use seen before them (out of order).
    exchanges: Vec<(String, i64, Rc<Workload>)>,
    /// First-seen findings, made if one of their markers is new (None while learning).
    candidates: Vec<Option<Candidate>>,
    /// Access denials to count.
    denials: Vec<Denial>,
    /// Failed exchanges and node-role business calls, by source IP, in record order.
    fallbacks: Vec<Fallback>,
    /// The earliest and latest event time of the records since the work began waiting.
    span: Option<(i64, i64)>,
}

/// What `sdk-credential-fallback` saw of one record, judged when settled.
#[derive(Debug)]
enum Fallback {
    /// A failed exchange from `ip`.
    Failed { ip: String, failure: Failure },
    /// A node-role business call from `ip`, by a session of `role_arn`.
    Call {
        ip: String,
        call: EventRef,
        role_arn: Option<String>,
    },
}

impl Fallback {
    fn ip(&self) -> &str {
        match self {
            Self::Failed { ip, .. } | Self::Call { ip, .. } => ip,
        }
    }

    fn time(&self) -> i64 {
        match self {
            Self::Failed { failure, .. } => failure.event.time,
            Self::Call { call, .. } => call.time,
        }
    }
}

/// Longest event id the store keeps as it is (CloudTrail's are 36-byte UUIDs). A longer
/// one is kept as its stable hash, so that a crafted file cannot grow a counter past
/// what its store holds in one entry.
const MAX_STORED_ID_BYTES: usize = 64;

/// An event id as the store keeps it.
fn stored_id(id: &str) -> String {
    if id.len() <= MAX_STORED_ID_BYTES {
        id.to_string()
    } else {
        format!("#{}", digest(id.as_bytes()))
    }
}

/// Waiting entries (writes, exchanges, denials, fallbacks) that make the stateful pass
/// settle.
const LATER_LIMIT: usize = 512;
/// The event time one batch's records may span before it settles is the store's read
/// grace ([`StateStore::read_grace`]) divided by this: the reads of a batch happen when
/// it settles, and must find what its records would have found. A store that removes
/// entries once past their grace (the memory store: 15 minutes past their expiry, on
/// the latest event time it has seen) could have removed them by then.
const GRACE_PER_SPAN: i64 = 3;

impl Later {
    fn len(&self) -> usize {
        self.writes.len() + self.exchanges.len() + self.denials.len() + self.fallbacks.len()
    }
}

/// An access denial waiting to be counted.
#[derive(Debug)]
struct Denial {
    /// What its counters know it by: the event id (an event counts once), or for an
    /// event without one, an id from its time, principal, action and place among those
    /// of its input (the same on the input's redelivery).
    id: String,
    now: i64,
    window: i64,
    principal: String,
    /// The finding, should this denial be the one that reaches the threshold.
    finding: Option<Finding>,
}

impl Denial {
    /// The starts of the windows that count it: the aligned one (10:00–10:05, …) and the
    /// one half a window later (10:02:30–10:07:30, …). Denials within half a window of
    /// each other share one of them wherever the boundaries fall, so a burst that an
    /// aligned boundary splits is still whole in a window. A one-second window has no
    /// half: only the aligned one. The aligned window comes first ([`ALIGNED`]).
    fn windows(&self) -> impl Iterator<Item = i64> {
        let half = self.window / 2;
        let aligned = self.now.div_euclid(self.window) * self.window;
        let offset = (self.now - half).div_euclid(self.window) * self.window + half;
        [aligned, offset].into_iter().take(if half == 0 { 1 } else { 2 })
    }

    /// The `denials/` counter of its principal and the window at `start`: the ids it
    /// counted, and their number.
    fn counter(&self, start: i64) -> String {
        format!("denials/{}/{start}", self.principal)
    }
}

/// The index of a denial's aligned window in [`Denial::windows`]; the one half a window
/// later is `1 - ALIGNED`.
const ALIGNED: usize = 0;

/// A `first-seen-role-source` finding waiting for its markers.
#[derive(Debug)]
struct Candidate {
    finding: Finding,
    role: String,
    network: String,
    source: String,
}

/// Entries the per-input cache holds at most; past that it starts over. It only saves
/// store round trips (the store stays the truth), so a long input keeps flat memory.
const CACHE_LIMIT: usize = 1 << 13;

impl Cache {
    /// `eventTime` as seconds since the epoch. A file's records come in time order, most
    /// in the same second as the one before (96 % of the generated file's), so the last
    /// answer is kept: a repeat costs a comparison instead of a parse.
    pub fn epoch(&mut self, event_time: &str) -> Option<i64> {
        let (text, epoch) = &mut self.time;
        if text != event_time {
            text.clear();
            text.push_str(event_time);
            *epoch = parse_time(event_time);
        }
        *epoch
    }

    fn bound(&mut self) {
        let entries = self.credentials.len()
            + self.present.len()
            + self.pending.len()
            + self.first_seen.len()
            + self.sources.len();
        if entries > CACHE_LIMIT {
            // What waits in `later` is work to do, not cache: it stays.
            self.credentials.clear();
            self.present.clear();
            self.pending.clear();
            self.first_seen.clear();
            self.sources.clear();
        }
    }
}

/// The network a source belongs to: a configured cluster's, when the address is in its
/// egress ranges (its nodes and pods spread over many /24s); else the /24 (IPv4) or /48
/// (IPv6), or the service name. It is hashed as it is for the first-seen triple, and
/// shown as text in a marker.
#[derive(Hash)]
enum NetworkKey<'a> {
    Cluster(&'a str),
    V4([u8; 3]),
    V6([u16; 3]),
    Name(&'a str),
}

impl<'a> NetworkKey<'a> {
    /// `vpce`: the endpoint the call came through, if any. Through an endpoint that is
    /// not among the cluster's listed ones, an address in its ranges is another VPC's
    /// (ranges overlap); with none listed, endpoints are not told apart.
    fn of(source: &'a str, addr: Option<IpAddr>, vpce: Option<&str>, inv: &'a Inventory) -> Self {
        if let Some(c) = addr.and_then(|ip| inv.cluster_by_egress(ip)) {
            let cluster = &inv.clusters[c];
            if vpce.is_none() || !cluster.judges(vpce) || cluster.holds(None, vpce) {
                return Self::Cluster(&cluster.name);
            }
        }
        match addr {
            Some(IpAddr::V4(v4)) => {
                let [a, b, c, _] = v4.octets();
                Self::V4([a, b, c])
            }
            Some(IpAddr::V6(v6)) => {
                let s = v6.segments();
                Self::V6([s[0], s[1], s[2]])
            }
            None => Self::Name(source),
        }
    }
}

impl std::fmt::Display for NetworkKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cluster(name) => write!(f, "cluster {name}"),
            Self::V4([a, b, c]) => write!(f, "{a}.{b}.{c}.0/24"),
            Self::V6([a, b, c]) => write!(f, "{a:x}:{b:x}:{c:x}::/48"),
            Self::Name(name) => f.write_str(name),
        }
    }
}

/// What the stateful pass needs from its caller.
pub struct Context<'a> {
    /// The inventory.
    pub inventory: &'a Inventory,
    /// The node allowlist (business calls are those outside it).
    pub node_allow: &'a ActionSet,
    /// The store.
    pub store: &'a dyn StateStore,
    /// Per-input cache.
    pub cache: &'a mut Cache,
}

fn to_vec<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

fn from_slice<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Option<T> {
    serde_json::from_slice(bytes).ok()
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

/// A first-seen marker's value: when it was last written, and by which event (None for
/// a marker written before markers named it).
fn marker(value: &[u8]) -> (i64, Option<String>) {
    match from_slice::<(i64, String)>(value) {
        Some((written, by)) => (written, Some(by)),
        None => (from_slice::<i64>(value).unwrap_or(i64::MIN), None),
    }
}

/// Whether a `first-seen-role-source` entry last written at `written`, and used again at
/// `now`, is written again to live `retention` from its use: once a day (a quarter of the
/// retention when that is shorter). So what is in use is remembered while it is, and
/// what is not is forgotten `retention` after its last use, to within a day.
fn due_for_refresh(written: i64, now: i64, retention: i64) -> bool {
    now.saturating_sub(written) >= (retention / 4).clamp(1, 86_400)
}

impl Context<'_> {
    /// Runs the stateful detections on `record` and names the workload in `findings` (the
    /// ones the stateless pass just made) when the call's key was handed to one.
    /// `now` is the record's event time.
    /// `findings[own..]` are the record's own (the stateless pass's); those before are
    /// other records' and are left as they are.
    pub fn run(
        &mut self,
        record: &RecordView<'_>,
        now: i64,
        findings: &mut Vec<Finding>,
        own: usize,
    ) -> Result<(), StateError> {
        // A record too far in event time from the waiting work settles it first, for a
        // store that keeps entries only so long past their expiry (see GRACE_PER_SPAN);
        // its findings go after the record's own, which are enriched.
        let mut settled = Vec::new();
        let settle_first = match (self.cache.later.span, self.store.read_grace()) {
            (Some((first, last)), Some(grace)) if now.max(last) - now.min(first) > grace / GRACE_PER_SPAN => {
                self.settle(&mut settled)
            }
            _ => Ok(()),
        };
        // The record runs even when that failed: the input fails, and its findings
        // stand, enriched as they should be.
        let result = self.record(record, now, findings, own);
        findings.append(&mut settled);
        settle_first?;
        result?;
        let later = &mut self.cache.later;
        if later.len() > 0 {
            let (first, last) = later.span.get_or_insert((now, now));
            (*first, *last) = ((*first).min(now), (*last).max(now));
        }
        if later.len() >= LATER_LIMIT {
            self.settle(findings)?;
        }
        Ok(())
    }

    /// [`Context::run`] but for settling.
    fn record(
        &mut self,
        record: &RecordView<'_>,
        now: i64,
        findings: &mut Vec<Finding>,
        own: usize,
    ) -> Result<(), StateError> {
        let on = &self.inventory.detections;
        self.cache.bound();
        let caller = match record.identity.access_key_id.filter(|k| k.starts_with("ASIA")) {
            Some(key) => self.credential(key, now)?,
            None => None,
        };
        let workload = self.remember_exchange(record, now, caller.as_deref())?;
        if let Some(w) = &caller {
            for f in &mut findings[own..] {
                enrich(f, w);
            }
            if on.workload_credential_exfiltration.enabled {
                self.credential_used_outside(record, w, now, findings);
            }
        } else if workload.is_none() && on.workload_credential_exfiltration.enabled {
            self.remember_unknown_use(record, now)?;
        }
        if on.sdk_credential_fallback.enabled {
            self.fallback(record, now);
        }
        if on.access_denied_burst.enabled {
            self.burst(record, now);
        }
        if on.unexpected_cross_account_assume.enabled {
            self.cross_account(record, caller.as_deref(), findings);
        }
        if on.first_seen_role_source.enabled {
            self.first_seen(record, caller.as_deref(), now)?;
        }
        Ok(())
    }

    /// Fetches the workloads behind `keys` that the cache does not know yet.
    pub fn prefetch(&mut self, keys: &[String]) -> Result<(), StateError> {
        self.cache.bound();
        let mut wanted: HashSet<&str> = HashSet::default();
        let lookups: Vec<(String, i64)> = keys
            .iter()
            .filter(|k| !self.cache.credentials.contains_key(k.as_str()) && wanted.insert(k))
            // Expiry is judged per use (the credential's own expiry), not here.
            .map(|k| (format!("cred/{k}"), i64::MIN))
            .collect();
        if lookups.is_empty() {
            return Ok(());
        }
        let found = self.store.get_many(&lookups)?;
        for ((key, _), value) in lookups.iter().zip(found) {
            let workload = value.and_then(|b| from_slice(&b)).map(Rc::new);
            self.cache
                .credentials
                .insert(key["cred/".len()..].to_string(), workload);
        }
        Ok(())
    }

    /// Makes the conditional writes of a batch: whether each stored a new entry. A
    /// first-seen marker that is there already is left, unless it is due for a refresh
    /// ([`due_for_refresh`], by the time it holds): then it is written again, to live
    /// its retention from this use. One the same event wrote (a run of this input that
    /// stopped before its alerts) counts as new again: the alert claim dedups.
    fn write_new(
        &self,
        writes: &[NewEntry],
        marks: &[Option<(usize, &'static str)>],
    ) -> Result<Vec<bool>, StateError> {
        let markers: Vec<usize> = (0..writes.len()).filter(|&i| marks[i].is_some()).collect();
        let mut there = vec![false; writes.len()];
        let mut own = vec![false; writes.len()];
        if !markers.is_empty() {
            let lookups: Vec<(String, i64)> = markers
                .iter()
                .map(|&i| (writes[i].key.clone(), writes[i].now))
                .collect();
            for (&i, value) in markers.iter().zip(self.store.get_many(&lookups)?) {
                let Some(value) = value else { continue };
                there[i] = true;
                let w = &writes[i];
                let (written, by) = marker(&value);
                if by.is_some() && by == marker(&w.value).1 {
                    own[i] = true; // this event's, from a run that stopped before alerting
                } else if due_for_refresh(written, w.now, w.expires - w.now) {
                    // A refresh keeps who wrote the marker: the refreshing event did not.
                    let value = match by {
                        Some(by) => to_vec(&(w.now, by)),
                        None => to_vec(&w.now),
                    };
                    self.store.put(&w.key, &value, w.expires)?;
                }
            }
        }
        let absent: Vec<NewEntry> = writes
            .iter()
            .zip(&there)
            .filter(|(_, there)| !**there)
            .map(|(w, _)| w.clone())
            .collect();
        let won = self.store.put_if_absent_many(&absent)?;
        debug_assert_eq!(won.len(), absent.len(), "put_if_absent_many answers every entry");
        let mut won = won.into_iter();
        Ok(there
            .iter()
            .zip(&own)
            .map(|(&there, &own)| own || (!there && won.next().unwrap_or(false)))
            .collect())
    }

    /// Does the waiting store work in batches (the conditional writes, the denial counts,
    /// then the reads that may depend on them, then the fallbacks' read and write) and
    /// appends the findings it decides.
    pub fn settle(&mut self, findings: &mut Vec<Finding>) -> Result<(), StateError> {
        let later = std::mem::take(&mut self.cache.later);
        let won = self.write_new(&later.writes, &later.marks)?;
        let mut new: Vec<Vec<&str>> = vec![Vec::new(); later.candidates.len()];
        for (mark, won) in later.marks.iter().zip(&won) {
            if let (Some((candidate, what)), true) = (mark, won) {
                new[*candidate].push(what);
            }
        }
        for (candidate, new) in later.candidates.into_iter().zip(new) {
            if let Some(c) = candidate
                && !new.is_empty()
            {
                findings.push(first_seen_finding(c, &new));
            }
        }
        self.count_denials(later.denials, findings)?;
        let keys: Vec<(String, i64)> = later
            .exchanges
            .iter()
            .map(|(key, now, _)| (key.clone(), *now))
            .collect();
        let uses = self.store.get_many(&keys)?;
        for ((_, _, workload), used) in later.exchanges.iter().zip(uses) {
            if let Some(event) = used.and_then(|b| from_slice::<EventRef>(&b))
                && event.time < workload.expires
                && let Some(away) =
                    self.outside(workload, event.ip.as_deref().and_then(|ip| ip.parse().ok()), None)
            {
                findings.push(exfiltration(
                    event.finding(WORKLOAD_CREDENTIAL_EXFILTRATION, Severity::Critical),
                    workload,
                    away,
                ));
            }
        }
        self.settle_fallbacks(later.fallbacks, findings)
    }

    /// `access-denied-burst`: counts each denial in the counters of its windows
    /// ([`Denial::windows`]), each counter in one call. A counter remembers the ids it
    /// counted with its total, so a redelivered denial counts nothing, and a settle that
    /// fails halfway loses no count. The call that crosses the threshold reports,
    /// whichever process makes it, and so does a redelivery of the denial that crossed it
    /// (its alert is claimed once); but a burst whole in two overlapping windows is one
    /// burst, so a crossing is not reported when the crossing denial's other window had
    /// crossed by then (at the same denial, the aligned window reports).
    fn count_denials(&self, mut denials: Vec<Denial>, findings: &mut Vec<Finding>) -> Result<(), StateError> {
        struct Counter {
            key: String,
            /// [`ALIGNED`] or the other.
            set: usize,
            start: i64,
            /// The denials it counts, in record order.
            members: Vec<usize>,
        }
        let mut counters: Vec<Counter> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::default();
        // Each denial's counter in each set.
        let mut counter_of: Vec<[Option<usize>; 2]> = vec![[None; 2]; denials.len()];
        for (i, d) in denials.iter().enumerate() {
            for (set, start) in d.windows().enumerate() {
                let key = d.counter(start);
                let c = *index.entry(key.clone()).or_insert_with(|| {
                    counters.push(Counter {
                        key,
                        set,
                        start,
                        members: Vec::new(),
                    });
                    counters.len() - 1
                });
                counters[c].members.push(i);
                counter_of[i][set] = Some(c);
            }
        }
        let threshold = self.inventory.detections.access_denied_burst.threshold;
        let asks: Vec<DistinctCount<'_>> = counters
            .iter()
            .map(|c| {
                let last = &denials[c.members[c.members.len() - 1]];
                DistinctCount {
                    key: c.key.clone(),
                    ids: c.members.iter().map(|&i| denials[i].id.as_str()).collect(),
                    cap: threshold,
                    now: last.now,
                    // A counter lives through the window after its own, for late records.
                    expires: c.start + 2 * last.window,
                }
            })
            .collect();
        let outcomes = self.store.count_distinct_many(&asks);
        drop(asks);
        #[derive(Clone, Copy)]
        enum Crossing {
            /// In an earlier call, at another denial: it was full.
            Before,
            /// At this denial (now, or in a run of it before).
            At(usize),
            /// Not (or not known: the count failed, and the other window reports).
            Not,
        }
        let mut failed = None;
        let crossings: Vec<Crossing> = counters
            .iter()
            .zip(outcomes)
            .map(|(c, outcome)| match outcome {
                Err(e) => {
                    failed.get_or_insert(e);
                    Crossing::Not
                }
                // The crossing denial is this call's, or one redelivered: a run stopped
                // before its alerts (a timeout) counted it, and reports it again here.
                Ok(counted) => match counted
                    .crossed
                    .as_deref()
                    .and_then(|id| c.members.iter().find(|&&i| denials[i].id == id))
                {
                    Some(&i) => Crossing::At(i),
                    None if counted.before >= threshold => Crossing::Before,
                    None => Crossing::Not,
                },
            })
            .collect();
        // The crossings of the counts that were made are reported before a failure is.
        for (c, crossing) in counters.iter().zip(&crossings) {
            let Crossing::At(i) = *crossing else {
                continue;
            };
            let other = counter_of[i][1 - c.set].map(|o| crossings[o]);
            let reported_there = match other {
                Some(Crossing::Before) => true,
                Some(Crossing::At(j)) => j < i || (j == i && c.set != ALIGNED),
                Some(Crossing::Not) | None => false,
            };
            let d = &mut denials[i];
            if !reported_there && let Some(finding) = d.finding.take() {
                findings.push(burst_finding(finding, &d.principal, c.start, d.window, threshold));
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// Who a temporary key was handed to (shared: most records are such uses).
    fn credential(&mut self, key: &str, now: i64) -> Result<Option<Rc<Workload>>, StateError> {
        if let Some(w) = self.cache.credentials.get(key) {
            return Ok(w.as_ref().filter(|w| w.expires > now).cloned());
        }
        let w = self
            .store
            .get(&format!("cred/{key}"), now)?
            .and_then(|b| from_slice(&b))
            .map(Rc::new);
        self.cache.credentials.insert(key.to_string(), w.clone());
        Ok(w)
    }

    /// A successful IRSA or Pod Identity exchange: remember who got the key.
    fn remember_exchange(
        &mut self,
        record: &RecordView<'_>,
        now: i64,
        caller: Option<&Workload>,
    ) -> Result<Option<Rc<Workload>>, StateError> {
        if record.error_code.is_some() || record.event_source != Some("sts.amazonaws.com") {
            return Ok(None);
        }
        let Some(key) = record.response.issued_key_id else {
            return Ok(None);
        };
        let Some(workload) = exchange_workload(record, self.inventory).or_else(|| chained(record, caller))
        else {
            return Ok(None);
        };
        let expires = record
            .response
            .expiration
            .and_then(parse_expiration)
            .unwrap_or_else(|| {
                now + record
                    .request
                    .duration_seconds
                    .map_or(DEFAULT_CREDENTIAL_SECS, |d| d as i64)
            })
            .min(now + MAX_CREDENTIAL_SECS);
        let workload = Rc::new(Workload { expires, ..workload });
        self.store
            .put(&format!("cred/{key}"), &to_vec(&*workload), expires)?;
        self.cache
            .credentials
            .insert(key.to_string(), Some(Rc::clone(&workload)));
        // A use seen before the exchange (out of order) is judged when settled.
        if self.inventory.detections.workload_credential_exfiltration.enabled {
            let exchange = (format!("pend/{key}"), now, Rc::clone(&workload));
            self.cache.later.exchanges.push(exchange);
        }
        Ok(Some(workload))
    }

    /// Where a call from `ip` (through VPC endpoint `vpce`, when it names one) is outside
    /// the workload's cluster ([`away_from`]), and what it is not one of.
    fn outside(
        &self,
        workload: &Workload,
        ip: Option<IpAddr>,
        vpce: Option<&str>,
    ) -> Option<(String, &'static str)> {
        let cluster = workload
            .cluster
            .as_deref()
            .and_then(|c| self.inventory.cluster_by_name(c))?;
        away_from(&self.inventory.clusters[cluster], ip, vpce)
    }

    fn credential_used_outside(
        &self,
        record: &RecordView<'_>,
        w: &Workload,
        now: i64,
        findings: &mut Vec<Finding>,
    ) {
        if !source_is_the_callers(record) {
            return;
        }
        let Some(away) = self.outside(w, record.source_addr, record.vpc_endpoint_id) else {
            return;
        };
        let f = EventRef::of(record, now).finding(WORKLOAD_CREDENTIAL_EXFILTRATION, Severity::Critical);
        let mut f = exfiltration(f, w, away);
        f.user_agent = record.user_agent.map(|s| clean(s, MAX_FIELD_CHARS));
        f.error_code = record.error_code.map(|s| clean(s, 64));
        findings.push(f);
    }

    /// A temporary key nobody is known to have handed out, used from a public IP: keep
    /// the first such use for a while, in case its exchange comes later.
    fn remember_unknown_use(&mut self, record: &RecordView<'_>, now: i64) -> Result<(), StateError> {
        let Some(key) = record.identity.access_key_id.filter(|k| k.starts_with("ASIA")) else {
            return Ok(());
        };
        if record.vpc_endpoint_id.is_some()
            || record.source_addr.and_then(public_ip).is_none()
            || !source_is_the_callers(record)
        {
            return Ok(());
        }
        if self.cache.pending.contains(key) {
            return Ok(());
        }
        self.cache.later.writes.push(NewEntry {
            key: format!("pend/{key}"),
            value: to_vec(&EventRef::of(record, now)),
            now,
            expires: now + PENDING_USE_SECS,
        });
        self.cache.later.marks.push(None);
        self.cache.pending.insert(key.to_string());
        Ok(())
    }

    /// `sdk-credential-fallback`: a failed exchange, then node-role business calls from
    /// the same source IP within the window (in either processing order). Judged when
    /// settled ([`Context::settle_fallbacks`]).
    fn fallback(&mut self, record: &RecordView<'_>, now: i64) {
        let Some(ip) = record.source_ip.filter(|_| record.source_addr.is_some()) else {
            return;
        };
        let inv = self.inventory;
        let failure = failed_exchange(record, inv);
        // Else, a node-role business call?
        let business = || {
            inv.cluster_by_node_role(record.identity.issuer_arn, record.identity.arn)
                .is_some()
                && record.identity.kind == Some("AssumedRole")
                && record
                    .action()
                    .is_some_and(|(s, n)| !self.node_allow.contains(s, n))
        };
        if failure.is_none() && !business() {
            return;
        }
        // A NAT gateway (a public address listed on its own in a cluster's egress ranges)
        // is every node's: a failure and a node call from it need not be one pod's, and a
        // crash-looping pod would be blamed for every node-role call of the cluster.
        if record
            .source_addr
            .and_then(public_ip)
            .is_some_and(|ip| inv.is_listed_address(ip))
        {
            return;
        }
        let entry = match failure {
            Some(workload) => Fallback::Failed {
                ip: ip.to_string(),
                failure: Failure {
                    workload,
                    event: EventRef::of(record, now),
                },
            },
            None => Fallback::Call {
                ip: ip.to_string(),
                call: EventRef::of(record, now),
                role_arn: record.identity.issuer_arn.map(|s| clean(s, 1024)),
            },
        };
        self.cache.later.fallbacks.push(entry);
    }

    /// Judges the batch's fallbacks in record order: an address's latest failure is
    /// remembered under `fail/<ip>` (a later one replaces it: retries, a crash-looping pod
    /// or a shared NAT address fail again and again, and the window runs from the last),
    /// and a business call under `nodecall/<ip>` unless the address has a live one
    /// already; either finds the other. The store is read once for every
    /// address of the batch, and written once after; in between, the batch's own entries
    /// stand in for it. Another process's entries written in between are not seen (as
    /// for the other waiting work); the batches are bounded in size and in event time so
    /// that what the reads find is what the records would have found.
    ///
    /// The findings are made only once the entries behind them are written: when the
    /// write fails, the input fails with none of them, and its redelivery decides them
    /// again.
    fn settle_fallbacks(
        &mut self,
        fallbacks: Vec<Fallback>,
        findings: &mut Vec<Finding>,
    ) -> Result<(), StateError> {
        if fallbacks.is_empty() {
            return Ok(());
        }
        let window = secs(self.inventory.detections.sdk_credential_fallback.window);
        // An entry lives through the window after its record.
        let live = |time: i64, now: i64| time + window + 1 > now;
        let entry = |key: String, value: Vec<u8>, now: i64| NewEntry {
            key,
            value,
            now,
            expires: now + window + 1,
        };
        // Each key read at the earliest time it is asked about: whatever is live for any
        // of its records (the checks below hold each one to its own time).
        let mut earliest: HashMap<String, i64> = HashMap::default();
        for f in &fallbacks {
            for key in [format!("fail/{}", f.ip()), format!("nodecall/{}", f.ip())] {
                let t = earliest.entry(key).or_insert(i64::MAX);
                *t = (*t).min(f.time());
            }
        }
        let keys: Vec<(String, i64)> = earliest.into_iter().collect();
        let values = self.store.get_many(&keys)?;
        // Each address's live failure and call, and how this batch writes it, if at all.
        let mut failures: HashMap<String, (Failure, Write)> = HashMap::default();
        let mut calls: HashMap<String, (EventRef, bool)> = HashMap::default();
        for ((key, _), value) in keys.into_iter().zip(values) {
            let Some(value) = value else { continue };
            if let Some(ip) = key.strip_prefix("fail/") {
                if let Some(failure) = from_slice::<Failure>(&value) {
                    failures.insert(ip.to_string(), (failure, Write::Kept));
                }
            } else if let Some(ip) = key.strip_prefix("nodecall/")
                && let Some(call) = from_slice::<EventRef>(&value)
            {
                calls.insert(ip.to_string(), (call, false));
            }
        }
        let mut found = Vec::new();
        for f in fallbacks {
            match f {
                Fallback::Failed { ip, failure } => {
                    let now = failure.event.time;
                    // A node call already seen from this IP, at or after the failure?
                    if let Some((call, _)) = calls.get(&ip)
                        && (now..=now + window).contains(&call.time)
                    {
                        found.push(fallback_finding(
                            call.finding(SDK_CREDENTIAL_FALLBACK, Severity::High),
                            &failure,
                        ));
                    }
                    match failures.get_mut(&ip) {
                        Some((old, write)) if live(old.event.time, now) => {
                            if old.event.time <= now {
                                *old = failure;
                                // Over a live entry in the store; one the batch makes
                                // stays new.
                                if *write == Write::Kept {
                                    *write = Write::Over;
                                }
                            }
                        }
                        _ => {
                            failures.insert(ip, (failure, Write::New));
                        }
                    }
                }
                Fallback::Call { ip, call, role_arn } => {
                    let now = call.time;
                    if let Some((failure, _)) = failures.get(&ip)
                        && (failure.event.time..=failure.event.time + window).contains(&now)
                    {
                        let f = call.finding(SDK_CREDENTIAL_FALLBACK, Severity::High);
                        let mut f = fallback_finding(f, failure);
                        f.role_arn = role_arn;
                        found.push(f);
                        continue;
                    }
                    if !calls.get(&ip).is_some_and(|(c, _)| live(c.time, now)) {
                        calls.insert(ip, (call, true));
                    }
                }
            }
        }
        // What the batch made, as it stands at the end (an entry the batch replaced once
        // expired is not written). Whether another process wrote a new address first is
        // left to the store (a put_if_absent); the batch was judged as read. A later
        // failure is written over the live one read.
        for (ip, (f, _)) in failures.iter().filter(|(_, (_, w))| *w == Write::Over) {
            let e = entry(format!("fail/{ip}"), to_vec(f), f.event.time);
            self.store.put(&e.key, &e.value, e.expires)?;
        }
        let made_failures = failures
            .iter()
            .filter(|(_, (_, w))| *w == Write::New)
            .map(|(ip, (f, _))| entry(format!("fail/{ip}"), to_vec(f), f.event.time));
        let made_calls = calls
            .iter()
            .filter(|(_, (_, made))| *made)
            .map(|(ip, (c, _))| entry(format!("nodecall/{ip}"), to_vec(c), c.time));
        let writes: Vec<NewEntry> = made_failures.chain(made_calls).collect();
        self.store.put_if_absent_many(&writes)?;
        findings.extend(found);
        Ok(())
    }

    /// `access-denied-burst`: ≥ threshold denials for one principal in one window,
    /// counted when settled.
    fn burst(&mut self, record: &RecordView<'_>, now: i64) {
        // A failed IRSA or Pod Identity exchange is irsa-assume-failure's or
        // pod-identity-failure's: a pod retrying one is not probing permissions.
        if !record.error_code.is_some_and(is_access_denied)
            || failed_exchange(record, self.inventory).is_some()
        {
            return;
        }
        let Some(principal) = record.identity.arn.or(record.identity.principal_id) else {
            return;
        };
        let window = secs(self.inventory.detections.access_denied_burst.window).max(1);
        let principal = clean(principal, 1024);
        let later = &mut self.cache.later;
        let id = match record.event_id {
            Some(id) => stored_id(id),
            // Also by its place among the input's denials without one: alike ones (a
            // retry loop within a second) each count, and the same on a redelivery.
            None => {
                self.cache.unnamed += 1;
                format!("{}/{}", record.event_key(), self.cache.unnamed)
            }
        };
        later.denials.push(Denial {
            id,
            now,
            window,
            principal,
            finding: Some(Finding::new(ACCESS_DENIED_BURST, Severity::Medium, record)),
        });
    }

    /// `unexpected-cross-account-assume`: a workload or node role assumes a role in an
    /// account that is neither its own nor trusted.
    fn cross_account(&self, record: &RecordView<'_>, caller: Option<&Workload>, findings: &mut Vec<Finding>) {
        if record.event_source != Some("sts.amazonaws.com") || record.event_name != Some("AssumeRole") {
            return;
        }
        let inv = self.inventory;
        let issuer = record.identity.issuer_arn;
        let node_cluster = inv.cluster_by_node_role(issuer, record.identity.arn);
        let bound = issuer.is_some_and(|r| inv.bindings_of(r).next().is_some());
        if record.identity.kind != Some("AssumedRole")
            || (caller.is_none() && node_cluster.is_none() && !bound)
        {
            return;
        }
        let Some(target) = record.request.role_arn else {
            return;
        };
        let Some(account) = arn_account(target) else {
            return;
        };
        let own = record.identity.account.or(issuer.and_then(arn_account));
        if own == Some(account) || inv.trusted_accounts.contains(account) {
            return;
        }
        let who = if node_cluster.is_some() {
            "node role"
        } else {
            "workload role"
        };
        let mut f = Finding::new(UNEXPECTED_CROSS_ACCOUNT_ASSUME, Severity::High, record).role(Some(target));
        if let Some(c) = node_cluster {
            f.cluster = Some(inv.clusters[c].name.clone());
        }
        if let Some(w) = caller {
            enrich(&mut f, w);
        } else if bound && let Some(b) = issuer.and_then(|r| inv.bindings_of(r).next()) {
            f.cluster = Some(inv.clusters[b.cluster].name.clone());
        }
        let account = clean(account, 32);
        let failed = record
            .error_code
            .map(|c| format!(" (it failed: {})", clean(c, 64)))
            .unwrap_or_default();
        f.title = format!(
            "{} assumed a role in untrusted account {account}",
            clean(short_role(issuer.unwrap_or("")), MAX_FIELD_CHARS)
        );
        f.summary = format!(
            "The {who} {} called sts:AssumeRole into {}{failed}; account {account} is not in trusted_accounts.",
            clean(issuer.unwrap_or("(unknown)"), 1024),
            clean(target, 1024)
        );
        f.diagnosis = Some(
            "Workload and node credentials reaching into an unknown account is how data leaves through a \
             role the attacker controls, or a chained role nobody reviewed."
                .into(),
        );
        f.remediation = Some(format!(
            "If {account} is a partner or another of your accounts, add it to trusted_accounts; otherwise \
             deny sts:AssumeRole outside your organisation (aws:ResourceOrgID) and revoke the caller's sessions."
        ));
        findings.push(f);
    }

    /// `first-seen-role-source`: a known role used from a new network or on a new service,
    /// after its learning period.
    fn first_seen(
        &mut self,
        record: &RecordView<'_>,
        caller: Option<&Workload>,
        now: i64,
    ) -> Result<(), StateError> {
        // Where a cluster token check came from is EKS's address, not the role's.
        if record.identity.kind != Some("AssumedRole") || !source_is_the_callers(record) {
            return Ok(());
        }
        let inv = self.inventory;
        let Some(role) = record.identity.issuer_arn else {
            return Ok(());
        };
        let known = caller.is_some()
            || inv.bindings_of(role).next().is_some()
            || inv.cluster_by_node_role(Some(role), None).is_some();
        let (Some(source), Some(ip)) = (record.event_source, record.source_ip) else {
            return Ok(());
        };
        if !known {
            return Ok(());
        }
        let cached_first = self.cache.first_seen.get(role).copied();
        let network = NetworkKey::of(ip, record.source_addr, record.vpc_endpoint_id, inv);
        let triple = self.cache.hasher.hash_one((role, source, &network));
        if cached_first.is_some_and(|(first, _)| first <= now) && self.cache.sources.contains(&triple) {
            return Ok(()); // nothing new, and the baseline start stands
        }
        let config = &inv.detections.first_seen_role_source;
        let retention = secs(config.retention);
        let raw_role = role;
        let role = clean(role, 1024);
        let first_key = format!("rfirst/{role}");
        // The baseline's start and when it was last written; an input reads it once. It
        // lives while the role is in use: without, learning would start over every
        // `retention`, blind to what is new meanwhile.
        let (first, written) = match cached_first {
            Some(entry) => entry,
            None => self
                .store
                .get(&first_key, now)?
                .and_then(|b| from_slice::<(i64, i64)>(&b).or_else(|| from_slice::<i64>(&b).map(|t| (t, t))))
                .unwrap_or((i64::MAX, i64::MIN)),
        };
        // A record older than the start moves it back but keeps the entry's life: it
        // lives `retention` from the latest record that wrote it.
        let last = written.max(now);
        let written = if now < first || due_for_refresh(written, now, retention) {
            self.store.put(
                &first_key,
                &to_vec(&(first.min(now), last)),
                last.saturating_add(retention),
            )?;
            last
        } else {
            written
        };
        let first = first.min(now);
        self.cache
            .first_seen
            .insert(raw_role.to_string(), (first, written));
        self.cache.sources.insert(triple);
        let learning = now - first < secs(config.learning_period);

        let network = network.to_string();
        let markers: Vec<(&'static str, String)> = [
            ("network", format!("rnet/{role}/{network}")),
            ("service", format!("rsvc/{role}/{source}")),
        ]
        .into_iter()
        .filter(|(_, key)| !self.cache.present.contains(key))
        .collect();
        if markers.is_empty() {
            return Ok(());
        }
        let later = &mut self.cache.later;
        let candidate = later.candidates.len();
        // The value is when the marker was written, for its refresh, and by which event:
        // a redelivery of the event finds its own marker and decides again.
        let value = to_vec(&(now, stored_id(&record.event_key())));
        for (what, key) in markers {
            self.cache.present.insert(key.clone());
            later.writes.push(NewEntry {
                key,
                value: value.clone(),
                now,
                expires: now + retention,
            });
            later.marks.push(Some((candidate, what)));
        }
        // While learning, the markers only build the baseline.
        later.candidates.push((!learning).then(|| {
            let mut finding = Finding::new(FIRST_SEEN_ROLE_SOURCE, Severity::Low, record).role(Some(&role));
            if let Some(w) = caller {
                enrich(&mut finding, w);
            }
            Candidate {
                finding,
                source: clean(source, MAX_FIELD_CHARS),
                network: clean(&network, MAX_FIELD_CHARS),
                role,
            }
        }));
        Ok(())
    }
}

/// The `access-denied-burst` finding of the denial that made `count` in the window of
/// `principal` at `window_start`.
fn burst_finding(
    mut finding: Finding,
    principal: &str,
    window_start: i64,
    window: i64,
    count: u64,
) -> Finding {
    let minutes = window / 60;
    finding.count = count;
    finding.title = format!(
        "{count} access denials for {} within {minutes} min",
        short_role(principal)
    );
    finding.summary = format!(
        "{principal} received {count} AccessDenied/UnauthorizedOperation errors within the {minutes}-minute \
         window starting {}; the last was {}.",
        jiff::Timestamp::from_second(window_start)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        finding.action.as_deref().unwrap_or_default()
    );
    finding.diagnosis = Some(
        "Many denials in a short time are what permission probing looks like: stolen credentials \
         being tried against services, or a tool enumerating what it may do."
            .into(),
    );
    finding.remediation = Some(
        "Check what the principal was trying (the events' actions and resources) and from where; if \
         it is not a misconfigured deploy, revoke its sessions."
            .into(),
    );
    finding
}

/// The `first-seen-role-source` finding of `c`, whose markers in `new` were new.
fn first_seen_finding(c: Candidate, new: &[&str]) -> Finding {
    let Candidate {
        mut finding,
        role,
        network,
        source,
    } = c;
    let what = new.join(" and ");
    finding.title = format!(
        "{} used from a new {what}",
        clean(short_role(&role), MAX_FIELD_CHARS)
    );
    finding.summary = format!(
        "{role} was used from {network} on {source}: a {what} not seen for this role since its baseline began."
    );
    finding.diagnosis = Some(
        "A change in where or how a role is used: a new subnet or service, or credentials used elsewhere."
            .into(),
    );
    finding.remediation =
        Some("Confirm the deploy or network change; if there was none, check the caller.".into());
    finding
}

/// The workload an IRSA exchange (`AssumeRoleWithWebIdentity` with a service-account
/// subject) or a Pod Identity `sts:AssumeRole` (session tags) is for, whatever its outcome.
fn exchange_workload(record: &RecordView<'_>, inv: &Inventory) -> Option<Workload> {
    match (record.event_source?, record.event_name?) {
        ("sts.amazonaws.com", "AssumeRoleWithWebIdentity") => {
            let subject = record.identity.user_name.or(record.response.token_subject);
            let (ns, sa) = subject.and_then(service_account_subject)?;
            let cluster = record
                .identity
                .identity_provider
                .and_then(|p| inv.cluster_by_oidc(p));
            Some(Workload {
                cluster: cluster.map(|c| inv.clusters[c].name.clone()),
                namespace: Some(clean(ns, MAX_FIELD_CHARS)),
                service_account: Some(clean(sa, MAX_FIELD_CHARS)),
                role_arn: record.request.role_arn.map(|r| clean(r, 1024)),
                via: "irsa".into(),
                expires: 0,
            })
        }
        ("sts.amazonaws.com", "AssumeRole") if record.identity.invoked_by == Some(PODS_EKS) => {
            let tags = &record.request.pod_tags;
            Some(Workload {
                cluster: tagged_cluster(tags, inv).map(|(_, name)| clean(name, MAX_FIELD_CHARS)),
                namespace: tags.namespace.map(|s| clean(s, MAX_FIELD_CHARS)),
                service_account: tags.service_account.map(|s| clean(s, MAX_FIELD_CHARS)),
                role_arn: record.request.role_arn.map(|r| clean(r, 1024)),
                via: "pod-identity".into(),
                expires: 0,
            })
        }
        _ => None,
    }
}

/// The workload a role chain is for: a role assumed (`sts:AssumeRole`) with the temporary
/// credentials of workload `caller`. The new session's keys are that workload's, for the
/// role assumed.
fn chained(record: &RecordView<'_>, caller: Option<&Workload>) -> Option<Workload> {
    let caller = caller.filter(|_| record.event_name == Some("AssumeRole"))?;
    Some(Workload {
        role_arn: record.request.role_arn.map(|r| clean(r, 1024)),
        ..caller.clone()
    })
}

/// The workload behind a failed IRSA or Pod Identity exchange.
fn failed_exchange(record: &RecordView<'_>, inv: &Inventory) -> Option<Workload> {
    let code = record.error_code?;
    if (record.event_source?, record.event_name?) == ("eks-auth.amazonaws.com", "AssumeRoleForPodIdentity") {
        // No pod failed.
        if is_agent_token_expired(code) {
            return None;
        }
        // The node's agent made the call: the pod's identity is in the hidden token.
        return Some(Workload {
            cluster: eks_auth_cluster(record, inv).map(|(_, name)| clean(&name, MAX_FIELD_CHARS)),
            via: "pod-identity".into(),
            ..Workload::default()
        });
    }
    exchange_workload(record, inv)
}

/// Names the workload in a finding that does not know it yet.
fn enrich(f: &mut Finding, w: &Workload) {
    if f.namespace.is_none() && f.service_account.is_none() {
        f.namespace = w.namespace.clone();
        f.service_account = w.service_account.clone();
    }
    if f.cluster.is_none() {
        f.cluster = w.cluster.clone();
    }
}

/// A workload's credentials used from `from`, which is not one of its cluster's `what`.
fn exfiltration(mut f: Finding, w: &Workload, (from, what): (String, &str)) -> Finding {
    enrich(&mut f, w);
    f.role_arn = w.role_arn.clone();
    let workload = match (&w.namespace, &w.service_account) {
        (Some(ns), Some(sa)) => format!("{ns}/{sa}"),
        _ => "a workload".into(),
    };
    let via = if w.via == "irsa" { "IRSA" } else { "Pod Identity" };
    let cluster = w.cluster.clone().unwrap_or_default();
    f.title = format!("{via} credentials of {workload} used from {from}, outside cluster {cluster}");
    f.summary = format!(
        "{} was signed with temporary credentials that {via} issued to {workload} in cluster {cluster}, from \
         {from}, which is not one of the cluster's {what}.",
        f.action.clone().unwrap_or_else(|| "A call".into())
    );
    f.diagnosis = Some(format!(
        "The pod's credentials ({} session) have left the cluster: read from the pod's environment, token file \
         or the SDK cache and replayed elsewhere.",
        w.role_arn.as_deref().map(short_role).unwrap_or("its role")
    ));
    f.remediation = Some(
        "Revoke the role's active sessions (an aws:TokenIssueTime deny), rotate anything the role can read, and \
         look at the pod for compromise; restrict the role with aws:SourceVpc / aws:SourceIp conditions."
            .into(),
    );
    f
}

fn fallback_finding(mut f: Finding, failure: &Failure) -> Finding {
    let w = &failure.workload;
    enrich(&mut f, w);
    let workload = match (&w.namespace, &w.service_account) {
        (Some(ns), Some(sa)) => format!("{ns}/{sa}"),
        _ => "a pod".into(),
    };
    let via = if w.via == "irsa" { "IRSA" } else { "Pod Identity" };
    let ip = f.source_ip.clone().unwrap_or_default();
    let action = f.action.clone().unwrap_or_default();
    f.title = format!("{workload} fell back to node credentials after a failed {via} exchange");
    f.summary = format!(
        "A {via} exchange from {ip} failed (event {}), and {action} followed from the same address with the node \
         role's credentials.",
        failure.event.id.clone().unwrap_or_default()
    );
    f.diagnosis = Some(
        "When the web identity or Pod Identity provider fails, the SDK's default chain moves on to IMDS and the \
         pod runs with the node role: it works, with far more permissions than it should."
            .into(),
    );
    f.remediation = Some(
        "Fix the failing exchange (see the matching failure finding), and block pod access to IMDS (IMDSv2 hop \
         limit 1) so the fallback cannot happen."
            .into(),
    );
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let config = "[[clusters]]\nname = \"prod\"\negress_cidrs = [\"52.1.2.3/32\", \"10.1.0.0/16\"]\n\
                      vpc_endpoints = [\"vpce-home\"]";
        let inv = Inventory::new(crate::Config::from_toml(config).unwrap()).unwrap();
        let cases = [
            ("10.0.5.17", "10.0.5.0/24"),
            ("10.1.77.8", "cluster prod"),
            ("52.1.2.3", "cluster prod"),
            ("2600:1f18:abcd:1::5", "2600:1f18:abcd::/48"),
            ("s3.amazonaws.com", "s3.amazonaws.com"),
            ("AWS Internal", "AWS Internal"),
        ];
        for (source, want) in cases {
            let network = NetworkKey::of(source, source.parse().ok(), None, &inv).to_string();
            assert_eq!(network, want, "{source}");
        }
        // Through another VPC's endpoint, an address in the cluster's ranges is that VPC's.
        let through =
            |vpce| NetworkKey::of("10.1.77.8", "10.1.77.8".parse().ok(), Some(vpce), &inv).to_string();
        assert_eq!(through("vpce-home"), "cluster prod");
        assert_eq!(through("vpce-other"), "10.1.77.0/24");
        // With no endpoints listed, endpoints are not told apart (an S3 gateway endpoint).
        let unlisted = Inventory::new(
            crate::Config::from_toml(&config.replace("vpc_endpoints = [\"vpce-home\"]", "")).unwrap(),
        )
        .unwrap();
        let network = NetworkKey::of("10.1.77.8", "10.1.77.8".parse().ok(), Some("vpce-s3"), &unlisted);
        assert_eq!(network.to_string(), "cluster prod");
    }

    #[test]
    fn event_times_repeat_and_change() {
        let mut cache = Cache::default();
        let times = [
            "2026-11-30T10:00:00Z",
            "2026-11-30T10:00:00Z",
            "2026-11-30T10:00:01Z",
            "not a time",
            "not a time",
            "2026-11-30T10:00:00Z",
        ];
        for t in times {
            assert_eq!(cache.epoch(t), parse_time(t), "{t}");
        }
    }
}
