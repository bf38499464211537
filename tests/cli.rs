//! The `trailwatch replay` contract: arguments, formats and exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn akia(id: &str) -> Value {
    json!({"eventVersion": "1.08", "eventTime": "2026-11-30T10:00:00Z", "eventSource": "s3.amazonaws.com",
           "eventName": "ListBuckets", "awsRegion": "ap-southeast-1", "sourceIPAddress": "198.51.100.7",
           "eventID": id, "eventType": "AwsApiCall", "recipientAccountId": "111122223333",
           "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/dev",
                            "accessKeyId": "AKIAIOSFODNN7EXAMPLE"}})
}

fn write(path: &Path, value: &Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec(value).unwrap()).unwrap();
}

fn trailwatch(args: &[&str], dir: &Path, stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn json_format_streams_findings_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("a.json"),
        &json!({"Records": [akia("1"), akia("2")]}),
    );
    let out = trailwatch(&["replay", "--format", "json", "a.json"], dir.path(), None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Two uses of one key from one address in one window: one alert of two events.
    let findings = lines(&out.stdout);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(
        (
            findings[0]["count"].as_u64(),
            findings[0]["event_ids"].as_array().map(Vec::len)
        ),
        (Some(2), Some(2))
    );
    let keys = [
        "detection",
        "severity",
        "title",
        "summary",
        "cluster",
        "namespace",
        "service_account",
        "role_arn",
        "principal_arn",
        "source_ip",
        "error_code",
        "diagnosis",
        "remediation",
        "account",
        "region",
        "event_ids",
        "first_seen",
        "last_seen",
        "count",
    ];
    for key in keys {
        assert!(findings[0].get(key).is_some(), "missing {key}: {}", findings[0]);
    }
    let summary = lines(&out.stderr).pop().unwrap();
    let s = &summary["summary"];
    assert_eq!(
        (s["files"].as_u64(), s["records"].as_u64(), s["findings"].as_u64()),
        (Some(1), Some(2), Some(2))
    );
    for key in ["bytes", "bad_records", "skipped_files"] {
        assert!(s.get(key).is_some(), "summary lacks {key}: {summary}");
    }
}

#[test]
fn exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("a.json"), &json!({"Records": [akia("1")]}));
    std::fs::write(
        dir.path().join("bad.toml"),
        "[[clusters]]\nname = \"x\"\negress_cidrs = [\"nope\"]\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("garbage.json"), "not json at all").unwrap();
    let cases: [(&[&str], i32, &str); 8] = [
        (&["replay", "a.json"], 0, ""),
        (&["replay"], 1, "PATH"),
        (&["replay", "--format", "xml", "a.json"], 1, "xml"),
        (
            &["replay", "--config", "bad.toml", "a.json"],
            1,
            "clusters[0].egress_cidrs[0]",
        ),
        (
            &["replay", "--config", "missing.toml", "a.json"],
            1,
            "missing.toml",
        ),
        (
            &["replay", "a.json", "missing.json", "garbage.json"],
            2,
            "garbage.json: not gzip and not JSON",
        ),
        (&["replay", "--fail-on", "high", "a.json"], 3, ""),
        (&["replay", "--fail-on", "critical", "a.json"], 0, ""),
    ];
    for (args, code, stderr) in cases {
        let out = trailwatch(args, dir.path(), None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(stderr), "{args:?}: stderr lacks {stderr:?}: {err}");
    }
    // The readable file beside the unreadable ones is still reported.
    let out = trailwatch(
        &["replay", "--format", "json", "missing.json", "a.json"],
        dir.path(),
        None,
    );
    assert_eq!((out.status.code(), lines(&out.stdout).len()), (Some(2), 1));
}

#[test]
fn stdin_and_directories() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("logs/AWSLogs/111122223333");
    write(
        &root.join("CloudTrail/ap-southeast-1/2026/11/30/a.json"),
        &json!({"Records": [akia("a")]}),
    );
    write(
        &root.join("CloudTrail/ap-southeast-1/2026/11/30/b.ndjson"),
        &akia("b"),
    );
    write(
        &root.join("CloudTrail-Digest/ap-southeast-1/2026/11/30/d.json"),
        &json!({"digestStartTime": "x"}),
    );
    write(
        &root.join("CloudTrail/ap-southeast-1/2026/11/30/a.json.expected"),
        &json!("not an input"),
    );
    let out = trailwatch(&["replay", "--format", "json", "logs"], dir.path(), None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = lines(&out.stdout);
    let ids: Vec<&str> = alerts
        .iter()
        .flat_map(|f| f["event_ids"].as_array().unwrap())
        .map(|id| id.as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b"], "{alerts:?}");
    let summary = lines(&out.stderr).pop().unwrap();
    assert_eq!(
        (
            summary["summary"]["files"].as_u64(),
            summary["summary"]["skipped_files"].as_u64()
        ),
        (Some(2), Some(1))
    );

    let out = trailwatch(
        &["replay", "--format", "json", "-"],
        dir.path(),
        Some(akia("s").to_string().as_bytes()),
    );
    assert_eq!(lines(&out.stdout)[0]["event_ids"][0], "s");
}

#[test]
fn config_is_found_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("a.json"), &akia("1"));
    std::fs::write(
        dir.path().join("trailwatch.toml"),
        "[detections.long-term-access-key]\nenabled = false\n",
    )
    .unwrap();
    let out = trailwatch(&["replay", "--format", "json", "a.json"], dir.path(), None);
    assert_eq!((out.status.code(), lines(&out.stdout).len()), (Some(0), 0));
}

