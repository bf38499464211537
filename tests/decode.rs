//! Every input shape and failure mode through `Engine::process`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;
use trailwatch::engine::FileStats;
use trailwatch::state::{Counted, DistinctCount, MemoryStore, StateError, StateStore};
use trailwatch::{Config, Engine, Finding, Inventory};

/// A record that fires `long-term-access-key` with no config at all.
fn akia(id: &str) -> serde_json::Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/dev",
                         "accountId": "111122223333", "accessKeyId": "AKIAIOSFODNN7EXAMPLE"},
        "eventTime": "2026-11-30T10:00:00Z", "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets",
        "awsRegion": "ap-southeast-1", "sourceIPAddress": "198.51.100.7", "eventID": id,
        "eventType": "AwsApiCall", "recipientAccountId": "111122223333"
    })
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::new(6));
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn engine_with(config: &str) -> Engine {
    Engine::new(Inventory::new(Config::from_toml(config).unwrap()).unwrap()).unwrap()
}

fn run(input: &[u8]) -> (Result<FileStats, String>, Vec<String>) {
    run_with(&engine_with(""), input)
}

fn run_with(engine: &Engine, input: &[u8]) -> (Result<FileStats, String>, Vec<String>) {
    let mut findings: Vec<Finding> = Vec::new();
    let result = engine.process(input, &mut findings).map_err(|e| e.to_string());
    (result, findings.into_iter().flat_map(|f| f.event_ids).collect())
}

fn batch(ids: &[&str]) -> Vec<u8> {
    let records: Vec<_> = ids.iter().map(|id| akia(id)).collect();
    serde_json::to_vec(&json!({ "Records": records })).unwrap()
}

fn cwl_payload(ids: &[&str]) -> serde_json::Value {
    let events: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"id": i.to_string(), "timestamp": 1, "message": akia(id).to_string()}))
        .collect();
    json!({"messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": "g", "logStream": "s",
           "subscriptionFilters": ["f"], "logEvents": events})
}

#[test]
fn shapes_yield_their_records() {
    let ndjson: Vec<u8> = [akia("n1"), akia("n2")]
        .iter()
        .flat_map(|r| format!("{r}\n").into_bytes())
        .collect();
    let awslogs = json!({"awslogs": {"data": base64::engine::general_purpose::STANDARD
        .encode(gzip(cwl_payload(&["w1", "w2"]).to_string().as_bytes()))}});
    let eventbridge = json!({"version": "0", "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3",
                             "detail": akia("e1")});
    let pretty = serde_json::to_vec_pretty(&json!({"Records": [akia("p1")]})).unwrap();
    let not_first = serde_json::to_vec(&json!({"x": 1, "Records": [akia("k1")]})).unwrap();
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        ("cloudtrail file", batch(&["a", "b"]), vec!["a", "b"]),
        ("gzipped file", gzip(&batch(&["a"])), vec!["a"]),
        (
            "multi-member gzip",
            [gzip(&batch(&["m1"])), gzip(&batch(&["m2"]))].concat(),
            vec!["m1", "m2"],
        ),
        ("pretty-printed file", pretty, vec!["p1"]),
        ("Records not first", not_first, vec!["k1"]),
        ("ndjson", ndjson.clone(), vec!["n1", "n2"]),
        ("gzipped ndjson", gzip(&ndjson), vec!["n1", "n2"]),
        ("bare record", akia("r1").to_string().into_bytes(), vec!["r1"]),
        (
            "cwl decoded",
            cwl_payload(&["c1", "c2"]).to_string().into_bytes(),
            vec!["c1", "c2"],
        ),
        ("cwl awslogs", awslogs.to_string().into_bytes(), vec!["w1", "w2"]),
        ("eventbridge", eventbridge.to_string().into_bytes(), vec!["e1"]),
        ("empty", Vec::new(), vec![]),
        ("empty records", b"{\"Records\": []}".to_vec(), vec![]),
    ];
    for (name, input, want) in cases {
        let (result, ids) = run(&input);
        let stats = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ids, want, "{name}");
        assert_eq!(
            (stats.records, stats.bad_records),
            (want.len() as u64, 0),
            "{name}: {stats:?}"
        );
    }
}

