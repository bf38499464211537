//! Findings: what a detection reports, in the schema alerts and SNS messages carry.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::record::RecordView;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Context, no action.
    Info,
    /// Worth a look.
    Low,
    /// Something is broken or risky.
    Medium,
    /// Likely misuse.
    High,
    /// Credentials are probably in the wrong hands.
    Critical,
}

impl Severity {
    /// All severities, lowest first.
    pub const ALL: [Severity; 5] = [Self::Info, Self::Low, Self::Medium, Self::High, Self::Critical];

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown severity {s:?} (expected info, low, medium, high or critical)"))
    }
}

/// One finding. Strings that come from a record are cleaned ([`clean`]) and never hold
/// credential material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The detection id (stable; alarms and filters use it).
    pub detection: &'static str,
    /// Severity.
    pub severity: Severity,
    /// One line, for a subject or a list.
    pub title: String,
    /// What happened, in a sentence or two.
    pub summary: String,
    /// EKS cluster name, when known.
    pub cluster: Option<String>,
    /// Kubernetes namespace, when known.
    pub namespace: Option<String>,
    /// Kubernetes service account, when known.
    pub service_account: Option<String>,
    /// The IAM role involved.
    pub role_arn: Option<String>,
    /// Who made the call.
    pub principal_arn: Option<String>,
    /// `sourceIPAddress`.
    pub source_ip: Option<String>,
    /// `errorCode`.
    pub error_code: Option<String>,
    /// Why it likely happened.
    pub diagnosis: Option<String>,
    /// What to do.
    pub remediation: Option<String>,
    /// Account of the event.
    pub account: Option<String>,
    /// Region of the event.
    pub region: Option<String>,
    /// The action, `service:Action`.
    pub action: Option<String>,
    /// `userAgent`, capped.
    pub user_agent: Option<String>,
    /// `eventID`s behind the finding.
    pub event_ids: Vec<String>,
    /// Earliest `eventTime`.
    pub first_seen: Option<String>,
    /// Latest `eventTime`.
    pub last_seen: Option<String>,
    /// Events behind the finding.
    pub count: u64,
}

/// The longest string taken from a record into a finding, in characters.
pub const MAX_FIELD_CHARS: usize = 256;
/// ARNs can be long (paths); they get more room.
pub const MAX_ARN_CHARS: usize = 1024;

/// Caps `s` at `max` characters and escapes control characters, so that strings chosen
/// by a caller cannot break a log line, a subject or a rendering.
pub fn clean(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max + 8));
    for (n, c) in s.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn field(s: Option<&str>) -> Option<String> {
    s.map(|s| clean(s, MAX_FIELD_CHARS))
}

fn arn(s: Option<&str>) -> Option<String> {
    s.map(|s| clean(s, MAX_ARN_CHARS))
}

impl Finding {
    /// A finding for `record` with everything the record itself says filled in.
    pub fn new(detection: &'static str, severity: Severity, record: &RecordView<'_>) -> Self {
        // Web identity users have no ARN: their OIDC provider names them.
        let principal = record
            .identity
            .arn
            .or(record.identity.issuer_arn)
            .or(record.identity.identity_provider);
        let action = record
            .action()
            .map(|(service, name)| clean(&format!("{service}:{name}"), MAX_FIELD_CHARS));
        Self {
            detection,
            severity,
            title: String::new(),
            summary: String::new(),
            cluster: None,
            namespace: None,
            service_account: None,
            role_arn: None,
            principal_arn: arn(principal),
            source_ip: field(record.source_ip),
            error_code: field(record.error_code),
            diagnosis: None,
            remediation: None,
            account: field(record.account()),
            region: field(record.region),
            action,
            user_agent: field(record.user_agent),
            event_ids: record
                .event_id
                .map(|id| clean(id, MAX_FIELD_CHARS))
                .into_iter()
                .collect(),
            first_seen: field(record.event_time),
            last_seen: field(record.event_time),
            count: 1,
        }
    }

    /// Sets the cluster name.
    pub fn cluster(mut self, name: Option<&str>) -> Self {
        self.cluster = field(name);
        self
    }

    /// Sets namespace and service account.
    pub fn workload(mut self, namespace: Option<&str>, service_account: Option<&str>) -> Self {
        self.namespace = field(namespace);
        self.service_account = field(service_account);
        self
    }

    /// Sets the role.
    pub fn role(mut self, role_arn: Option<&str>) -> Self {
        self.role_arn = arn(role_arn);
        self
    }

    /// Sets title and summary.
    pub fn text(mut self, title: String, summary: String) -> Self {
        self.title = title;
        self.summary = summary;
        self
    }

    /// Sets diagnosis and remediation.
    pub fn advice(mut self, diagnosis: String, remediation: String) -> Self {
        self.diagnosis = Some(diagnosis);
        self.remediation = Some(remediation);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_caps_and_escapes() {
        let cases = [
            ("plain", 10, "plain"),
            ("line\nbreak", 20, "line\\nbreak"),
            ("tab\there", 20, "tab\\there"),
            ("abcdef", 3, "abc…"),
            ("日本語テキスト", 3, "日本語…"),
            ("\u{1b}[31mred", 20, "\\u{1b}[31mred"),
        ];
        for (input, max, want) in cases {
            assert_eq!(clean(input, max), want, "clean({input:?}, {max})");
        }
    }

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
        for sev in Severity::ALL {
            assert_eq!(sev.as_str().parse::<Severity>(), Ok(sev));
        }
        assert!("severe".parse::<Severity>().is_err());
    }
}
