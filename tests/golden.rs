//! Golden replays: every input under `samples/` has its expected findings beside it in
//! `<file>.expected` (`<detection> <eventID>` lines, sorted).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use trailwatch::{Config, Engine, Finding, Inventory};

fn samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples")
}

fn engine() -> Engine {
    let text = std::fs::read_to_string(samples().join("trailwatch.toml")).unwrap();
    Engine::new(Inventory::new(Config::from_toml(&text).unwrap()).unwrap()).unwrap()
}

/// Inputs: what a directory replay picks up (see `is_log_file` in the CLI).
fn inputs(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            inputs(&path, out);
        } else if [".json", ".json.gz", ".ndjson", ".ndjson.gz"]
            .iter()
            .any(|e| name.ends_with(e))
        {
            out.push(path);
        }
    }
}

fn side_by_side(expected: &BTreeSet<String>, actual: &BTreeSet<String>) -> String {
    let mut out = format!("{:<70} | actual\n", "expected");
    for line in expected.union(actual) {
        let (e, a) = (expected.contains(line), actual.contains(line));
        let mark = if e && a { ' ' } else { '!' };
        out.push_str(&format!(
            "{mark} {:<68} | {}\n",
            if e { line.as_str() } else { "" },
            if a { line.as_str() } else { "" }
        ));
    }
    out
}

#[test]
fn every_sample_yields_its_expected_findings() {
    let engine = engine();
    let mut files = Vec::new();
    inputs(&samples(), &mut files);
    assert!(files.len() >= 10, "too few samples: {files:?}");
    let mut failures = Vec::new();
    for path in &files {
        let expected_path = PathBuf::from(format!("{}.expected", path.display()));
        let Ok(expected) = std::fs::read_to_string(&expected_path) else {
            failures.push(format!("{}: no .expected file beside it", path.display()));
            continue;
        };
        let expected: BTreeSet<String> = expected
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(String::from)
            .collect();
        let mut findings: Vec<Finding> = Vec::new();
        let skipped_by_name = Engine::is_skipped_key(&path.to_string_lossy());
        if !skipped_by_name {
            let stats = engine.process(File::open(path).unwrap(), &mut findings);
            match stats {
                Ok(stats) if stats.bad_records == 0 => {}
                other => failures.push(format!("{}: {other:?}", path.display())),
            }
        }
        let actual: BTreeSet<String> = findings
            .iter()
            .flat_map(|f| f.event_ids.iter().map(move |id| format!("{} {id}", f.detection)))
            .collect();
        if actual != expected {
            failures.push(format!(
                "{}:\n{}",
                path.display(),
                side_by_side(&expected, &actual)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn samples_cover_every_stateless_detection() {
    let mut files = Vec::new();
    inputs(&samples(), &mut files);
    let mut seen = BTreeSet::new();
    for path in files {
        if let Ok(text) = std::fs::read_to_string(format!("{}.expected", path.display())) {
            seen.extend(
                text.lines()
                    .filter_map(|l| l.split_whitespace().next())
                    .map(String::from),
            );
        }
    }
    for id in trailwatch::detect::STATELESS {
        assert!(seen.contains(id), "no sample expects {id}");
    }
}