#[test]
fn skipped_inputs_are_counted_not_reported() {
    let control = json!({"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logEvents": [
        {"id": "1", "timestamp": 1, "message": "CWL CONTROL MESSAGE: Checking health of destination"}]});
    let digest = json!({"awsAccountId": "111122223333", "digestStartTime": "2026-11-30T09:00:00Z",
                        "digestEndTime": "2026-11-30T10:00:00Z", "logFiles": []});
    let mut insight = akia("i1");
    insight["eventType"] = json!("AwsCloudTrailInsight");
    let insights = serde_json::to_vec(&json!({"Records": [insight]})).unwrap();
    let (stats, ids) = run(control.to_string().as_bytes());
    assert_eq!(
        (stats.unwrap().skipped_records, ids.len()),
        (1, 0),
        "control message"
    );
    let (stats, _) = run(&gzip(digest.to_string().as_bytes()));
    assert!(stats.unwrap().skipped_file, "digest file");
    let (stats, ids) = run(&insights);
    assert_eq!(
        (stats.unwrap().skipped_records, ids.len()),
        (1, 0),
        "insight record"
    );
    for key in [
        "AWSLogs/111122223333/CloudTrail-Digest/ap-southeast-1/2026/11/30/x.json.gz",
        "AWSLogs/111122223333/CloudTrail-Insight/ap-southeast-1/2026/11/30/x.json.gz",
    ] {
        assert!(Engine::is_skipped_key(key), "{key}");
    }
    assert!(!Engine::is_skipped_key(
        "AWSLogs/111122223333/CloudTrail/ap-southeast-1/2026/11/30/x.json.gz"
    ));
}

