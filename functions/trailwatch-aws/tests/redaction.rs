//! Secrets and hostile strings through the Lambda path, against moto: credential material
//! in records never reaches a log line, a metric or an alert; caller-chosen strings cannot
//! break a log line, the alert JSON, the SNS subject or the alert's Markdown.
//!
//! The log lines are the handler's own, captured with the subscriber Lambda's runtime
//! sets up (`tracing-subscriber` fmt, text and JSON), for every thread of the process: the
//! engine runs on blocking threads.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde_json::Value;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use trailwatch::finding::{MAX_ARN_CHARS, MAX_FIELD_CHARS, clean, is_invisible};
use trailwatch::record::RecordView;
use trailwatch::{Finding, Severity};

use trailwatch_aws_test_support::unique_name;

use common::{Env, env, failures, put, repo, sqs_event};

/// Must match `SECRET_CANARY` in samples/adversarial/make_adversarial.py.
const SECRET_CANARY: &str = "TWCANARY-5e1f0c9a-credential-material";
/// The key id STS hands out in credential-canary.jsonl.
const ISSUED_KEY: &str = "ASIAQQQQQQQQQQQQQQQQ";

// ------------------------------------------------------------------ captured logs

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

/// Everything logged in this process so far, as Lambda's runtime would write it: its
/// text format and its JSON format (`AWS_LAMBDA_LOG_FORMAT=JSON`). trailwatch's own
/// crates at every level (a debug line must not leak either), the rest at Lambda's
/// default, INFO.
fn logs() -> &'static (Buffer, Buffer) {
    static LOGS: OnceLock<(Buffer, Buffer)> = OnceLock::new();
    LOGS.get_or_init(|| {
        let (text, json) = (Buffer::default(), Buffer::default());
        let (t, j) = (text.clone(), json.clone());
        let filter = Targets::new()
            .with_default(LevelFilter::INFO)
            .with_target("trailwatch", LevelFilter::TRACE)
            .with_target("trailwatch_aws", LevelFilter::TRACE);
        tracing_subscriber::registry()
            .with(filter)
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .without_time()
                    .with_ansi(false)
                    .with_writer(move || t.clone()),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_target(false)
                    .without_time()
                    .with_writer(move || j.clone()),
            )
            .init();
        (text, json)
    })
}

// ------------------------------------------------------------------ Markdown

/// The plain text of each block of `markdown` if it has exactly the structure
/// [`Finding::markdown`] makes (a paragraph that is all bold, an optional plain
/// paragraph, one bullet list of plain items) and nothing else: no link, image, HTML,
/// code, heading, table, quote, footnote or emphasis from the values.
fn markdown_blocks(markdown: &str) -> Result<Vec<String>, String> {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_GFM
        | Options::ENABLE_MATH
        | Options::ENABLE_DEFINITION_LIST
        | Options::ENABLE_SUPERSCRIPT
        | Options::ENABLE_SUBSCRIPT
        | Options::ENABLE_WIKILINKS;
    let mut blocks: Vec<String> = Vec::new();
    let mut path: Vec<&'static str> = Vec::new();
    let mut strong = 0;
    for event in Parser::new_ext(markdown, options) {
        match &event {
            Event::Start(Tag::Paragraph) if path.is_empty() && blocks.len() < 2 => {
                path.push("p");
                blocks.push(String::new());
            }
            Event::Start(Tag::Strong) if path == ["p"] && blocks.len() == 1 && strong == 0 => {
                path.push("strong");
                strong += 1;
            }
            Event::Start(Tag::List(None)) if path.is_empty() && !blocks.is_empty() => path.push("list"),
            Event::Start(Tag::Item) if path == ["list"] => {
                path.push("item");
                blocks.push(String::new());
            }
            Event::End(TagEnd::Paragraph | TagEnd::Strong | TagEnd::List(false) | TagEnd::Item) => {
                path.pop();
            }
            Event::Text(text) if path.ends_with(&["strong"]) || path == ["p"] && blocks.len() == 2 => {
                blocks.last_mut().unwrap().push_str(text);
            }
            Event::Text(text) if path == ["list", "item"] => blocks.last_mut().unwrap().push_str(text),
            other => return Err(format!("unexpected {other:?} in {markdown}")),
        }
    }
    if strong != 1 {
        return Err(format!("no bold title: {markdown}"));
    }
    Ok(blocks)
}

