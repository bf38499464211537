//! Golden replays: every input under `samples/` has its expected findings beside it in
//! `<file>.expected` (`<detection> <eventID>` lines, sorted).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use trailwatch::state::{MemoryStore, RedbStore, StateStore};
use trailwatch::{Config, Engine, Finding, Inventory};

fn samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples")
}

fn engine() -> Engine {
    let text = std::fs::read_to_string(samples().join("trailwatch.toml")).unwrap();
    Engine::new(Inventory::new(Config::from_toml(&text).unwrap()).unwrap()).unwrap()
}

/// Replays one file as one run: findings through the alert policy, state in `store`.
/// Returns the `<detection> <eventID>` lines of the alerts.
fn replay(engine: &Engine, store: &dyn StateStore, path: &Path) -> Result<BTreeSet<String>, String> {
    let mut findings: Vec<Finding> = Vec::new();
    if !Engine::is_skipped_key(&path.to_string_lossy()) {
        let file = File::open(path).map_err(|e| e.to_string())?;
        match engine.process_with_state(file, store, &mut findings) {
            Ok(stats) if stats.bad_records == 0 => {}
            other => return Err(format!("{other:?}")),
        }
    }
    let mut batch = engine.policy().batch();
    for f in findings {
        batch.add(f, store).map_err(|e| e.to_string())?;
    }
    let alerts = batch.finish(store).map_err(|e| e.to_string())?;
    store.flush().map_err(|e| e.to_string())?;
    Ok(alerts
        .iter()
        .flat_map(|a| {
            a.finding
                .event_ids
                .iter()
                .map(|id| format!("{} {id}", a.finding.detection))
        })
        .collect())
}

fn expected(path: &Path) -> Option<BTreeSet<String>> {
    let text = std::fs::read_to_string(format!("{}.expected", path.display())).ok()?;
    Some(
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(String::from)
            .collect(),
    )
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
    files.retain(|p| !p.starts_with(samples().join("stateful")));
    assert!(files.len() >= 10, "too few samples: {files:?}");
    let mut failures = Vec::new();
    for path in &files {
        let Some(expected) = expected(path) else {
            failures.push(format!("{}: no .expected file beside it", path.display()));
            continue;
        };
        match replay(&engine, &MemoryStore::new(), path) {
            Ok(actual) if actual == expected => {}
            Ok(actual) => failures.push(format!(
                "{}:\n{}",
                path.display(),
                side_by_side(&expected, &actual)
            )),
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `samples/stateful/<scenario>/`: the files of a scenario are replayed in order, one run
/// each, sharing one embedded store that is closed and reopened between runs.
#[test]
fn stateful_scenarios_replay_across_runs() {
    let engine = engine();
    let root = samples().join("stateful");
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    scenarios.retain(|p| p.is_dir());
    scenarios.sort();
    assert!(scenarios.len() >= 5, "too few stateful scenarios: {scenarios:?}");
    let mut failures = Vec::new();
    for scenario in &scenarios {
        let state = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        inputs(scenario, &mut files);
        for path in &files {
            let Some(expected) = expected(path) else {
                failures.push(format!("{}: no .expected file beside it", path.display()));
                continue;
            };
            let store = RedbStore::open(state.path()).unwrap();
            match replay(&engine, &store, path) {
                Ok(actual) if actual == expected => {}
                Ok(actual) => failures.push(format!(
                    "{}:\n{}",
                    path.display(),
                    side_by_side(&expected, &actual)
                )),
                Err(e) => failures.push(format!("{}: {e}", path.display())),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn samples_cover_every_detection() {
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
    for id in trailwatch::detect::all() {
        assert!(seen.contains(id), "no sample expects {id}");
    }
}
