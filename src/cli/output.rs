//! Rendering findings and the replay summary, as text or JSON lines.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use trailwatch::record::RecordError;
use trailwatch::{Finding, Severity};

/// Replay totals over every input.
#[derive(Debug, Default, Serialize)]
pub struct Totals {
    pub files: u64,
    pub records: u64,
    pub bytes: u64,
    pub bad_records: u64,
    pub skipped_records: u64,
    pub skipped_files: u64,
    pub failed_files: u64,
    pub findings: u64,
    pub alerts: u64,
    pub suppressed: u64,
}

/// Where findings go while replaying.
pub struct Output {
    json: bool,
    /// Text mode groups by severity, so it holds findings until the end.
    held: Vec<Finding>,
    /// Bad records reported per input (the rest are only counted).
    reported: BTreeMap<String, u64>,
}

fn style(severity: Severity) -> Style {
    let color = match severity {
        Severity::Critical => AnsiColor::BrightRed,
        Severity::High => AnsiColor::Red,
        Severity::Medium => AnsiColor::Yellow,
        Severity::Low => AnsiColor::Cyan,
        Severity::Info => AnsiColor::White,
    };
    Style::new().fg_color(Some(color.into())).bold()
}

const DIM: Style = Style::new().dimmed();
const BOLD: Style = Style::new().bold();

impl Output {
    pub fn new(json: bool) -> Self {
        Self {
            json,
            held: Vec::new(),
            reported: BTreeMap::new(),
        }
    }

    pub fn finding(&mut self, finding: Finding) {
        if self.json {
            // Streamed: a long replay shows results as it goes.
            if let Ok(line) = serde_json::to_string(&finding) {
                let mut out = io::stdout().lock();
                let _ = writeln!(out, "{line}");
            }
        } else {
            self.held.push(finding);
        }
    }

    pub fn bad_record(&mut self, input: &str, index: u64, error: &RecordError, limit: u64) {
        let n = self.reported.entry(input.to_string()).or_default();
        *n += 1;
        if *n <= limit {
            eprintln!("trailwatch: {input}: record {index} skipped: {error}");
        } else if *n == limit + 1 {
            eprintln!("trailwatch: {input}: more records skipped (counted in the summary)");
        }
    }

    pub fn finish(&mut self, totals: &Totals, elapsed: Duration) {
        if self.json {
            #[derive(Serialize)]
            struct Summary<'a> {
                summary: &'a Totals,
            }
            if let Ok(line) = serde_json::to_string(&Summary { summary: totals }) {
                eprintln!("{line}");
            }
            return;
        }
        let mut out = anstream::stdout().lock();
        let _ = self.write_text(&mut out, totals, elapsed);
    }

    fn write_text(&mut self, out: &mut impl Write, totals: &Totals, elapsed: Duration) -> io::Result<()> {
        // Worst first; within a severity, in event order.
        self.held.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.first_seen.cmp(&b.first_seen))
        });
        let mut current = None;
        for f in &self.held {
            if current != Some(f.severity) {
                current = Some(f.severity);
                let s = style(f.severity);
                writeln!(out, "\n{s}== {} =={s:#}", f.severity.as_str().to_uppercase())?;
            }
            let s = style(f.severity);
            writeln!(
                out,
                "{s}{:<8}{s:#} {BOLD}{}{BOLD:#}  {}",
                f.severity.as_str(),
                f.detection,
                f.title
            )?;
            let mut facts = Vec::new();
            let mut fact = |label: &str, value: &Option<String>| {
                if let Some(v) = value {
                    facts.push(format!("{label} {v}"));
                }
            };
            fact("cluster", &f.cluster);
            fact("namespace", &f.namespace);
            fact("sa", &f.service_account);
            fact("role", &f.role_arn);
            fact("principal", &f.principal_arn);
            fact("from", &f.source_ip);
            fact("error", &f.error_code);
            fact("at", &f.first_seen);
            writeln!(out, "         {DIM}{}{DIM:#}", facts.join(" · "))?;
            writeln!(out, "         {}", f.summary)?;
            if let Some(d) = &f.diagnosis {
                writeln!(out, "         {BOLD}why{BOLD:#} {d}")?;
            }
            if let Some(r) = &f.remediation {
                writeln!(out, "         {BOLD}fix{BOLD:#} {r}")?;
            }
            writeln!(out, "         {DIM}event {}{DIM:#}", f.event_ids.join(", "))?;
        }

        let mut per_detection: BTreeMap<(&str, Severity), (u64, u64)> = BTreeMap::new();
        for f in &self.held {
            let entry = per_detection.entry((f.detection, f.severity)).or_default();
            entry.0 += 1;
            entry.1 += f.count;
        }
        writeln!(
            out,
            "\n{BOLD}Alerts by detection{BOLD:#}  {DIM}(alerts / events){DIM:#}"
        )?;
        if per_detection.is_empty() {
            writeln!(out, "  (none)")?;
        }
        for ((detection, severity), (alerts, events)) in &per_detection {
            let s = style(*severity);
            writeln!(
                out,
                "  {detection:<34} {s}{:<8}{s:#} {alerts:>6} / {events}",
                severity.as_str()
            )?;
        }
        let secs = elapsed.as_secs_f64().max(1e-9);
        writeln!(out, "\n{BOLD}Replay{BOLD:#}")?;
        let rows = [
            ("files", totals.files.to_string()),
            ("records", totals.records.to_string()),
            ("bad records (skipped)", totals.bad_records.to_string()),
            (
                "skipped records (insights, control)",
                totals.skipped_records.to_string(),
            ),
            (
                "skipped files (digest, insights)",
                totals.skipped_files.to_string(),
            ),
            ("unreadable files", totals.failed_files.to_string()),
            ("findings", totals.findings.to_string()),
            ("alerts (after dedup)", totals.alerts.to_string()),
            (
                "suppressed (dedup, floors, thresholds)",
                totals.suppressed.to_string(),
            ),
            ("decompressed", format!("{:.1} MB", totals.bytes as f64 / 1e6)),
            ("time", format!("{secs:.3} s")),
            (
                "throughput",
                format!(
                    "{:.0} records/s, {:.1} MB/s",
                    totals.records as f64 / secs,
                    totals.bytes as f64 / 1e6 / secs
                ),
            ),
        ];
        for (label, value) in rows {
            writeln!(out, "  {label:<36} {value}")?;
        }
        Ok(())
    }
}