/// Strings as a caller can set them, for every trick a Markdown renderer knows.
const HOSTILE: &[&str] = &[
    "[click](http://evil)",
    "![pixel](http://evil/track.png)",
    "<img src=x onerror=alert(1)>",
    "<http://evil>",
    "```\nfenced\n```",
    "`code` and `` double ``",
    "*bold* _it_ **b** __u__ ~~s~~ ^sup^ ~sub~",
    "| a | b |\n|---|---|\n| c | d |",
    "# heading\n## two",
    "> quote",
    "- item\n* star\n+ plus\n1. one",
    "[ref]: http://evil\n[x][ref]",
    "[^1]\n\n[^1]: footnote",
    "- [ ] task",
    "$x^2$ and $$math$$",
    "[[wiki]]",
    "&lt;script&gt; &amp; &#x3c;",
    "    four spaces, then code?",
    "trailing backslash \\",
    "trailing star *",
    "line\u{2028}separator\u{202e}override\u{200b}zero",
    "Term\n: definition",
    "<!-- comment -->",
    "\\[escaped\\]",
];

fn hostile_finding(h: &str) -> Finding {
    let field = |s: &str| Some(clean(s, MAX_FIELD_CHARS));
    let mut f = Finding::new("irsa-assume-failure", Severity::High, &RecordView::default());
    // Cleaned, as detectors take them from records; the sentence around them is static.
    f.title = format!("Failed exchange for {}", clean(h, MAX_FIELD_CHARS));
    f.summary = format!(
        "{} said: {}",
        clean(h, MAX_FIELD_CHARS),
        clean(h, MAX_FIELD_CHARS)
    );
    f.cluster = field(h);
    f.namespace = field(h);
    f.service_account = field(h);
    f.role_arn = Some(clean(
        &format!("arn:aws:iam::111122223333:role/{h}"),
        MAX_ARN_CHARS,
    ));
    f.source_ip = field(h);
    f.error_code = field(h);
    f.user_agent = field(h);
    f.event_ids = vec![clean(h, MAX_FIELD_CHARS)];
    f.diagnosis = Some(format!("Because {}", clean(h, MAX_FIELD_CHARS)));
    f.remediation = Some(format!(
        "Run `aws sts get-caller-identity` as {}.",
        clean(h, MAX_FIELD_CHARS)
    ));
    f
}

/// Every hostile string, in every field, renders as the text it is and nothing else.
#[test]
fn alert_markdown_shows_hostile_strings_as_text() {
    for h in HOSTILE {
        let f = hostile_finding(h);
        let body: Value = serde_json::from_str(&trailwatch_aws::sns::message(&f).unwrap()).unwrap();
        let markdown = body["markdown"].as_str().unwrap();
        let blocks = markdown_blocks(markdown).unwrap_or_else(|e| panic!("{h:?}: {e}"));
        // What renders is exactly the value: no character eaten by the parser, none added.
        let shown = |s: &str| s.trim().replace(['\n', '\r'], " ");
        assert_eq!(blocks[0], shown(&format!("[HIGH] {}", f.title)), "{h:?}");
        assert_eq!(blocks[1], shown(&f.summary), "{h:?}");
        let items = &blocks[2..];
        for (label, value) in [
            ("Cluster", &f.cluster),
            ("Role", &f.role_arn),
            ("User agent", &f.user_agent),
            ("Remediation", &f.remediation),
        ] {
            let want = format!("{label}: {}", shown(value.as_deref().unwrap()));
            assert!(items.contains(&want), "{h:?}: {want:?} not in {items:#?}");
        }
        // The JSON fields keep the values themselves, unescaped for Markdown.
        assert_eq!(body["user_agent"].as_str(), f.user_agent.as_deref());
    }
}

/// The checker above is not blind: the same strings unescaped do make structure.
#[test]
fn unescaped_hostile_strings_would_inject() {
    for h in [
        "[click](http://evil)",
        "<img src=x>",
        "`code`",
        "*bold*",
        "- item",
    ] {
        let markdown = format!("**[HIGH] title**\n\n{h}\n\n- Detection: x\n");
        assert!(markdown_blocks(&markdown).is_err(), "{h:?} went unnoticed");
    }
}

// ------------------------------------------------------------------ through moto

/// The credential canaries of samples/adversarial as one CloudTrail file, plus a record
/// that does not parse with the canary in it (its error must not quote it either).
fn canary_file() -> Vec<u8> {
    let text = std::fs::read_to_string(repo().join("samples/adversarial/credential-canary.jsonl")).unwrap();
    let records: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(records.iter().all(|r| r.contains(SECRET_CANARY)));
    format!(
        r#"{{"Records":[{},{{"eventID":"broken","sessionToken":"{SECRET_CANARY}",}}]}}"#,
        records.join(",")
    )
    .into_bytes()
}

