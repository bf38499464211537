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

/// What [`clean`] puts where it cut a string.
pub const ELLIPSIS: char = '…';

/// Characters that are invisible but change how the text around them is shown or
/// matched: bidirectional embeddings, overrides, isolates and marks ("Trojan Source"),
/// zero-width spaces and joiners, line and paragraph separators, the byte-order mark,
/// the soft hyphen and other format characters.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// Makes a string chosen by a caller safe to show: control characters and
/// [invisible](is_invisible) ones escaped as Rust does (`\n`, `\u{1b}`, `\u{202e}`), and
/// the result at most `max` characters long, escapes included. A string that does not
/// fit is cut at a character or escape boundary and ends in [`ELLIPSIS`]. It cannot break
/// a log line, an SNS subject or a terminal; JSON and Markdown have their own escaping
/// (serde, [`escape_markdown`]).
///
/// Reads at most `max + 1` characters of `s`, however long `s` is.
pub fn clean(s: &str, max: usize) -> String {
    // Nearly every field is printable ASCII that fits: nothing to escape or cut.
    if s.len() <= max && s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len().min(max.saturating_mul(4)));
    if max == 0 {
        return out;
    }
    // Characters in `out`, and the length of `out` at the last boundary that leaves
    // room for the ellipsis.
    let (mut len, mut cut) = (0, 0);
    for c in s.chars() {
        if len < max {
            cut = out.len();
        }
        if c.is_control() || is_invisible(c) {
            let escape = c.escape_default();
            len += escape.len();
            out.extend(escape);
        } else {
            len += 1;
            out.push(c);
        }
        if len > max {
            out.truncate(cut);
            out.push(ELLIPSIS);
            return out;
        }
    }
    out
}

/// Escapes `s` for CommonMark and GitHub-flavoured Markdown: a backslash before every
/// ASCII punctuation character (CommonMark: any escaped ASCII punctuation stands for
/// itself), so no emphasis, code span, link, image, HTML, entity, table cell or heading
/// can start or end inside it; line breaks, control and invisible characters become
/// spaces, so it stays on its line.
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 4);
    for c in s.chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
            out.push(c);
        } else if c.is_control() || is_invisible(c) {
            out.push(' ');
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
            event_ids: vec![clean(&record.event_key(), MAX_FIELD_CHARS)],
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

    /// The finding as Markdown, for chat integrations that render it: a bold
    /// `[SEVERITY] title` line, the summary, then one list item per field that is set.
    /// Every value is [escaped](escape_markdown) and trimmed (leading spaces could make
    /// code blocks), so what a record says shows as text and never as a link, an image,
    /// HTML or formatting: the structure is ours alone.
    pub fn markdown(&self) -> String {
        let title = format!(
            "[{}] {}",
            self.severity.as_str().to_uppercase(),
            self.title.trim()
        );
        let mut out = format!("**{}**\n\n", escape_markdown(&title));
        let summary = self.summary.trim();
        if !summary.is_empty() {
            out.push_str(&escape_markdown(summary));
            out.push_str("\n\n");
        }
        let events = match (&self.first_seen, &self.last_seen) {
            (Some(first), Some(last)) if first != last => format!("{}, {first} to {last}", self.count),
            (Some(at), _) | (None, Some(at)) => format!("{}, {at}", self.count),
            (None, None) => self.count.to_string(),
        };
        let ids = (!self.event_ids.is_empty()).then(|| self.event_ids.join(", "));
        let items = [
            ("Detection", Some(self.detection)),
            ("Cluster", self.cluster.as_deref()),
            ("Namespace", self.namespace.as_deref()),
            ("Service account", self.service_account.as_deref()),
            ("Role", self.role_arn.as_deref()),
            ("Principal", self.principal_arn.as_deref()),
            ("Source IP", self.source_ip.as_deref()),
            ("Error code", self.error_code.as_deref()),
            ("Action", self.action.as_deref()),
            ("User agent", self.user_agent.as_deref()),
            ("Account", self.account.as_deref()),
            ("Region", self.region.as_deref()),
            ("Events", Some(events.as_str())),
            ("Event ids", ids.as_deref()),
            ("Diagnosis", self.diagnosis.as_deref()),
            ("Remediation", self.remediation.as_deref()),
        ];
        for (label, value) in items {
            if let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) {
                out.push_str(&format!("- {label}: {}\n", escape_markdown(value)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_caps_and_escapes() {
        let cases = [
            ("plain", 10, "plain"),
            ("", 3, ""),
            ("abc", 3, "abc"),
            ("abcd", 0, ""),
            ("abcd", 1, "…"),
            ("line\nbreak", 20, "line\\nbreak"),
            ("tab\there", 20, "tab\\there"),
            ("abcdef", 3, "ab…"),
            ("日本語テキスト", 3, "日本…"),
            ("\u{1b}[31mred", 20, "\\u{1b}[31mred"),
            // The cap counts escapes, which are never cut in half.
            ("\n\n\n", 5, "\\n\\n…"),
            ("\n\n", 4, "\\n\\n"),
            ("a\u{1b}", 6, "a…"),
            ("\u{0}\u{0}\u{0}", 12, "\\u{0}\\u{0}…"),
            // Bidi overrides and isolates, zero-width and separator characters.
            ("user\u{202e}fdp.exe", 40, "user\\u{202e}fdp.exe"),
            ("a\u{2066}b\u{2069}c", 40, "a\\u{2066}b\\u{2069}c"),
            ("zero\u{200b}width\u{200d}", 40, "zero\\u{200b}width\\u{200d}"),
            ("line\u{2028}para\u{2029}", 40, "line\\u{2028}para\\u{2029}"),
            ("\u{feff}bom", 40, "\\u{feff}bom"),
            ("\u{61c}\u{200e}\u{200f}", 40, "\\u{61c}\\u{200e}\\u{200f}"),
            ("emoji 👩‍🚀 stays", 40, "emoji 👩\\u{200d}🚀 stays"),
        ];
        for (input, max, want) in cases {
            assert_eq!(clean(input, max), want, "clean({input:?}, {max})");
        }
    }

    proptest::proptest! {
        #[test]
        fn clean_output_fits_and_shows_nothing_raw(s in "\\PC*|[\\x00-\\x1f\\u{2028}-\\u{202e}\\u{2066}-\\u{2069}a]*", max in 0usize..80) {
            let out = clean(&s, max);
            proptest::prop_assert!(out.chars().count() <= max, "{:?} -> {:?}", s, out);
            proptest::prop_assert!(!out.chars().any(|c| c.is_control() || is_invisible(c)), "{:?}", out);
            // Nothing is cut that fits.
            if s.chars().all(|c| !c.is_control() && !is_invisible(c)) && s.chars().count() <= max {
                proptest::prop_assert_eq!(&out, &s);
            }
        }
    }

    #[test]
    fn markdown_escapes_every_ascii_punctuation() {
        let cases = [
            ("plain text", "plain text"),
            ("[click](http://evil)", "\\[click\\]\\(http\\:\\/\\/evil\\)"),
            ("`x`", "\\`x\\`"),
            ("<img src=x>", "\\<img src\\=x\\>"),
            ("a\nb\r\u{2028}c", "a b  c"),
            ("a\\", "a\\\\"),
            ("ロール_1", "ロール\\_1"),
        ];
        for (input, want) in cases {
            assert_eq!(escape_markdown(input), want, "{input:?}");
        }
        for c in (0u8..128).map(char::from).filter(char::is_ascii_punctuation) {
            assert_eq!(escape_markdown(&c.to_string()), format!("\\{c}"));
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
