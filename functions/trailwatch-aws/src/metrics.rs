//! CloudWatch metrics, counted in memory during an invocation and sent once at its end:
//! PutMetricData in batches within the API limits, or Embedded Metric Format lines.
//!
//! Dimension values never come straight from a record: clusters are the configured
//! names (else `unconfigured`), error codes a known list (else `Other`), detections and
//! severities closed sets. An attacker choosing names cannot grow the metric count.

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit, StatisticSet};

use trailwatch::Severity;
use trailwatch::alert::Fresh;
use trailwatch::config::{Inventory, MetricsMode};
use trailwatch::detect;
use trailwatch::engine::FileStats;

use crate::services::error_chain;

/// PutMetricData takes at most 1000 metrics per call.
const MAX_DATUMS: usize = 1000;

/// Error codes reported as themselves; anything else is `Other`.
const KNOWN_ERROR_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "InvalidIdentityToken",
    "ExpiredTokenException",
    "IDPCommunicationError",
    "IDPRejectedClaim",
    "InvalidTokenException",
    "ResourceNotFoundException",
    "RegionDisabledException",
    "ThrottlingException",
];

/// Metric names (API: alarms and the dashboard use them).
pub mod names {
    /// Findings before the alert policy, by `Detection`.
    pub const FINDINGS: &str = "Findings";
    /// Alerts sent, by `Severity`.
    pub const ALERTS: &str = "Alerts";
    /// Failed IRSA exchanges; also by `Cluster` and `ErrorCode`.
    pub const IRSA_FAILURES: &str = "IrsaAssumeFailures";
    /// Failed Pod Identity exchanges; also by `Cluster`.
    pub const POD_IDENTITY_FAILURES: &str = "PodIdentityFailures";
    /// CloudTrail records examined.
    pub const RECORDS: &str = "Records";
    /// Decompressed bytes read.
    pub const BYTES: &str = "Bytes";
    /// Records skipped as unusable.
    pub const BAD_RECORDS: &str = "BadRecords";
    /// Digest/Insights objects skipped.
    pub const SKIPPED_FILES: &str = "SkippedFiles";
    /// Objects that could not be read.
    pub const FAILED_OBJECTS: &str = "FailedObjects";
    /// Seconds from eventTime to processing.
    pub const LAG: &str = "LagSeconds";
    /// Alerts published to SNS.
    pub const ALERTS_PUBLISHED: &str = "AlertsPublished";
    /// Alerts that could not be published.
    pub const PUBLISH_FAILURES: &str = "PublishFailures";
}

type Key = (&'static str, Vec<(&'static str, String)>);

/// Values of one metric: a statistic set.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stats {
    count: f64,
    sum: f64,
    min: f64,
    max: f64,
    unit: Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Count,
    Bytes,
    Seconds,
}

/// Metrics of one invocation, not yet sent.
#[derive(Debug, Default)]
pub struct Metrics {
    values: BTreeMap<Key, Stats>,
}