/// A configuration under which every canary record fires: the cluster of their OIDC
/// provider, an egress range that the canaries' source IP is outside of.
async fn canary_config(env: &Env) {
    let config = format!(
        r#"
[[clusters]]
name = "prod"
account = "111122223333"
region = "ap-southeast-1"
oidc_provider = "oidc.eks.ap-southeast-1.amazonaws.com/id/EXAMPLE"
node_roles = ["arn:aws:iam::111122223333:role/prod-node-role"]
egress_cidrs = ["52.1.2.3/32"]

[metrics]
namespace = "{}"
"#,
        env.namespace
    );
    put(
        &env.clients,
        &env.bucket,
        "config/trailwatch.toml",
        config.into_bytes(),
    )
    .await;
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [SECRET_CANARY, ISSUED_KEY, "TWCANARY"] {
        assert!(!text.contains(secret), "{secret} in {what}: {text}");
    }
}

/// `sessionToken`, `secretAccessKey`, `token`, everything under
/// `responseElements.credentials`: a canary value in each, through S3, the ingest
/// handler, SNS → SQS, CloudWatch and the logs. None of it comes out anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_reach_logs_metrics_or_alerts() {
    let (text_logs, json_logs) = logs();
    let env = env().await;
    canary_config(&env).await;
    let key = "AWSLogs/111122223333/CloudTrail/ap-southeast-1/2026/11/30/canary.json";
    put(&env.clients, &env.bucket, key, canary_file()).await;
    let id = unique_name("canary-message");
    let svc = env.services(&env.topic_arn).await;
    let response = trailwatch_aws::ingest::handle(svc, sqs_event(&[(&id, env.s3_event(key))]))
        .await
        .unwrap();
    assert!(failures(&response).is_empty(), "{response}");

    // Alerts: they did go out, the workload named, and hold no credential material.
    let (lines, envelopes) = env.delivered().await;
    for want in [
        "long-term-access-key canary-secrets",
        "irsa-assume-failure canary-irsa-failed",
        "workload-credential-exfiltration canary-stitched",
    ] {
        assert!(lines.contains(want), "{want} not alerted: {lines:?}");
    }
    for envelope in &envelopes {
        assert_no_secret("an SNS message", &envelope.to_string());
    }

    // Metrics: every series, name and dimension, as CloudWatch lists them.
    let listed = env
        .clients
        .cloudwatch
        .list_metrics()
        .namespace(&env.namespace)
        .send()
        .await
        .unwrap();
    let series: Vec<String> = listed
        .metrics()
        .iter()
        .map(|m| {
            let dims: Vec<String> = m
                .dimensions()
                .iter()
                .map(|d| format!("{}={}", d.name().unwrap_or(""), d.value().unwrap_or("")))
                .collect();
            format!("{} {}", m.metric_name().unwrap_or(""), dims.join(","))
        })
        .collect();
    assert!(
        series.iter().any(|s| s.starts_with("Findings Detection=")),
        "{series:?}"
    );
    assert_no_secret("a metric", &series.join("\n"));
    assert_eq!(env.metric_sum("BadRecords").await, 1.0, "the broken record");

    // Logs, text and JSON: the handler's lines are there, from the message's span and
    // from the engine's blocking thread, and hold nothing secret.
    for (format, logs) in [("text", text_logs.text()), ("json", json_logs.text())] {
        assert!(
            logs.lines()
                .any(|l| l.contains(&id) && l.contains("Alerts published")),
            "{format}: no line of this invocation:\n{logs}"
        );
        assert!(logs.contains("Skipped unusable records"), "{format}:\n{logs}");
        assert_no_secret(&format!("the {format} logs"), &logs);
    }
}

