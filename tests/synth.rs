//! The synthetic CloudTrail generator (`trailwatch::synth`, `trailwatch gen`): determinism,
//! document shape and size, realistic content, and what the engine makes of it.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use trailwatch::synth::{self, SynthOptions, SynthStats};
use trailwatch::{Config, Engine, Finding, Inventory};

fn generate(bytes: u64, seed: u64) -> (Vec<u8>, SynthStats) {
    let mut out = Vec::new();
    let stats = synth::write_records(&mut out, &SynthOptions { bytes, seed }).unwrap();
    (out, stats)
}

fn records(doc: &[u8]) -> Vec<Value> {
    let mut value: Value = serde_json::from_slice(doc).unwrap();
    match value["Records"].take() {
        Value::Array(records) => records,
        other => panic!("Records is not an array: {other}"),
    }
}

fn engine() -> Engine {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/trailwatch.toml");
    let text = std::fs::read_to_string(path).unwrap();
    Engine::new(Inventory::new(Config::from_toml(&text).unwrap()).unwrap()).unwrap()
}

#[test]
fn same_seed_same_bytes() {
    let (a, sa) = generate(2_000_000, 42);
    let (b, sb) = generate(2_000_000, 42);
    assert_eq!(sa, sb);
    assert!(a == b, "two runs with seed 42 differ");
    let (c, _) = generate(2_000_000, 43);
    assert!(a != c, "seeds 42 and 43 gave the same bytes");
    // Compressed output is deterministic too (no time stamp in the gzip header).
    let opts = SynthOptions {
        bytes: 300_000,
        seed: 42,
    };
    let (mut x, mut y) = (Vec::new(), Vec::new());
    synth::write_gzip(&mut x, &opts).unwrap();
    synth::write_gzip(&mut y, &opts).unwrap();
    assert!(x == y, "gzip output differs between runs");
}

#[test]
fn a_valid_cloudtrail_document_of_the_target_size() {
    for target in [1_000_000u64, 4_000_000] {
        let (doc, stats) = generate(target, 7);
        assert_eq!(stats.bytes, doc.len() as u64);
        assert!(stats.bytes <= target, "{target}: {} bytes", stats.bytes);
        assert!(
            stats.bytes as f64 >= target as f64 * 0.97,
            "{target}: only {} bytes",
            stats.bytes
        );
        // One line, as CloudTrail writes it.
        assert!(doc.starts_with(b"{\"Records\":[{\"eventVersion\":\"1.") && doc.ends_with(b"}]}"));
        assert!(!doc.contains(&b'\n'), "{target}: a raw newline in the document");
        let records = records(&doc);
        assert_eq!(records.len() as u64, stats.records, "{target}");

        let mut ids = HashSet::new();
        let mut last_time = String::new();
        for (i, r) in records.iter().enumerate() {
            for field in [
                "eventVersion",
                "userIdentity",
                "eventTime",
                "eventSource",
                "eventName",
                "awsRegion",
                "sourceIPAddress",
                "userAgent",
                "requestParameters",
                "responseElements",
                "requestID",
                "eventID",
                "readOnly",
                "eventType",
                "managementEvent",
                "recipientAccountId",
                "eventCategory",
            ] {
                assert!(r.get(field).is_some(), "record {i} has no {field}: {r}");
            }
            assert_eq!(r["eventType"], "AwsApiCall", "record {i}");
            assert!(r.get("sessionCredentialFromConsole").is_none(), "record {i}");
            let version = r["eventVersion"].as_str().unwrap();
            assert!(
                ["1.08", "1.09", "1.10", "1.11"].contains(&version),
                "record {i}: {version}"
            );
            let time = r["eventTime"].as_str().unwrap().to_string();
            assert!(time >= last_time, "record {i}: {time} before {last_time}");
            last_time = time;
            assert!(
                ids.insert(r["eventID"].as_str().unwrap().to_string()),
                "record {i}: eventID repeated"
            );
        }
    }
}

/// Workload sessions sign their calls with keys their own exchanges handed out.
#[test]
fn workload_keys_come_from_earlier_exchanges() {
    let (doc, _) = generate(3_000_000, 11);
    let mut issued = HashSet::new();
    let (mut workload_calls, mut exchanges, mut failed) = (0, 0, 0);
    for (i, r) in records(&doc).iter().enumerate() {
        let name = r["eventName"].as_str().unwrap();
        if name == "AssumeRoleWithWebIdentity" || r["userIdentity"]["invokedBy"] == "pods.eks.amazonaws.com" {
            exchanges += 1;
            match r["responseElements"]["credentials"]["accessKeyId"].as_str() {
                Some(key) => {
                    assert!(key.starts_with("ASIA") && key.len() == 20, "record {i}: {key}");
                    assert!(
                        !r["responseElements"]["credentials"]["sessionToken"]
                            .as_str()
                            .unwrap()
                            .is_empty()
                    );
                    issued.insert(key.to_string());
                }
                None => {
                    failed += 1;
                    assert!(
                        r["errorCode"].is_string() && r["errorMessage"].is_string(),
                        "record {i}"
                    );
                }
            }
            if name == "AssumeRoleWithWebIdentity" {
                let ui = &r["userIdentity"];
                assert_eq!(ui["type"], "WebIdentityUser", "record {i}");
                if let Some(subject) = r["responseElements"]["subjectFromWebIdentityToken"].as_str() {
                    assert_eq!(ui["userName"], subject, "record {i}");
                    assert_eq!(
                        r["responseElements"]["audience"], "sts.amazonaws.com",
                        "record {i}"
                    );
                }
            }
            continue;
        }
        let arn = r["userIdentity"]["arn"].as_str().unwrap_or_default();
        let workload = arn.contains(":assumed-role/prod-") && !arn.contains(":assumed-role/prod-node-role/");
        if workload && r["userIdentity"]["invokedBy"].is_null() {
            workload_calls += 1;
            let key = r["userIdentity"]["accessKeyId"].as_str().unwrap();
            assert!(
                issued.contains(key),
                "record {i}: {key} of {arn} was never issued"
            );
        }
    }
    assert!(
        workload_calls > 600 && exchanges > 20,
        "{workload_calls} calls, {exchanges} exchanges"
    );
    assert!(failed < exchanges / 5, "{failed} of {exchanges} exchanges failed");
}

