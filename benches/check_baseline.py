#!/usr/bin/env python3
"""Checks that benches/baseline.py finds what trailwatch finds (stateless detections).

    python3 benches/check_baseline.py [--trailwatch BIN] [--config TOML] [PATH...]

PATHs (default samples/AWSLogs) are files or directories; directories are walked for
`*.json.gz` CloudTrail files (digest and Insights files left out, as trailwatch does).
Both tools get the same file list. trailwatch's alert policy deduplicates findings, so it
runs with a copy of the config where the stateful detections are off and every stateless
detection alerts per event (`dedup_by = ["event_id"]`, no threshold or severity floor):
each alert is then one finding, and the check compares per-detection counts and the
(detection, eventID) pairs themselves. Exits 1 and prints the differences on any
disagreement, 2 when a tool fails.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import tomllib
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in benches/
from baseline import STATELESS  # noqa: E402

STATEFUL = ["workload-credential-exfiltration", "sdk-credential-fallback", "access-denied-burst",
            "unexpected-cross-account-assume", "first-seen-role-source"]


def fail(message):
    print(f"check_baseline: {message}", file=sys.stderr)
    sys.exit(2)


def log_files(paths):
    files = []
    for p in map(Path, paths):
        found = sorted(p.rglob("*.json.gz")) if p.is_dir() else [p]
        files += [str(f) for f in found
                  if "CloudTrail-Digest" not in str(f) and "CloudTrail-Insight" not in str(f)]
    return files


def toml_key(key):
    return key if key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key) else json.dumps(key)


def toml_dump(table, prefix=()):
    """Enough TOML for a trailwatch config: tables, arrays of tables, scalars, lists."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float, str)):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{toml_key(k)} = {value(x)}" for k, x in v.items()) + "}"
        raise TypeError(f"cannot write {v!r} as TOML")

    def is_tables(v):
        return isinstance(v, list) and v and all(isinstance(x, dict) for x in v)

    lines = [f"{toml_key(k)} = {value(v)}" for k, v in table.items()
             if not isinstance(v, dict) and not is_tables(v)]
    for k, v in table.items():
        path = prefix + (k,)
        name = ".".join(toml_key(p) for p in path)
        if isinstance(v, dict):
            lines += [f"\n[{name}]", toml_dump(v, path)]
        elif is_tables(v):
            for item in v:
                lines += [f"\n[[{name}]]", toml_dump(item, path)]
    return "\n".join(lines)


def findings_config(path):
    """The config with the stateful detections off and every stateless finding its own
    alert (dedup by event id, no threshold or severity floor): alerts = findings."""
    with open(path, "rb") as f:
        config = tomllib.load(f)
    detections, alerts = config.setdefault("detections", {}), config.setdefault("alerts", {})
    for d in STATEFUL:
        detections.setdefault(d, {})["enabled"] = False
    for d in STATELESS:
        alerts[d] = {"dedup_by": ["event_id"]}
    return toml_dump(config) + "\n"


def run_trailwatch(binary, config, files):
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(findings_config(config))
    try:
        proc = subprocess.run([binary, "replay", "--config", f.name, "--format", "json", *files],
                              capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    summary = None
    for line in proc.stderr.splitlines():
        if line.startswith('{"summary"'):
            summary = json.loads(line)["summary"]
        else:
            print(f"trailwatch: {line}", file=sys.stderr)
    if proc.returncode not in (0, 3) or summary is None:
        fail(f"trailwatch failed (exit {proc.returncode})")
    counts, pairs = Counter(), Counter()
    for line in proc.stdout.splitlines():
        alert = json.loads(line)
        counts[alert["detection"]] += alert["count"]
        for event_id in alert["event_ids"]:
            pairs[(alert["detection"], event_id)] += 1
    return counts, pairs, summary


def run_baseline(config, files):
    proc = subprocess.run([sys.executable, str(HERE / "baseline.py"), "--config", config,
                           "--events", *files], capture_output=True, text=True)
    if proc.returncode != 0:
        fail(f"baseline.py failed (exit {proc.returncode}):\n{proc.stderr}")
    pairs, records = Counter(), None
    for line in proc.stdout.splitlines():
        detection, value = line.split(" ", 1)
        if detection == "records":
            records = int(value)
        else:
            pairs[(detection, value)] += 1
    return pairs, records


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trailwatch", default=str(ROOT / "target/release/trailwatch"),
                        help="trailwatch binary (default target/release/trailwatch; cargo build --release)")
    parser.add_argument("--config", default=str(ROOT / "samples/trailwatch.toml"))
    parser.add_argument("paths", nargs="*", default=[str(ROOT / "samples/AWSLogs")])
    args = parser.parse_args()
    if not os.access(args.trailwatch, os.X_OK):
        fail(f"{args.trailwatch}: not found; run `cargo build --release` first")
    files = log_files(args.paths)
    if not files:
        fail("no *.json.gz CloudTrail files under " + " ".join(args.paths))

    tw_counts, tw_pairs, summary = run_trailwatch(args.trailwatch, args.config, files)
    bl_pairs, bl_records = run_baseline(args.config, files)
    bl_counts = Counter(d for d, _ in bl_pairs.elements())
    problems = []
    print(f"{len(files)} files, {summary['records']} records (baseline {bl_records})")
    if summary["records"] != bl_records:
        problems.append(f"records: trailwatch {summary['records']}, baseline {bl_records}")
    print(f"{'detection':<34} {'trailwatch':>10} {'baseline':>9}")
    for d in STATELESS:
        mark = "" if tw_counts[d] == bl_counts[d] else "   <-- differs"
        print(f"{d:<34} {tw_counts[d]:>10} {bl_counts[d]:>9}{mark}")
    problems += [f"unexpected detection from trailwatch: {d}" for d in set(tw_counts) - set(STATELESS)]

    # With one alert per event, only an eventID seen twice (a re-delivered file) or a
    # finding without eventID is suppressed: then compare distinct (detection, eventID).
    suppressed = summary["suppressed"]
    if suppressed:
        print(f"note: the alert policy suppressed {suppressed} finding(s) (repeated or missing "
              "eventIDs): also comparing distinct (detection, eventID) pairs")
        shortfall = sum(bl_counts.values()) - sum(tw_counts.values())
        if shortfall != suppressed:
            problems.append(f"baseline has {shortfall} more findings than trailwatch alerted, "
                            f"but {suppressed} were suppressed")
        tw_set, bl_set = set(tw_pairs), {p for p in bl_pairs if p[1] != "None"}
        only_tw, only_bl = sorted(tw_set - bl_set), sorted(bl_set - tw_set)
    else:
        problems += [f"{d}: trailwatch {tw_counts[d]}, baseline {bl_counts[d]}"
                     for d in STATELESS if tw_counts[d] != bl_counts[d]]
        only_tw = sorted((tw_pairs - bl_pairs).elements())
        only_bl = sorted((bl_pairs - tw_pairs).elements())
    problems += [f"only trailwatch: {d} {e}" for d, e in only_tw]
    problems += [f"only baseline:   {d} {e}" for d, e in only_bl]

    if problems:
        print("\nDISAGREEMENT:")
        for p in problems:
            print("  " + p)
        return 1
    how = "on distinct (detection, eventID) pairs" if suppressed else "finding by finding"
    print(f"\nagree: every stateless detection, {how}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