#[test]
fn text_format_groups_and_summarises() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("a.json"), &json!({"Records": [akia("1")]}));
    let out = trailwatch(&["replay", "a.json"], dir.path(), None);
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "== HIGH ==",
        "long-term-access-key",
        "Alerts by detection",
        "records/s",
        "MB/s",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    // Not a terminal: no colour codes.
    assert!(!text.contains('\u{1b}'), "{text}");
}

#[test]
fn state_carries_between_runs_and_rerun_does_not_realert() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("trailwatch.toml"),
        "[[clusters]]\nname = \"prod\"\noidc_provider = \"oidc.eks.ap-southeast-1.amazonaws.com/id/ABC\"\n\
         egress_cidrs = [\"52.1.2.3/32\"]\n",
    )
    .unwrap();
    let subject = "system:serviceaccount:shop:orders";
    let exchange = json!({"eventVersion": "1.08", "eventTime": "2026-11-30T10:00:00Z",
        "eventSource": "sts.amazonaws.com", "eventName": "AssumeRoleWithWebIdentity", "eventID": "x",
        "sourceIPAddress": "52.1.2.3", "userIdentity": {"type": "WebIdentityUser", "userName": subject,
        "identityProvider": "arn:aws:iam::111122223333:oidc-provider/oidc.eks.ap-southeast-1.amazonaws.com/id/ABC"},
        "requestParameters": {"roleArn": "arn:aws:iam::111122223333:role/orders"},
        "responseElements": {"credentials": {"accessKeyId": "ASIASTITCH", "expiration": "Nov 30, 2026, 11:00:00 AM"}}});
    let mut used = akia("u");
    used["eventTime"] = json!("2026-11-30T10:20:00Z");
    used["userIdentity"] = json!({"type": "AssumedRole", "accessKeyId": "ASIASTITCH",
        "arn": "arn:aws:sts::111122223333:assumed-role/orders/s"});
    write(&dir.path().join("day1.json"), &json!({"Records": [exchange]}));
    write(&dir.path().join("day2.json"), &json!({"Records": [used]}));
    let replay = |file: &str, state: bool| {
        let mut args = vec!["replay", "--format", "json", file];
        if state {
            args.extend(["--state", "st"]);
        }
        let out = trailwatch(&args, dir.path(), None);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        lines(&out.stdout)
    };
    assert!(replay("day1.json", true).is_empty());
    let alerts = replay("day2.json", true);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["detection"], "workload-credential-exfiltration");
    assert_eq!(
        (
            alerts[0]["namespace"].as_str(),
            alerts[0]["service_account"].as_str()
        ),
        (Some("shop"), Some("orders"))
    );
    assert!(
        replay("day2.json", true).is_empty(),
        "re-run with the same state must not re-alert"
    );
    // Without --state the second day alone knows nothing.
    assert!(replay("day2.json", false).is_empty());
}

/// Ctrl-C in the middle of a replay: it stops reading, reports the alerts of what it read
/// (the inputs after are not read, nor counted) and exits 130. With `--state` they count
/// as sent, so the same record again alerts nothing (killed instead, a replay would have
/// printed nothing). SIGTERM does the same and exits 143.
#[test]
fn an_interrupted_replay_reports_what_it_read() {
    use nix::sys::signal::Signal;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("later.json"), akia("later").to_string()).unwrap();
    let args = [
        "replay",
        "--format",
        "json",
        "--state",
        "state",
        "-",
        "later.json",
    ];
    let out = interrupted(&args, dir.path(), Signal::SIGINT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let alerts = lines(&out.stdout);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["event_ids"], json!(["first"]));
    assert!(stderr.contains("interrupted"), "{stderr}");
    let summary: Value = stderr
        .lines()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .unwrap_or_else(|| panic!("no summary: {stderr}"));
    assert_eq!(summary["summary"]["files"], json!(1), "{summary}");

    let again = format!("{}\n", akia("first"));
    let out = trailwatch(&args[..6], dir.path(), Some(again.as_bytes()));
    assert_eq!(out.status.code(), Some(0));
    assert!(lines(&out.stdout).is_empty(), "alerted before");

    let dir = tempfile::tempdir().unwrap();
    let out = interrupted(&args[..6], dir.path(), Signal::SIGTERM);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert_eq!(lines(&out.stdout).len(), 1, "{stderr}");
}

/// A replay of `args` in `dir` sent `signal` once it has read a record of an alert from
/// its standard input (written, with more records after it than any pipe holds).
fn interrupted(args: &[&str], dir: &Path, signal: nix::sys::signal::Signal) -> Output {
    use nix::unistd::Pid;
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    writeln!(input, "{}", akia("first")).unwrap();
    // Records of a session key (no finding), more than any pipe holds: once they are
    // written, the replay has read the first record.
    let mut quiet = akia("");
    quiet["userIdentity"]["accessKeyId"] = json!("ASIAIOSFODNN7EXAMPLE");
    let filler: String = (0..6000)
        .map(|i| {
            quiet["eventID"] = json!(format!("q{i}"));
            format!("{quiet}\n")
        })
        .collect();
    input.write_all(filler.as_bytes()).unwrap();
    nix::sys::signal::kill(Pid::from_raw(child.id() as i32), signal).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}