impl Metrics {
    fn add(&mut self, name: &'static str, dims: Vec<(&'static str, String)>, value: f64, unit: Unit) {
        self.add_set(
            name,
            dims,
            Stats {
                count: 1.0,
                sum: value,
                min: value,
                max: value,
                unit,
            },
        );
    }

    /// `n` values of 1: as many findings.
    fn add_ones(&mut self, name: &'static str, dims: Vec<(&'static str, String)>, n: f64) {
        let ones = Stats {
            count: n,
            sum: n,
            min: 1.0,
            max: 1.0,
            unit: Unit::Count,
        };
        self.add_set(name, dims, ones);
    }

    fn add_set(&mut self, name: &'static str, dims: Vec<(&'static str, String)>, s: Stats) {
        self.values
            .entry((name, dims))
            .and_modify(|v| {
                v.count += s.count;
                v.sum += s.sum;
                v.min = v.min.min(s.min);
                v.max = v.max.max(s.max);
            })
            .or_insert(s);
    }

    /// The value sum of a metric (tests and logs).
    pub fn sum(&self, name: &str, dims: &[(&str, &str)]) -> f64 {
        self.values
            .iter()
            .filter(|((n, d), _)| {
                *n == name
                    && d.len() == dims.len()
                    && d.iter().zip(dims).all(|(a, b)| a.0 == b.0 && a.1 == b.1)
            })
            .map(|(_, s)| s.sum)
            .sum()
    }

    /// Pipeline counters of one object.
    pub fn file(&mut self, stats: &FileStats, now: i64) {
        use names::*;
        self.add(RECORDS, vec![], stats.records as f64, Unit::Count);
        self.add(BYTES, vec![], stats.bytes as f64, Unit::Bytes);
        self.add(BAD_RECORDS, vec![], stats.bad_records as f64, Unit::Count);
        self.add(
            SKIPPED_FILES,
            vec![],
            f64::from(u8::from(stats.skipped_file)),
            Unit::Count,
        );
        let t = &stats.times;
        if t.count > 0 {
            let count = t.count as f64;
            self.add_set(
                LAG,
                vec![],
                Stats {
                    count,
                    sum: count * now as f64 - t.sum as f64,
                    min: (now - t.max) as f64,
                    max: (now - t.min) as f64,
                    unit: Unit::Seconds,
                },
            );
        }
    }

    /// Objects skipped by key or that failed.
    pub fn objects(&mut self, skipped: u64, failed: u64) {
        self.add(names::SKIPPED_FILES, vec![], skipped as f64, Unit::Count);
        self.add(names::FAILED_OBJECTS, vec![], failed as f64, Unit::Count);
    }

    /// Findings the alert policy counted as new ([`AlertBatch::fresh`]): a redelivered or
    /// re-processed input does not count the same failures again.
    ///
    /// [`AlertBatch::fresh`]: trailwatch::alert::AlertBatch::fresh
    pub fn findings(&mut self, findings: &[(Fresh, u64)], inventory: &Inventory) {
        for (f, n) in findings {
            let n = *n as f64;
            self.add_ones(names::FINDINGS, vec![("Detection", f.detection.to_string())], n);
            let cluster = cluster_dimension(f.cluster.as_deref(), inventory);
            match f.detection {
                detect::IRSA_ASSUME_FAILURE => {
                    self.add_ones(names::IRSA_FAILURES, vec![], n);
                    let code = error_code_dimension(f.error_code.as_deref());
                    self.add_ones(
                        names::IRSA_FAILURES,
                        vec![("Cluster", cluster), ("ErrorCode", code)],
                        n,
                    );
                }
                detect::POD_IDENTITY_FAILURE => {
                    self.add_ones(names::POD_IDENTITY_FAILURES, vec![], n);
                    self.add_ones(names::POD_IDENTITY_FAILURES, vec![("Cluster", cluster)], n);
                }
                _ => {}
            }
        }
    }

    /// Alerts sent and not sent.
    pub fn alerts(&mut self, sent: &[Severity], failed: usize) {
        for severity in Severity::ALL {
            let n = sent.iter().filter(|s| **s == severity).count();
            if n > 0 {
                self.add(
                    names::ALERTS,
                    vec![("Severity", severity.as_str().to_string())],
                    n as f64,
                    Unit::Count,
                );
            }
        }
        self.add(names::ALERTS_PUBLISHED, vec![], sent.len() as f64, Unit::Count);
        self.add(names::PUBLISH_FAILURES, vec![], failed as f64, Unit::Count);
    }
}

fn cluster_dimension(cluster: Option<&str>, inventory: &Inventory) -> String {
    match cluster.and_then(|c| inventory.cluster_by_name(c)) {
        Some(i) => inventory.clusters[i].name.clone(),
        None => "unconfigured".into(),
    }
}

fn error_code_dimension(code: Option<&str>) -> String {
    match code {
        Some(c) if KNOWN_ERROR_CODES.contains(&c) => c.to_string(),
        _ => "Other".into(),
    }
}

/// Where metrics go at the end of an invocation.
#[derive(Debug, Clone)]
pub struct MetricsSink {
    client: Client,
    namespace: String,
    mode: MetricsMode,
}

impl MetricsSink {
    /// A sink for the namespace and mode in `inventory`'s `[metrics]`.
    pub fn new(client: Client, inventory: &Inventory) -> Self {
        Self {
            client,
            namespace: inventory.metrics.namespace.clone(),
            mode: inventory.metrics.mode,
        }
    }

    /// Sends `metrics`; returns how many PutMetricData calls failed (logged, never
    /// raised: metrics are best effort, alerts are not).
    pub async fn flush(&self, metrics: Metrics) -> usize {
        let now = SystemTime::now();
        match self.mode {
            MetricsMode::Emf => {
                for line in emf_lines(&self.namespace, &metrics, now) {
                    println!("{line}");
                }
                0
            }
            MetricsMode::Api => {
                let datums: Vec<MetricDatum> = metrics.values.iter().map(|(k, v)| datum(k, v, now)).collect();
                let mut failures = 0;
                for chunk in datums.chunks(MAX_DATUMS) {
                    let sent = self
                        .client
                        .put_metric_data()
                        .namespace(&self.namespace)
                        .set_metric_data(Some(chunk.to_vec()))
                        .send()
                        .await;
                    if let Err(e) = sent {
                        failures += 1;
                        tracing::warn!(error = %error_chain(&e), metrics = chunk.len(), "PutMetricData failed");
                    }
                }
                failures
            }
        }
    }
}