#[test]
fn large_values_and_escapes_are_in_the_mix() {
    let (doc, _) = generate(6_000_000, 3);
    let text = std::str::from_utf8(&doc).unwrap();
    for needle in [
        r"\u00e9",
        r"\ud83d\ude80",
        r#"\""#,
        r"\\",
        r"\/",
        r"\n",
        "東京",
        "🎉",
        "Zoë",
        "ASIA",
        "AKIA",
    ] {
        assert!(text.contains(needle), "no {needle:?} in the document");
    }
    let records = records(&doc);
    let sizes: Vec<usize> = records
        .iter()
        .map(|r| serde_json::to_vec(r).unwrap().len())
        .collect();
    let large = sizes.iter().filter(|&&s| s > 5_000).count();
    assert!(
        large * 200 >= records.len(),
        "only {large} of {} records over 5 KB",
        records.len()
    );
    assert!(sizes.iter().any(|&s| s > 20_000), "no record over 20 KB");
    assert!(
        sizes.iter().all(|&s| s < 256 * 1024),
        "a record over CloudTrail's 256 KB"
    );
}

/// The engine reads every record; several detections fire, on few records.
#[test]
fn the_engine_reads_it_all_and_finds_a_few_things() {
    let opts = SynthOptions {
        bytes: 12_000_000,
        seed: 1,
    };
    let mut gz = Vec::new();
    let synth = synth::write_gzip(&mut gz, &opts).unwrap();
    let mut findings: Vec<Finding> = Vec::new();
    let stats = engine().process(gz.as_slice(), &mut findings).unwrap();
    assert_eq!(stats.bad_records, 0, "{stats:?}");
    assert_eq!(stats.records, synth.records, "{stats:?}");
    assert_eq!(stats.bytes, synth.bytes, "{stats:?}");
    let mut by_detection = BTreeMap::new();
    for f in &findings {
        *by_detection.entry(f.detection).or_insert(0u64) += 1;
    }
    assert!(
        by_detection.len() >= 6,
        "findings from only {} detections: {by_detection:?}",
        by_detection.len()
    );
    let flagged: HashSet<&str> = findings
        .iter()
        .flat_map(|f| f.event_ids.iter().map(String::as_str))
        .collect();
    assert!(
        (flagged.len() as u64) * 100 < stats.records,
        "{} of {} records flagged: {by_detection:?}",
        flagged.len(),
        stats.records
    );
}

#[test]
fn the_gen_command_writes_what_replay_reads() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_trailwatch");
    let out = dir.path().join("synthetic.json.gz");
    let gen_run = Command::new(bin)
        .args(["gen", "--size", "1MiB", "--seed", "5", "--output"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        gen_run.status.success(),
        "{}",
        String::from_utf8_lossy(&gen_run.stderr)
    );
    let gz = std::fs::read(&out).unwrap();
    assert_eq!(gz[..2], [0x1f, 0x8b], "not gzip");

    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/trailwatch.toml");
    let replay = Command::new(bin)
        .args(["replay", "--format", "json", "--config"])
        .arg(&config)
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        replay.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let summary = String::from_utf8_lossy(&replay.stderr)
        .lines()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .unwrap();
    let expected = synth::write_records(
        std::io::sink(),
        &SynthOptions {
            bytes: 1 << 20,
            seed: 5,
        },
    )
    .unwrap();
    assert_eq!(summary["summary"]["records"], expected.records, "{summary}");
    assert_eq!(summary["summary"]["bytes"], expected.bytes, "{summary}");
    assert_eq!(summary["summary"]["bad_records"], 0, "{summary}");

    // Plain JSON on stdout; sizes in decimal units.
    let stdout = Command::new(bin)
        .args(["gen", "--size", "200KB", "--seed", "5"])
        .output()
        .unwrap();
    assert!(
        stdout.status.success(),
        "{}",
        String::from_utf8_lossy(&stdout.stderr)
    );
    assert!(
        stdout.stdout.len() <= 200_000 && stdout.stdout.len() > 190_000,
        "{}",
        stdout.stdout.len()
    );
    records(&stdout.stdout);

    let bad = Command::new(bin)
        .args(["gen", "--size", "lots"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
}