#[test]
fn bad_records_are_counted_and_the_rest_goes_on() {
    let good = akia("good").to_string();
    let cases: Vec<(&str, String, u64)> = vec![
        (
            "invalid json",
            format!(r#"{{"Records":[{{"eventName": tru}}, {good}]}}"#),
            1,
        ),
        (
            "not an object",
            format!(r#"{{"Records":[42, "x", null, [1], {good}]}}"#),
            4,
        ),
        ("garbage token", format!(r#"{{"Records":[nonsense, {good}]}}"#), 1),
        (
            "bad ndjson line",
            format!("{{\"a\":\n{{\"eventName\":1}}}}\n{good}\n"),
            1,
        ),
        ("unknown document", format!("{{\"hello\":\"world\"}}\n{good}"), 1),
        (
            "invalid utf-8",
            format!("{{\"Records\":[{{\"eventName\":\"\u{1}\"}}, {good}]}}").replace('\u{1}', "\\ud800"),
            0,
        ),
    ];
    for (name, input, bad) in cases {
        let (result, ids) = run(input.as_bytes());
        let stats = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ids, ["good"], "{name}: {stats:?}");
        assert_eq!(stats.bad_records, bad, "{name}: {stats:?}");
    }
    let mut raw = format!(r#"{{"Records":[{{"eventName":"X","eventID":"bad"}}, {good}]}}"#).into_bytes();
    let at = raw.iter().position(|&b| b == b'X').unwrap();
    raw[at] = 0xff;
    let (result, ids) = run(&raw);
    assert_eq!(
        (result.unwrap().bad_records, ids),
        (1, vec!["good".to_string()]),
        "invalid utf-8 bytes"
    );
}

#[test]
fn oversized_record_is_skipped() {
    let engine = engine_with("[input]\nmax_record_bytes = 4096");
    let mut big = akia("big");
    big["requestParameters"] = json!({"blob": "x".repeat(10_000)});
    // Longer than a read of the splitter's buffer (128 KiB) too, and a record past the limit
    // by one byte.
    let mut bigger = akia("bigger");
    bigger["requestParameters"] = json!({"blob": "y".repeat(300_000)});
    let mut edge = akia("edge");
    let pad = 4096 - edge.to_string().len() - r#","requestParameters":{"p":""}"#.len();
    edge["requestParameters"] = json!({"p": "z".repeat(pad)});
    assert_eq!(edge.to_string().len(), 4096);
    let mut over = edge.clone();
    over["requestParameters"]["p"] = json!("z".repeat(pad + 1));
    let records = [
        akia("a"),
        big,
        akia("b"),
        bigger,
        akia("c"),
        edge,
        over,
        akia("d"),
    ];
    let input = serde_json::to_vec(&json!({ "Records": records })).unwrap();
    let (result, ids) = run_with(&engine, &input);
    assert_eq!(ids, ["a", "b", "c", "edge", "d"]);
    assert_eq!(result.unwrap().bad_records, 3);
}

#[test]
fn broken_inputs_fail_with_what_was_read() {
    let good = gzip(&batch(&["a", "b", "c"]));
    let truncated = &good[..good.len() - 12];
    let (result, _) = run(truncated);
    let err = result.expect_err("truncated gzip must fail");
    assert!(err.contains("gzip") || err.contains("ends inside"), "{err}");

    let (result, _) = run(b"this is not json");
    assert_eq!(result.unwrap_err(), "not gzip and not JSON");

    // A gzip bomb: 64 MiB of zeros compresses to ~64 KiB; the cap stops it early.
    let engine = engine_with("[input]\nmax_decompressed_bytes = 1048576");
    let bomb = gzip(&vec![b' '; 64 << 20]);
    let (result, _) = run_with(&engine, &bomb);
    let err = result.expect_err("bomb must fail");
    assert!(err.contains("max_decompressed_bytes"), "{err}");
}

#[test]
fn bad_awslogs_data_is_a_bad_record() {
    for data in ["!!!not base64!!!", "aGVsbG8="] {
        let input = json!({"awslogs": {"data": data}}).to_string();
        let (result, ids) = run(input.as_bytes());
        let stats = result.unwrap();
        assert_eq!((stats.bad_records, ids.len()), (1, 0), "{data}");
    }
}

#[test]
fn findings_never_carry_credentials() {
    let canary = "CANARY-SECRET-9f8e7d";
    let mut r = akia("c");
    r["responseElements"] = json!({"credentials": {"accessKeyId": "ASIAXXXXXXXXXXXXXXXX",
        "sessionToken": canary, "secretAccessKey": canary}});
    r["requestParameters"] = json!({"token": canary});
    let mut findings: Vec<Finding> = Vec::new();
    engine_with("")
        .process(r.to_string().as_bytes(), &mut findings)
        .unwrap();
    assert_eq!(findings.len(), 1);
    let text = serde_json::to_string(&findings).unwrap();
    assert!(
        !text.contains(canary) && !text.contains("ASIAXXXXXXXXXXXXXXXX"),
        "{text}"
    );
}

/// Everything an engine run reports, for comparing two ways of running it.
fn outcome(result: Result<FileStats, Box<trailwatch::FileError>>, findings: Vec<Finding>) -> String {
    let result = result.map_err(|e| (e.stats, e.to_string()));
    let ids: Vec<_> = findings.into_iter().map(|f| (f.detection, f.event_ids)).collect();
    format!("{result:?} {ids:?}")
}

#[test]
fn the_decode_thread_changes_nothing() {
    let engine = engine_with(&std::fs::read_to_string("samples/trailwatch.toml").unwrap());
    let store = MemoryStore::new;
    let mut inputs: Vec<_> = walkdir::WalkDir::new("samples")
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| e == "gz" || e == "jsonl" || e == "json")
        })
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    // Inputs past one chunk, and a corrupt one that fails past it.
    let big = gzip(&batch(&vec!["x"; 3000]));
    let mut corrupt = big.clone();
    let at = corrupt.len() * 2 / 3;
    corrupt[at] ^= 0x55;
    // The decode thread leaves gzip's checks to the consumer: a wrong CRC or size in a
    // trailer, a trailer cut short, and members back to back must read the same.
    let mut wrong_crc = big.clone();
    let at = wrong_crc.len() - 8;
    wrong_crc[at] ^= 1;
    let mut wrong_size = big.clone();
    let at = wrong_size.len() - 1;
    wrong_size[at] ^= 1;
    let cut = big[..big.len() - 2].to_vec();
    let members = [big.clone(), gzip(&batch(&["m"])), big.clone()].concat();
    let bad_second = [big.clone(), wrong_crc.clone()].concat();
    inputs.extend([big, corrupt, wrong_crc, wrong_size, cut, members, bad_second]);
    assert!(inputs.len() > 40, "samples not found");
    // A store that asks for batches makes the decode thread read keys ahead: the
    // records' credentials are then in the cache when they are looked up.
    let counting = |batches| Counting {
        store: store(),
        batches,
        cred_gets: AtomicU64::new(0),
    };
    let stitched: Vec<Vec<u8>> = (0..3)
        .map(|_| {
            let mut records = vec![];
            for i in 0..2000 {
                records.push(json!({"eventVersion": "1.08", "eventTime": "2026-11-30T08:00:00Z", "eventID": format!("e{i}"),
                    "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "sourceIPAddress": "198.51.100.9",
                    "userIdentity": {"type": "AssumedRole", "accessKeyId": format!("ASIAK{}", i % 300),
                        "arn": "arn:aws:sts::111122223333:assumed-role/orders/s",
                        "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/orders"}}}}));
            }
            gzip(&serde_json::to_vec(&json!({ "Records": records })).unwrap())
        })
        .collect();
    for (i, input) in inputs.iter().chain(&stitched).enumerate() {
        let (mut one, mut two, mut three) = (Vec::new(), Vec::new(), Vec::new());
        let a = outcome(engine.process_with_state(&input[..], &store(), &mut one), one);
        let (single, ahead) = (counting(false), counting(true));
        let b = outcome(engine.process_pipelined(&input[..], &single, &mut two), two);
        let c = outcome(engine.process_pipelined(&input[..], &ahead, &mut three), three);
        assert_eq!(a, b);
        assert_eq!(a, c, "reading ahead");
        if i >= inputs.len() {
            assert_eq!(
                single.cred_gets.load(Ordering::Relaxed),
                300,
                "one read per key without"
            );
            assert_eq!(
                ahead.cred_gets.load(Ordering::Relaxed),
                0,
                "no single reads when reading ahead"
            );
        }
    }
}