/// Hostile strings in records and in a key name, through the handler: every alert parses,
/// its subject is one short ASCII line, its fields are capped and hold no control or
/// invisible character, its Markdown has our structure only; the log lines stay lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_strings_cannot_break_logs_subjects_json_or_markdown() {
    let (text_logs, json_logs) = logs();
    let env = env().await;
    let path = repo().join("samples/adversarial/hostile-strings.jsonl.gz");
    let key = "AWSLogs/111122223333/CloudTrail/ap-southeast-1/2026/11/30/hostile.json.gz";
    put(&env.clients, &env.bucket, key, std::fs::read(path).unwrap()).await;
    let marker = unique_name("evil");
    let evil_key = format!(
        "AWSLogs/111122223333/CloudTrail/ap-southeast-1/{marker}\nFAKE LINE \u{1b}[31m\u{202e}[x](http://evil).json.gz"
    );
    let svc = env.services(&env.topic_arn).await;
    let event = sqs_event(&[
        ("hostile", env.s3_event(key)),
        ("evil-key", env.s3_event(&evil_key)),
    ]);
    let response = trailwatch_aws::ingest::handle(svc, event).await.unwrap();
    assert_eq!(
        failures(&response),
        BTreeSet::from(["evil-key".to_string()]),
        "{response}: {}",
        text_logs.text()
    );

    let (lines, envelopes) = env.delivered().await;
    let detections: BTreeSet<&str> = lines.iter().filter_map(|l| l.split(' ').next()).collect();
    for want in [
        "long-term-access-key",
        "irsa-assume-failure",
        "pod-identity-failure",
        "imdsv1-credential-use",
        "identity-config-change",
    ] {
        assert!(detections.contains(want), "{want} did not alert: {detections:?}");
    }
    for envelope in &envelopes {
        let subject = envelope["Subject"].as_str().unwrap();
        assert!(
            subject.len() < 100 && subject.chars().all(|c| c.is_ascii_graphic() || c == ' '),
            "{subject:?}"
        );
        let alert: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
        for (field, value) in alert.as_object().unwrap() {
            let strings: Vec<&str> = match value {
                Value::String(s) => vec![s],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            let max = match field.as_str() {
                "markdown" => 64 * MAX_ARN_CHARS,
                "title" | "summary" | "diagnosis" | "remediation" => 8 * MAX_ARN_CHARS,
                "role_arn" | "principal_arn" => MAX_ARN_CHARS,
                _ => MAX_FIELD_CHARS,
            };
            for s in strings {
                assert!(
                    s.chars().count() <= max,
                    "{field}: {} characters",
                    s.chars().count()
                );
                let raw =
                    |c: char| (c.is_control() && !(field == "markdown" && c == '\n')) || is_invisible(c);
                assert!(!s.chars().any(raw), "{field}: {s:?}");
            }
        }
        let markdown = alert["markdown"].as_str().unwrap();
        let blocks = markdown_blocks(markdown).unwrap_or_else(|e| panic!("{}: {e}", alert["detection"]));
        let title = alert["title"].as_str().unwrap();
        let severity = alert["severity"].as_str().unwrap().to_uppercase();
        assert_eq!(blocks[0], format!("[{severity}] {}", title.trim()));
    }
    // The hostile user agent reached an alert and rendered as the text it is.
    let rendered: Vec<String> = envelopes
        .iter()
        .map(|e| serde_json::from_str::<Value>(e["Message"].as_str().unwrap()).unwrap())
        .flat_map(|a| markdown_blocks(a["markdown"].as_str().unwrap()).unwrap())
        .collect();
    assert!(
        rendered
            .iter()
            .any(|b| b.starts_with("User agent: ") && b.contains("[click](http://evil) `rm -rf /` <script>")),
        "{rendered:#?}"
    );

    // The key name is in the logs, escaped: the fake line did not become a line.
    let escaped = format!("{marker}\\nFAKE LINE \\u{{1b}}[31m\\u{{202e}}[x](http://evil)");
    let text = text_logs.text();
    assert!(
        text.lines().any(|l| l.contains(&escaped)),
        "no escaped key in\n{text}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("FAKE LINE")),
        "a key name started a log line"
    );
    let raw = text
        .chars()
        .find(|&c| (c.is_control() && c != '\n') || is_invisible(c));
    assert_eq!(raw, None, "text logs");
    // JSON lines are JSON objects, and what they say holds nothing raw either.
    let mut found = false;
    for line in json_logs.text().lines() {
        let parsed: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(parsed.is_object(), "{line}");
        let said = strings(&parsed);
        found |= said.contains(&escaped);
        let raw = said.chars().find(|&c| c.is_control() || is_invisible(c));
        assert_eq!(raw, None, "{line}");
    }
    assert!(found, "no escaped key in the JSON logs");
}

/// Every string in a JSON value, one after the other.
fn strings(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(strings).collect(),
        Value::Object(o) => o.values().map(strings).collect(),
        _ => String::new(),
    }
}