fn unit(u: Unit) -> StandardUnit {
    match u {
        Unit::Count => StandardUnit::Count,
        Unit::Bytes => StandardUnit::Bytes,
        Unit::Seconds => StandardUnit::Seconds,
    }
}

fn datum((name, dims): &Key, s: &Stats, now: SystemTime) -> MetricDatum {
    let dims = dims
        .iter()
        .map(|(n, v)| Dimension::builder().name(*n).value(v).build())
        .collect();
    MetricDatum::builder()
        .metric_name(*name)
        .set_dimensions(Some(dims))
        .timestamp(now.into())
        .statistic_values(
            StatisticSet::builder()
                .sample_count(s.count)
                .sum(s.sum)
                .minimum(s.min)
                .maximum(s.max)
                .build(),
        )
        .unit(unit(s.unit))
        .build()
}

/// One EMF line per metric: CloudWatch Logs turns them into metrics.
fn emf_lines(namespace: &str, metrics: &Metrics, now: SystemTime) -> Vec<String> {
    let millis = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    metrics
        .values
        .iter()
        .map(|((name, dims), s)| {
            let unit = match s.unit {
                Unit::Count => "Count",
                Unit::Bytes => "Bytes",
                Unit::Seconds => "Seconds",
            };
            // Counts are sums; lag is reported as its worst value.
            let value = if s.unit == Unit::Seconds { s.max } else { s.sum };
            let mut line = serde_json::json!({
                "_aws": {"Timestamp": millis, "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [dims.iter().map(|(n, _)| *n).collect::<Vec<_>>()],
                    "Metrics": [{"Name": name, "Unit": unit}],
                }]},
            });
            line[*name] = serde_json::json!(value);
            for (n, v) in dims {
                line[*n] = serde_json::json!(v);
            }
            line.to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailwatch::record::RecordView;
    use trailwatch::{Config, Finding};

    fn inventory() -> Inventory {
        Inventory::new(Config::from_toml("[[clusters]]\nname = \"prod\"").unwrap()).unwrap()
    }

    #[test]
    fn dimensions_are_bounded() {
        let inv = inventory();
        let mut m = Metrics::default();
        let mut findings = Vec::new();
        for i in 0..500 {
            let mut f = Finding::new(
                detect::IRSA_ASSUME_FAILURE,
                Severity::Medium,
                &RecordView::default(),
            );
            f.cluster = Some(if i % 2 == 0 {
                "prod".into()
            } else {
                format!("attacker-{i}")
            });
            f.error_code = Some(if i % 3 == 0 {
                "AccessDenied".into()
            } else {
                format!("Made-Up-{i}")
            });
            findings.push(f);
        }
        let fresh: Vec<(Fresh, u64)> = findings.iter().map(|f| (Fresh::from(f), 1)).collect();
        m.findings(&fresh, &inv);
        let distinct: Vec<_> = m
            .values
            .keys()
            .filter(|(n, d)| *n == names::IRSA_FAILURES && !d.is_empty())
            .collect();
        assert_eq!(distinct.len(), 4, "{distinct:?}"); // {prod, unconfigured} × {AccessDenied, Other}
        assert_eq!(m.sum(names::IRSA_FAILURES, &[]), 500.0);
        // Three findings alike count as three ones, as three findings apart would.
        m.findings(&[(fresh[0].0.clone(), 3)], &inv);
        let total = m.values.get(&(names::IRSA_FAILURES, vec![])).copied().unwrap();
        assert_eq!(
            (total.count, total.sum, total.min, total.max),
            (503.0, 503.0, 1.0, 1.0)
        );
    }

    #[test]
    fn lag_is_a_statistic_set() {
        let mut stats = FileStats::default();
        for t in [100, 150, 190] {
            stats.times.add(t);
        }
        let mut m = Metrics::default();
        m.file(&stats, 200);
        let lag = m.values.get(&(names::LAG, vec![])).copied().unwrap();
        assert_eq!((lag.count, lag.sum, lag.min, lag.max), (3.0, 160.0, 10.0, 100.0));
    }

    #[test]
    fn emf_lines_name_their_metric() {
        let mut m = Metrics::default();
        m.add(
            names::ALERTS,
            vec![("Severity", "critical".into())],
            2.0,
            Unit::Count,
        );
        let lines = emf_lines("TrailWatch", &m, SystemTime::UNIX_EPOCH);
        let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(v["Alerts"], 2.0);
        assert_eq!(v["Severity"], "critical");
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "TrailWatch");
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0], "Severity");
    }
}