/// A memory store that may prefer batches, and counts its single reads of credentials.
struct Counting {
    store: MemoryStore,
    batches: bool,
    cred_gets: AtomicU64,
}

impl StateStore for Counting {
    fn read_grace(&self) -> Option<i64> {
        self.store.read_grace()
    }
    fn get(&self, key: &str, now: i64) -> Result<Option<Vec<u8>>, StateError> {
        if key.starts_with("cred/") {
            self.cred_gets.fetch_add(1, Ordering::Relaxed);
        }
        self.store.get(key, now)
    }
    fn put(&self, key: &str, value: &[u8], expires: i64) -> Result<(), StateError> {
        self.store.put(key, value, expires)
    }
    fn put_if_absent(&self, key: &str, value: &[u8], now: i64, expires: i64) -> Result<bool, StateError> {
        self.store.put_if_absent(key, value, now, expires)
    }
    fn increment(&self, key: &str, by: u64, now: i64, expires: i64) -> Result<u64, StateError> {
        self.store.increment(key, by, now, expires)
    }
    fn count_distinct(&self, ask: &DistinctCount<'_>) -> Result<Counted, StateError> {
        self.store.count_distinct(ask)
    }
    fn get_many(&self, keys: &[(String, i64)]) -> Result<Vec<Option<Vec<u8>>>, StateError> {
        self.store.get_many(keys)
    }
    fn prefers_batches(&self) -> bool {
        self.batches
    }
}

/// A CloudWatch Logs delivery is one document around its records: longer as a whole than
/// max_record_bytes, its records still count; a message past that limit is skipped alone.
#[test]
fn a_logs_delivery_longer_than_a_record_keeps_its_records() {
    let engine = engine_with("[input]\nmax_record_bytes = 4096");
    let ids: Vec<String> = (0..40).map(|i| format!("w{i}")).collect();
    let mut payload = cwl_payload(&ids.iter().map(String::as_str).collect::<Vec<_>>());
    let mut long = akia("long");
    long["userAgent"] = json!("x".repeat(5000));
    payload["logEvents"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "99", "timestamp": 1, "message": long.to_string()}));
    let decoded = payload.to_string();
    assert!(decoded.len() > 4096 * 4, "{}", decoded.len());
    let awslogs = json!({"awslogs": {"data": base64::engine::general_purpose::STANDARD.encode(gzip(decoded.as_bytes()))}});
    let (result, found) = run_with(&engine, awslogs.to_string().as_bytes());
    let stats = result.unwrap();
    assert_eq!((stats.records, stats.bad_records), (40, 1), "{stats:?}");
    assert_eq!(found, ids);
}

/// A CloudWatch Logs payload is held whole, so what it may decode to is bounded: past
/// that it is a bad record, and the delivery's other records are not at stake.
#[test]
fn a_logs_payload_past_its_bound_is_a_bad_record() {
    let engine = engine_with("[input]\nmax_decompressed_bytes = 1048576");
    let mut payload = cwl_payload(&["w1"]);
    payload["padding"] = json!(" ".repeat(1 << 21));
    let awslogs = json!({"awslogs": {"data": base64::engine::general_purpose::STANDARD
        .encode(gzip(payload.to_string().as_bytes()))}});
    let (result, found) = run_with(&engine, awslogs.to_string().as_bytes());
    let stats = result.unwrap();
    assert_eq!(
        (stats.records, stats.bad_records, found.len()),
        (0, 1, 0),
        "{stats:?}"
    );
}
