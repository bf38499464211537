//! Broken and hostile input. Every case ends in a named error or a counted skip, the
//! good record beside it still fires, nothing from a record leaks credentials or breaks
//! the output, and nothing needs a stack as deep as the input's nesting.
//!
//! The small cases are committed under `samples/adversarial/` (make_adversarial.py makes
//! them); the big ones (gzip bombs, a million records, records past the limits, 100 000
//! levels of nesting) are made here. The canary everywhere is a call signed with an AKIA
//! key: `long-term-access-key` fires on it without configuration.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use trailwatch::decode::{PieceKind, Splitter};
use trailwatch::engine::FileStats;
use trailwatch::finding::{MAX_ARN_CHARS, MAX_FIELD_CHARS, is_invisible};
use trailwatch::record::RecordError;
use trailwatch::state::MemoryStore;
use trailwatch::{Config, Engine, Finding, Inventory, Sink};

/// Must match `SECRET_CANARY` in make_adversarial.py.
const SECRET_CANARY: &str = "TWCANARY-5e1f0c9a-credential-material";
/// The key id STS hands out in credential-canary.jsonl: never in a finding either.
const ISSUED_KEY: &str = "ASIAQQQQQQQQQQQQQQQQ";

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/adversarial")
}

fn read_case(name: &str) -> Vec<u8> {
    std::fs::read(corpus().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn engine_with(toml: &str) -> Engine {
    Engine::new(Inventory::new(Config::from_toml(toml).unwrap()).unwrap()).unwrap()
}

fn engine() -> Engine {
    engine_with("")
}

/// A cluster whose IRSA exchanges are recognised and whose egress is known, so that the
/// stateful credential detections run too.
const CLUSTER_TOML: &str = r#"
[[clusters]]
name = "prod"
account = "111122223333"
oidc_provider = "oidc.eks.ap-southeast-1.amazonaws.com/id/EXAMPLE"
node_roles = ["arn:aws:iam::111122223333:role/prod-node-role"]
egress_cidrs = ["52.1.2.3/32"]
"#;

/// The canary as a Rust value, for generated inputs.
fn canary(id: &str) -> Value {
    json!({"eventVersion": "1.09", "eventTime": "2026-11-30T10:00:00Z", "eventSource": "s3.amazonaws.com",
           "eventName": "ListBuckets", "awsRegion": "ap-southeast-1", "sourceIPAddress": "198.51.100.7",
           "eventID": id, "eventType": "AwsApiCall", "recipientAccountId": "111122223333",
           "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/canary",
                            "accountId": "111122223333", "accessKeyId": "AKIAIOSFODNN7EXAMPLE"}})
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::new(6));
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Collects findings and the reports of bad records.
#[derive(Default)]
struct Collect {
    findings: Vec<Finding>,
    bad: Vec<String>,
}

impl Sink for Collect {
    fn finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    fn bad_record(&mut self, _index: u64, error: &RecordError) {
        self.bad.push(error.to_string());
    }
}

/// What one input did.
struct Run {
    error: Option<String>,
    stats: FileStats,
    sink: Collect,
}

impl Run {
    /// `<detection> <eventID>` per finding, in order.
    fn fired(&self) -> Vec<String> {
        self.sink
            .findings
            .iter()
            .map(|f| format!("{} {}", f.detection, f.event_ids.join(",")))
            .collect()
    }

    fn finding(&self, detection: &str, id: &str) -> &Finding {
        self.sink
            .findings
            .iter()
            .find(|f| f.detection == detection && f.event_ids.iter().any(|e| e == id))
            .unwrap_or_else(|| panic!("no {detection} {id} among {:?}", self.fired()))
    }
}

fn process(engine: &Engine, input: impl Read) -> Run {
    let mut sink = Collect::default();
    let (error, stats) = match engine.process(input, &mut sink) {
        Ok(stats) => (None, stats),
        Err(e) => (Some(e.to_string()), e.stats),
    };
    Run { error, stats, sink }
}

// ------------------------------------------------------------------ committed corpus

/// What a committed case must do.
struct Case {
    file: &'static str,
    /// The error the input stops with (a substring); `None`: read to the end.
    error: Option<&'static str>,
    records: u64,
    bad: u64,
    skipped_records: u64,
    skipped_file: bool,
    /// `<detection> <eventID>` of every finding, in order.
    fires: &'static [&'static str],
    /// What each bad record is reported as (substrings, in order).
    bad_errors: &'static [&'static str],
}

macro_rules! lt {
    ($id:literal) => {
        concat!("long-term-access-key ", $id)
    };
}

const OK: Case = Case {
    file: "",
    error: None,
    records: 0,
    bad: 0,
    skipped_records: 0,
    skipped_file: false,
    fires: &[],
    bad_errors: &[],
};

const NOT_JSON: &str = "not gzip and not JSON";
const NOT_OBJECT: &str = "record is not a JSON object";
const UNKNOWN: &str = "object is neither a CloudTrail record nor a known envelope";
const TRUNCATED: &str = "input ends inside a JSON value";

const CASES: &[Case] = &[
    // gzip
    Case {
        file: "truncated-gzip.jsonl.gz",
        error: Some("corrupt gzip data: incomplete deflate stream"),
        records: 23,
        fires: &[lt!("truncated-before-cut")],
        ..OK
    },
    Case {
        file: "not-gzip.gz",
        error: Some(NOT_JSON),
        ..OK
    },
    Case {
        file: "gzip-header-garbage.gz",
        error: Some("corrupt gzip data: invalid gzip header"),
        ..OK
    },
    // The content decodes (and fires) before the trailer's CRC-32 is checked.
    Case {
        file: "gzip-bad-crc.jsonl.gz",
        error: Some("corrupt gzip data: corrupt gzip stream does not have a matching checksum"),
        records: 1,
        fires: &[lt!("bad-crc-content")],
        ..OK
    },
    // NUL padding after the member is read as the next member's header.
    Case {
        file: "gzip-trailing-garbage.jsonl.gz",
        error: Some("corrupt gzip data: invalid gzip header"),
        records: 1,
        fires: &[lt!("before-trailing-garbage")],
        ..OK
    },
    Case {
        file: "multi-member-with-empty.jsonl.gz",
        records: 2,
        fires: &[lt!("member-1"), lt!("member-3")],
        ..OK
    },
    // Names do not decide: content is sniffed.
    Case {
        file: "plain-json-named.gz",
        records: 1,
        fires: &[lt!("plain-named-gz")],
        ..OK
    },
    Case {
        file: "gzip-named.jsonl",
        records: 1,
        fires: &[lt!("gzip-named-jsonl")],
        ..OK
    },
    // empty
    Case {
        file: "empty.jsonl",
        ..OK
    },
    Case {
        file: "empty.gz",
        ..OK
    },
    Case {
        file: "empty-member.jsonl.gz",
        ..OK
    },
    Case {
        file: "whitespace.jsonl",
        ..OK
    },
    Case {
        file: "empty-records.jsonl",
        ..OK
    },
    // shapes
    Case {
        file: "good-canary.jsonl",
        records: 1,
        fires: &[lt!("good-canary")],
        ..OK
    },
    Case {
        file: "record-not-object.jsonl",
        records: 1,
        bad: 10,
        fires: &[lt!("not-object-neighbour")],
        // 42, "AKIA…", null, true, [record] in Records; {"Records": "AKIA…"}; a top-level
        // array of records; 42, "a string" and null as NDJSON lines.
        bad_errors: &[
            NOT_OBJECT, NOT_OBJECT, NOT_OBJECT, NOT_OBJECT, NOT_OBJECT, UNKNOWN, NOT_OBJECT, NOT_OBJECT,
            NOT_OBJECT, NOT_OBJECT,
        ],
        ..OK
    },
    // A scalar where the first document should be: the whole input is not JSON.
    Case {
        file: "scalar-first.jsonl",
        error: Some(NOT_JSON),
        ..OK
    },
    // A UTF-8 byte order mark is not JSON (serde_json and Python reject it too).
    Case {
        file: "bom.jsonl",
        error: Some(NOT_JSON),
        ..OK
    },
    Case {
        file: "wrong-types.jsonl",
        records: 10,
        bad: 1,
        fires: &[
            lt!("wrong-types-akia"),
            "irsa-assume-failure wrong-types-nested",
            lt!("bad-times"),
            lt!("far-future"),
            lt!("far-past"),
            lt!("wrong-types-neighbour"),
        ],
        // 2^64 parses (simd-json's `big-int-as-float`: a huge integer must not make a record
        // unreadable); 1e400 overflows f64 and is still rejected, so that record is bad.
        bad_errors: &["invalid JSON: InvalidNumber"],
        ..OK
    },
    Case {
        file: "deep-nesting.jsonl.gz",
        records: 3,
        bad: 1,
        fires: &[lt!("deep-arrays"), lt!("deep-objects"), lt!("deep-neighbour")],
        bad_errors: &[NOT_OBJECT],
        ..OK
    },
    // 306 KB, past CloudTrail's own 256 KB but within max_record_bytes (1 MiB).
    Case {
        file: "big-record-300k.jsonl.gz",
        records: 2,
        fires: &[lt!("big-300k"), lt!("big-neighbour")],
        ..OK
    },
    Case {
        file: "concatenated.jsonl",
        records: 3,
        fires: &[lt!("concat-1"), lt!("concat-2"), lt!("crlf-line")],
        ..OK
    },
    Case {
        file: "stray-delimiters.jsonl",
        records: 2,
        bad: 3,
        fires: &[lt!("stray-before"), lt!("stray-after")],
        bad_errors: &["invalid JSON", "invalid JSON", "invalid JSON"],
        ..OK
    },
    Case {
        file: "records-unterminated.jsonl",
        error: Some(TRUNCATED),
        records: 1,
        fires: &[lt!("unterminated-first")],
        ..OK
    },
    Case {
        file: "unterminated-string.jsonl",
        error: Some(TRUNCATED),
        records: 1,
        fires: &[lt!("string-first")],
        ..OK
    },
    // encodings
    Case {
        file: "invalid-utf8.jsonl",
        records: 6,
        bad: 5,
        // A lone surrogate escape (high, low, or high before a non-surrogate escape) reads
        // as U+FFFD, as in the skim: the call is kept whatever its user agent. Invalid
        // UTF-8 bytes and bad hex are rejected.
        fires: &[
            lt!("lone-high"),
            lt!("lone-high-then-text"),
            lt!("lone-low"),
            lt!("high-then-non-low"),
            lt!("surrogate-pair"),
            lt!("utf8-neighbour"),
        ],
        bad_errors: &[
            "InvalidUtf8",
            "InvalidUtf8",
            "InvalidUtf8",
            "InvalidUtf8",
            "InvalidUnicodeCodepoint",
        ],
        ..OK
    },
    // Within a record the last duplicate wins (as in serde_json and JSON.parse); of two
    // `Records` keys the first wins and the second array is not read (nor counted).
    Case {
        file: "duplicate-keys.jsonl",
        records: 6,
        fires: &[
            lt!("dup-identity-akia-last"),
            lt!("dup-event-id-2"),
            lt!("dup-records-1"),
            lt!("dup-doc-1"),
        ],
        ..OK
    },
    // misleading names: content decides
    Case {
        file: "111122223333_CloudTrail_ap-southeast-1_20261130T1000Z_DigestInDisguise.jsonl.gz",
        skipped_file: true,
        ..OK
    },
    Case {
        file: "111122223333_CloudTrail_ap-southeast-1_20261130T1005Z_InsightInDisguise.jsonl.gz",
        records: 1,
        skipped_records: 1,
        fires: &[lt!("insight-neighbour")],
        ..OK
    },
    // bare, EventBridge "AWS Insight via CloudTrail", and as a CloudWatch Logs message
    Case {
        file: "insight-shapes.jsonl",
        records: 1,
        skipped_records: 3,
        fires: &[lt!("insight-shapes-neighbour")],
        ..OK
    },
    Case {
        file: "awslogs-bad.jsonl",
        records: 2,
        bad: 10,
        fires: &[lt!("awslogs-inner"), lt!("awslogs-neighbour")],
        bad_errors: &[
            "bad awslogs data: base64: Invalid symbol 33",
            "bad awslogs data: not gzip and not JSON",
            "bad awslogs data: corrupt gzip data",
            "bad awslogs data: base64: Invalid padding",
            "bad awslogs data: base64: Invalid symbol 45", // URL-safe alphabet
            "bad awslogs data: base64: Invalid symbol 10", // MIME line breaks
            UNKNOWN,                                       // "data": 5
            "invalid JSON",                                // messages of the valid payload:
            NOT_OBJECT,                                    // "hello, not json" and "42"
            "bad awslogs data: nested awslogs envelope",
        ],
        ..OK
    },
    // hostile content (what the findings hold is checked below)
    Case {
        file: "hostile-strings.jsonl.gz",
        records: 7,
        fires: &[
            lt!("hostile-akia-1"),
            lt!("hostile-akia-2"),
            "irsa-assume-failure hostile-irsa",
            "pod-identity-failure hostile-pod-identity",
            "imdsv1-credential-use hostile-pod-identity",
            "imdsv1-credential-use hostile-imdsv1",
            "identity-config-change hostile-config-change",
            lt!("hostile-config-change"),
            "identity-config-change hostile-pod-association",
            lt!("hostile-pod-association"),
        ],
        ..OK
    },
    Case {
        file: "credential-canary.jsonl",
        records: 4,
        fires: &[lt!("canary-secrets"), "irsa-assume-failure canary-irsa-failed"],
        ..OK
    },
];

#[test]
fn every_committed_case_names_its_error_or_counts_its_skip() {
    let engine = engine();
    let mut failures = Vec::new();
    for case in CASES {
        let run = process(&engine, &read_case(case.file)[..]);
        let s = &run.stats;
        let mut problems = Vec::new();
        match (&run.error, case.error) {
            (None, None) => {}
            (Some(got), Some(want)) if got.contains(want) => {}
            (got, want) => problems.push(format!("error {got:?}, want {want:?}")),
        }
        let got = (s.records, s.bad_records, s.skipped_records, s.skipped_file);
        let want = (case.records, case.bad, case.skipped_records, case.skipped_file);
        if got != want {
            problems.push(format!(
                "(records, bad, skipped records, skipped file) {got:?}, want {want:?}"
            ));
        }
        if run.fired() != case.fires {
            problems.push(format!("fired {:?}, want {:?}", run.fired(), case.fires));
        }
        let errors_match = run.sink.bad.len() == case.bad_errors.len()
            && run
                .sink
                .bad
                .iter()
                .zip(case.bad_errors)
                .all(|(got, want)| got.contains(want));
        if !errors_match {
            problems.push(format!(
                "bad records reported as {:?}, want {:?}",
                run.sink.bad, case.bad_errors
            ));
        }
        if s.bad_records != run.sink.bad.len() as u64 {
            problems.push(format!(
                "{} bad records counted, {} reported",
                s.bad_records,
                run.sink.bad.len()
            ));
        }
        if !problems.is_empty() {
            failures.push(format!("{}:\n  {}", case.file, problems.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_committed_file_has_a_case() {
    let mut files: Vec<String> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "make_adversarial.py" && n != "README.md")
        .collect();
    files.sort();
    let mut listed: Vec<String> = CASES.iter().map(|c| c.file.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed, "samples/adversarial/ and CASES differ");
    // The golden test replays every .json/.json.gz/.ndjson[.gz] under samples/ and wants a
    // clean run: broken input must not carry those names.
    for f in &files {
        assert!(
            ![".json", ".json.gz", ".ndjson", ".ndjson.gz"]
                .iter()
                .any(|e| f.ends_with(e)),
            "{f} would be picked up by tests/golden.rs"
        );
    }
}

#[test]
fn odd_values_read_as_documented() {
    let run = process(&engine(), &read_case("invalid-utf8.jsonl")[..]);
    let ua = |id: &str| run.finding("long-term-access-key", id).user_agent.clone();
    // A lone surrogate is U+FFFD (simd-json alone would read `\ud800` as U+0000 and
    // fail the record on `\udc00`).
    assert_eq!(ua("lone-high").as_deref(), Some("\u{FFFD}"));
    assert_eq!(ua("lone-high-then-text").as_deref(), Some("\u{FFFD}tail"));
    assert_eq!(ua("lone-low").as_deref(), Some("\u{FFFD}"));
    assert_eq!(ua("high-then-non-low").as_deref(), Some("\u{FFFD}A"));
    assert_eq!(ua("surrogate-pair").as_deref(), Some("🚀"));

    let run = process(&engine(), &read_case("wrong-types.jsonl")[..]);
    let f = run.finding("long-term-access-key", "wrong-types-akia");
    // A field of the wrong type reads as absent; the key alone still fires.
    let absent = [
        ("user_agent", &f.user_agent),
        ("source_ip", &f.source_ip),
        ("region", &f.region),
        ("account", &f.account),
        ("first_seen", &f.first_seen),
        ("principal_arn", &f.principal_arn),
        ("error_code", &f.error_code),
        ("action", &f.action),
    ];
    for (name, value) in absent {
        assert_eq!(value, &None, "{name}");
    }
    let f = run.finding("irsa-assume-failure", "wrong-types-nested");
    assert_eq!(
        (
            f.role_arn.as_deref(),
            f.namespace.as_deref(),
            f.service_account.as_deref()
        ),
        (None, Some("shop"), Some("orders"))
    );
    // Not a time: no time in the finding, but the finding is made.
    let f = run.finding("long-term-access-key", "bad-times");
    assert_eq!(f.first_seen.as_deref(), Some("not a time"));
}

// ------------------------------------------------------------------ generated: limits

/// A reader of `prefix`, then `pattern` `times` times, then `suffix`, made as it is read.
struct Generated {
    parts: [Vec<u8>; 3],
    times: u64,
    part: usize,
    at: usize,
}

impl Generated {
    fn new(prefix: &[u8], pattern: &[u8], times: u64, suffix: &[u8]) -> Self {
        Self {
            parts: [prefix.to_vec(), pattern.to_vec(), suffix.to_vec()],
            times,
            part: 0,
            at: 0,
        }
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() && self.part < 3 {
            let src = &self.parts[self.part];
            let k = (src.len() - self.at).min(buf.len() - n);
            buf[n..n + k].copy_from_slice(&src[self.at..self.at + k]);
            (n, self.at) = (n + k, self.at + k);
            if self.at == src.len() {
                self.at = 0;
                if self.part == 1 && self.times > 1 {
                    self.times -= 1;
                } else {
                    self.part += 1;
                    if self.part == 1 && self.times == 0 {
                        self.part = 2;
                    }
                }
            }
        }
        Ok(n)
    }
}

/// `prefix`, `mib` MiB of spaces, `suffix` as gzip: ~1 KB per MiB. One compressed MiB
/// repeated as members (trailwatch always decodes multi-member), so that making it
/// costs one MiB of compression, not hundreds.
fn bomb(prefix: &[u8], mib: usize, suffix: &[u8]) -> Vec<u8> {
    let member = |data: &[u8]| {
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    };
    let spaces = member(&vec![b' '; 1 << 20]);
    let mut out = member(prefix);
    for _ in 0..mib {
        out.extend_from_slice(&spaces);
    }
    out.extend(member(suffix));
    out
}

#[test]
fn gzip_bomb_stops_at_max_decompressed_bytes() {
    let cap = 8 << 20;
    let engine = engine_with(&format!("[input]\nmax_decompressed_bytes = {cap}"));
    let prefix = format!(r#"{{"Records":[{},"#, canary("before-bomb"));
    let file = bomb(
        prefix.as_bytes(),
        256,
        format!("{}]}}", canary("after-bomb")).as_bytes(),
    );
    assert!(file.len() < 512 << 10, "{} bytes is no bomb", file.len());
    let run = process(&engine, &file[..]);
    let error = run.error.as_deref().unwrap_or_default();
    assert!(
        error.contains("exceeds the limit of 8388608 bytes (max_decompressed_bytes)"),
        "{error:?}"
    );
    assert!(
        run.stats.bytes <= cap,
        "read {} bytes past the cap",
        run.stats.bytes
    );
    assert_eq!(run.fired(), [lt!("before-bomb")]);
    // The same on two threads, whose decode thread reads the gzip members itself.
    let mut two = Collect::default();
    let piped = engine.process_pipelined(&file[..], &MemoryStore::new(), &mut two);
    let piped = piped.expect_err("the cap holds on two threads");
    assert_eq!((piped.to_string(), piped.stats), (error.to_string(), run.stats));

    // Inside a CloudWatch Logs envelope the cap applies to the payload: the envelope is a
    // bad record, the file goes on.
    let payload = bomb(br#"{"messageType":"DATA_MESSAGE","logEvents":["#, 256, b"]}");
    let envelope = json!({"awslogs": {"data": base64::engine::general_purpose::STANDARD.encode(&payload)}});
    let input = format!("{envelope}\n{}\n", canary("after-awslogs-bomb"));
    let run = process(&engine, input.as_bytes());
    assert_eq!(run.error, None);
    assert_eq!(run.fired(), [lt!("after-awslogs-bomb")]);
    assert_eq!(run.sink.bad.len(), 1, "{:?}", run.sink.bad);
    assert!(
        run.sink.bad[0].contains("bad awslogs data: decompressed size exceeds the limit"),
        "{:?}",
        run.sink.bad
    );
}

#[test]
fn a_million_tiny_records_stream_through() {
    const N: u64 = 1_000_000;
    let tiny = br#"{"eventName":"GetObject","eventSource":"s3.amazonaws.com"},"#;
    let suffix = format!("{}]}}", canary("after-a-million"));
    let input = Generated::new(br#"{"Records":["#, tiny, N, suffix.as_bytes());
    let run = process(&engine(), input);
    assert_eq!(run.error, None);
    assert_eq!((run.stats.records, run.stats.bad_records), (N + 1, 0));
    assert_eq!(run.fired(), [lt!("after-a-million")]);
}

#[test]
fn records_past_max_record_bytes_are_skipped_and_counted() {
    // Default limit (1 MiB): a 2 MiB record is skipped, its neighbours are not.
    let mut big = canary("two-mib");
    big["requestParameters"] = json!({"blob": "x".repeat(2 << 20)});
    let input =
        serde_json::to_vec(&json!({"Records": [canary("before-big"), big, canary("after-big")]})).unwrap();
    let run = process(&engine(), &input[..]);
    assert_eq!(run.error, None);
    assert_eq!(run.fired(), [lt!("before-big"), lt!("after-big")]);
    assert_eq!(run.sink.bad, ["record longer than max_record_bytes; skipped"]);

    // The boundary: exactly max_record_bytes is kept, one byte more is not.
    let engine = engine_with("[input]\nmax_record_bytes = 4096");
    let sized = |id: &str, len: usize| {
        let mut r = canary(id);
        r["requestParameters"] = json!({"pad": ""});
        let base = r.to_string().len();
        r["requestParameters"] = json!({"pad": "p".repeat(len - base)});
        let text = r.to_string();
        assert_eq!(text.len(), len);
        text
    };
    for (len, kept) in [(4096, true), (4097, false)] {
        for shape in ["records", "document"] {
            let record = sized("sized", len);
            let input = match shape {
                "records" => format!(r#"{{"Records":[{record}]}}"#),
                _ => record,
            };
            let run = process(&engine, input.as_bytes());
            assert_eq!(
                (run.stats.records, run.stats.bad_records),
                (u64::from(kept), u64::from(!kept)),
                "{len} bytes as a {shape}"
            );
        }
    }
}

/// A saved queue message (what an SQS-triggered reader gets) replayed by mistake says what it
/// is, is a bad record rather than a record, and costs the records beside it nothing.
#[test]
fn notifications_are_named_not_counted_as_records() {
    let s3_event = json!({"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "ap-southeast-1",
        "eventTime": "2026-11-30T10:05:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AROAEXAMPLE:regionalDeliverySession"},
        "s3": {"bucket": {"name": "trail-logs"}, "object": {"key": "AWSLogs/x.json.gz", "size": 1024}}});
    let delivery =
        json!({"s3Bucket": "trail-logs", "s3ObjectKey": ["AWSLogs/a.json.gz", "AWSLogs/b.json.gz"]});
    let sns = |message: &Value| {
        json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:ap-southeast-1:111122223333:t",
               "Message": message.to_string(), "Timestamp": "2026-11-30T10:05:01.000Z"})
    };
    let hostile = json!({"s3Bucket": "Evil\u{1b}[31m", "s3ObjectKey": ["k"]});
    let good = canary("good");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "S3 event, streamed",
            json!({"Records": [s3_event, good]}).to_string(),
            "an S3 event notification, not a CloudTrail log",
        ),
        (
            "S3 event, Records not first",
            format!(r#"{{"x":1,"Records":[{s3_event},{good}]}}"#),
            "an S3 event notification, not a CloudTrail log",
        ),
        (
            "delivery notification",
            format!("{delivery}\n{good}"),
            "CloudTrail's delivery notification of 2 log files in s3://trail-logs, not a CloudTrail log",
        ),
        (
            "in SNS",
            format!("{}\n{good}", sns(&delivery)),
            "CloudTrail's SNS notification of 2 log files in s3://trail-logs, not a CloudTrail log",
        ),
        (
            "other SNS",
            format!("{}\n{good}", sns(&json!({"a": 1}))),
            "an SNS notification, not a CloudTrail log",
        ),
        (
            "hostile bucket",
            format!("{hostile}\n{good}"),
            "CloudTrail's delivery notification of 1 log file, not a CloudTrail log",
        ),
    ];
    for (name, input, error) in cases {
        let run = process(&engine(), input.as_bytes());
        assert_eq!(run.error, None, "{name}");
        assert_eq!(
            (run.stats.records, run.stats.bad_records),
            (1, 1),
            "{name}: {:?}",
            run.sink.bad
        );
        assert_eq!(run.fired(), ["long-term-access-key good"], "{name}");
        assert!(run.sink.bad[0].starts_with(error), "{name}: {:?}", run.sink.bad);
    }
}

// ------------------------------------------------------------------ generated: nesting

const DEPTH: usize = 100_000;

/// Runs `f` on a thread with a small stack: 100 000 levels of recursion would need
/// far more, so anything that recurses per level of nesting crashes here.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(512 << 10)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

fn deep_arrays(n: usize) -> String {
    format!("{}1{}", "[".repeat(n), "]".repeat(n))
}

fn deep_objects(n: usize) -> String {
    format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n))
}

/// `(kind, length)` of every piece the splitter cuts from `input`, or the error.
fn split(input: &[u8], max: usize) -> Result<Vec<(PieceKind, usize)>, String> {
    let mut splitter = Splitter::new(input, max);
    let mut out = Vec::new();
    while let Some((kind, bytes)) = splitter.next_piece().map_err(|e| e.to_string())? {
        out.push((kind, bytes.len()));
    }
    Ok(out)
}

#[test]
fn deep_nesting_needs_no_stack_in_the_splitter() {
    on_small_stack(|| {
        let arrays = deep_arrays(DEPTH);
        let objects = deep_objects(DEPTH);
        let neighbour = canary("n").to_string();
        let records = format!(r#"{{"Records":[{arrays},{objects},{neighbour}]}}"#);
        assert_eq!(
            split(records.as_bytes(), 1 << 20),
            Ok(vec![
                (PieceKind::Record, arrays.len()),
                (PieceKind::Record, objects.len()),
                (PieceKind::Record, neighbour.len()),
            ])
        );
        let documents = format!("{objects}\n{arrays}");
        assert_eq!(
            split(documents.as_bytes(), 1 << 20),
            Ok(vec![
                (PieceKind::Document, objects.len()),
                (PieceKind::Document, arrays.len())
            ])
        );
        let unclosed = format!(r#"{{"Records":[{}"#, "[".repeat(DEPTH));
        let error = split(unclosed.as_bytes(), 1 << 20).unwrap_err();
        assert!(error.contains(TRUNCATED), "{error}");
        // Ten times deeper is past max_record_bytes: dropped while scanning, not kept.
        let deeper = format!(r#"{{"Records":[{},{neighbour}]}}"#, deep_arrays(10 * DEPTH));
        assert_eq!(
            split(deeper.as_bytes(), 1 << 20),
            Ok(vec![
                (PieceKind::Oversized, 0),
                (PieceKind::Record, neighbour.len())
            ])
        );
    });
}

#[test]
fn deep_nesting_needs_no_stack_in_the_parser() {
    on_small_stack(|| {
        let engine = engine();
        let mut in_params = canary("deep-params");
        in_params["requestParameters"] = json!("@DEEP@");
        let in_params = in_params.to_string().replace(r#""@DEEP@""#, &deep_objects(DEPTH));
        let mut in_identity = canary("deep-identity");
        in_identity["userIdentity"]["sessionContext"] = json!("@DEEP@");
        let in_identity = in_identity
            .to_string()
            .replace(r#""@DEEP@""#, &deep_arrays(DEPTH));
        let cases: [(&str, Vec<u8>, &[&str], u64); 5] = [
            (
                "records",
                format!(
                    r#"{{"Records":[{in_params},{in_identity},{}]}}"#,
                    deep_arrays(DEPTH)
                )
                .into_bytes(),
                &[lt!("deep-params"), lt!("deep-identity")],
                1,
            ),
            (
                "ndjson",
                format!("{in_params}\n{in_identity}\n{}\n", deep_objects(DEPTH)).into_bytes(),
                &[lt!("deep-params"), lt!("deep-identity")],
                1,
            ),
            (
                "eventbridge",
                format!(r#"{{"detail-type":"AWS API Call via CloudTrail","detail":{in_params}}}"#)
                    .into_bytes(),
                &[lt!("deep-params")],
                0,
            ),
            (
                "records not first",
                format!(r#"{{"x":{},"Records":[{in_identity}]}}"#, deep_arrays(DEPTH)).into_bytes(),
                &[lt!("deep-identity")],
                0,
            ),
            ("gzip", gzip(in_params.as_bytes()), &[lt!("deep-params")], 0),
        ];
        for (name, input, fires, bad) in cases {
            let run = process(&engine, &input[..]);
            assert_eq!(run.error, None, "{name}");
            assert_eq!(run.fired(), fires, "{name}");
            assert_eq!(run.stats.bad_records, bad, "{name}: {:?}", run.sink.bad);
        }
    });
}

// ------------------------------------------------------------------ regressions (fuzz)

/// Pieces the splitter cuts from `input` read `step` bytes at a time.
fn split_chunked(input: &[u8], step: usize, max: usize) -> Vec<String> {
    struct Chunked<'a>(&'a [u8], usize);
    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let mut splitter = Splitter::new(Chunked(input, step), max);
    let mut out = Vec::new();
    loop {
        match splitter.next_piece() {
            Ok(Some((kind, bytes))) => out.push(format!("{kind:?} {}", String::from_utf8_lossy(bytes))),
            Ok(None) => return out,
            Err(e) => {
                out.push(format!("error: {e}"));
                return out;
            }
        }
    }
}

/// Found by the `splitter` fuzz target: a bare scalar longer than the limit that runs to
/// the end of the input came out as a `Document` of its last few bytes (or of none)
/// instead of `Oversized`.
#[test]
fn oversized_bare_value_at_end_of_input_is_oversized() {
    let long = "9".repeat(40);
    for step in [1, 2, 3, 7, 16, 17, 1000] {
        let input = format!("{{}}\n{long}");
        assert_eq!(
            split_chunked(input.as_bytes(), step, 16),
            ["Document {}", "Oversized "],
            "{step}-byte reads"
        );
        let input = format!("{{}}\n{}", &long[..16]);
        assert_eq!(
            split_chunked(input.as_bytes(), step, 16),
            ["Document {}", &format!("Document {}", &long[..16])],
            "{step}-byte reads, at the limit"
        );
    }
    // Through the engine it is reported as too long, not as a fragment that does not parse.
    let engine = engine_with("[input]\nmax_record_bytes = 1024");
    let input = format!("{}\n{}", canary("before-long-scalar"), "7".repeat(5000));
    let run = process(&engine, input.as_bytes());
    assert_eq!(run.fired(), [lt!("before-long-scalar")]);
    assert_eq!(run.sink.bad, ["record longer than max_record_bytes; skipped"]);
}

/// Found while fixing the above: after an oversized bare value's bytes were dropped, a
/// delimiter at the start of the next read was taken into the value, so the `]` closing
/// `Records` vanished, the rest of the file was cut as records and the file failed.
#[test]
fn oversized_bare_value_does_not_swallow_the_closing_bracket() {
    let input = format!(r#"{{"Records":[{{"a":1}},{}]}}{{"b":2}}"#, "x".repeat(40));
    for step in 1..=24 {
        assert_eq!(
            split_chunked(input.as_bytes(), step, 16),
            ["Record {\"a\":1}", "Oversized ", "Document {\"b\":2}"],
            "{step}-byte reads"
        );
    }
    let engine = engine_with("[input]\nmax_record_bytes = 1024");
    let input = format!(
        "{{\"Records\":[{},{}]}}\n{}\n",
        canary("in-batch"),
        "x".repeat(5000),
        json!({"detail-type": "AWS API Call via CloudTrail", "detail": canary("next-document")})
    );
    let run = process(&engine, input.as_bytes());
    assert_eq!(run.error, None);
    assert_eq!(run.fired(), [lt!("in-batch"), lt!("next-document")]);
    assert_eq!(run.sink.bad, ["record longer than max_record_bytes; skipped"]);
}

/// Found while reading the fuzzers' bad-record reports: simd-json's message quotes the
/// offending input character (`ExpectedObjectKey at character 7 ('\x1b')`), so a raw
/// escape or control character from the input reached stderr.
#[test]
fn invalid_json_errors_escape_control_characters() {
    let cases: [&[u8]; 5] = [
        b"{\"Records\":[{\"a\":1,\x1b[2J}]}",
        b"{\"Records\":[{\"a\":1 \x1b}]}",
        b"{\"Records\":[\x07]}",
        b"{}\n\x1b[31m\n",
        b"{\"Records\":[{\"a\":1}\x08]}",
    ];
    for input in cases {
        let run = process(&engine(), input);
        assert!(!run.sink.bad.is_empty(), "{input:?}");
        for message in &run.sink.bad {
            assert!(!message.chars().any(char::is_control), "{input:?}: {message:?}");
        }
    }
    let run = process(&engine(), &b"{\"Records\":[{\"a\":1 \x1b}]}"[..]);
    assert_eq!(run.sink.bad, ["invalid JSON: malformed JSON near byte 7"]);
}

// ------------------------------------------------------------------ redaction, hostile strings

/// What every finding must hold whatever the input (also checked by the fuzz targets).
fn check_finding(f: &Value) -> Result<(), String> {
    let obj = f.as_object().ok_or("not an object")?;
    for (key, value) in obj {
        let strings: Vec<&str> = match value {
            Value::String(s) => vec![s],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        // `clean` caps what it returns, escapes and '…' included; texts are a few cleaned
        // values in a sentence.
        let max = match key.as_str() {
            "role_arn" | "principal_arn" => MAX_ARN_CHARS,
            "title" | "summary" | "diagnosis" | "remediation" => 8 * MAX_ARN_CHARS,
            _ => MAX_FIELD_CHARS,
        };
        for s in strings {
            if s.chars().count() > max {
                return Err(format!("{key}: {} characters > {max}", s.chars().count()));
            }
            if let Some(c) = s.chars().find(|c| c.is_control()) {
                return Err(format!("{key}: control character {c:?} in {s:?}"));
            }
            if let Some(c) = s.chars().find(|&c| is_invisible(c)) {
                return Err(format!("{key}: invisible character {c:?} in {s:?}"));
            }
        }
    }
    Ok(())
}

/// Hostile variants made here, on top of the committed file: ids and error codes too.
fn hostile_records() -> Vec<u8> {
    let h = format!(
        "evil\"\\\n\r\t\u{0}\u{7}\u{1b}[31mRED [x](http://evil) `x` {}",
        "B".repeat(100_000)
    );
    let mut by_id = canary(&format!("hostile-id{h}"));
    by_id["errorCode"] = json!(h);
    let mut burst = Vec::new();
    for i in 0..12 {
        let mut r = canary(&format!("burst-{i}"));
        r["errorCode"] = json!("AccessDenied");
        r["errorMessage"] = json!(h);
        r["userIdentity"] = json!({"type": "AssumedRole", "accessKeyId": "ASIAIOSFODNN7EXAMPLE",
                                    "arn": format!("arn:aws:sts::111122223333:assumed-role/app/{h}")});
        burst.push(r);
    }
    let records: Vec<Value> = [by_id].into_iter().chain(burst).collect();
    let mut out = read_case("hostile-strings.jsonl.gz");
    out.extend(gzip(json!({ "Records": records }).to_string().as_bytes()));
    out
}

#[test]
fn hostile_strings_are_capped_and_escaped_in_findings() {
    for toml in ["", CLUSTER_TOML] {
        let run = process(&engine_with(toml), &hostile_records()[..]);
        assert_eq!(run.error, None);
        assert_eq!(run.stats.bad_records, 0, "{:?}", run.sink.bad);
        let detections: std::collections::BTreeSet<_> =
            run.sink.findings.iter().map(|f| f.detection).collect();
        for want in [
            "long-term-access-key",
            "irsa-assume-failure",
            "pod-identity-failure",
            "imdsv1-credential-use",
            "identity-config-change",
            "access-denied-burst",
        ] {
            assert!(detections.contains(want), "{want} did not fire: {detections:?}");
        }
        for finding in &run.sink.findings {
            let text = serde_json::to_string(finding).unwrap();
            let back: Value = serde_json::from_str(&text).unwrap();
            check_finding(&back)
                .unwrap_or_else(|e| panic!("{} {:?}: {e}", finding.detection, finding.event_ids));
            assert!(
                !text.contains(&"B".repeat(MAX_ARN_CHARS + 1)),
                "uncapped: {}",
                finding.detection
            );
        }
    }
}

#[test]
fn credentials_never_reach_findings() {
    for toml in ["", CLUSTER_TOML] {
        let run = process(&engine_with(toml), &read_case("credential-canary.jsonl")[..]);
        assert!(!run.sink.findings.is_empty());
        let text = serde_json::to_string(&run.sink.findings).unwrap();
        for secret in [SECRET_CANARY, ISSUED_KEY] {
            assert!(
                !text.contains(secret),
                "{secret} in a finding (config {toml:?}): {text}"
            );
        }
    }
    // With the cluster, the stitched credential's outside use fires too: those findings
    // carry the workload, still not the key.
    let run = process(
        &engine_with(CLUSTER_TOML),
        &read_case("credential-canary.jsonl")[..],
    );
    let f = run.finding("workload-credential-exfiltration", "canary-stitched");
    assert_eq!(
        (f.namespace.as_deref(), f.service_account.as_deref()),
        (Some("shop"), Some("orders"))
    );
}

// ------------------------------------------------------------------ the CLI

fn trailwatch(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn event_ids(alerts: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = alerts
        .iter()
        .flat_map(|a| a["event_ids"].as_array().unwrap().iter())
        .map(|id| id.as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn copy_case(name: &str, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::write(to, read_case(name)).unwrap();
}

#[test]
fn replay_of_a_bad_file_beside_a_good_one_exits_2_and_reports_the_good_one() {
    let dir = tempfile::tempdir().unwrap();
    copy_case(
        "truncated-gzip.jsonl.gz",
        &dir.path().join("logs/a-truncated.json.gz"),
    );
    copy_case("good-canary.jsonl", &dir.path().join("logs/b-good.json"));
    let out = trailwatch(&["replay", "--format", "json", "logs"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("a-truncated.json.gz: corrupt gzip data: incomplete deflate stream"),
        "{stderr}"
    );
    // One alert (same key, principal, address and window), both events in it.
    assert_eq!(
        event_ids(&json_lines(&out.stdout)),
        ["good-canary", "truncated-before-cut"]
    );
    let summary = json_lines(&out.stderr).pop().unwrap();
    assert_eq!(
        (
            summary["summary"]["files"].as_u64(),
            summary["summary"]["failed_files"].as_u64()
        ),
        (Some(2), Some(1)),
        "{summary}"
    );
}

#[test]
fn replay_of_the_adversarial_directory_agrees_with_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let out = trailwatch(
        &["replay", "--format", "json", corpus().to_str().unwrap()],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for case in CASES {
        if let Some(error) = case.error {
            let want = format!("{}: {error}", case.file);
            assert!(stderr.contains(&want), "stderr lacks {want:?}:\n{stderr}");
        }
    }
    let summary = &json_lines(&out.stderr).pop().unwrap()["summary"];
    let sum = |f: fn(&Case) -> u64| CASES.iter().map(f).sum::<u64>();
    let want = BTreeMap::from([
        ("files", CASES.len() as u64),
        ("records", sum(|c| c.records)),
        ("bad_records", sum(|c| c.bad)),
        ("skipped_records", sum(|c| c.skipped_records)),
        ("skipped_files", sum(|c| u64::from(c.skipped_file))),
        ("failed_files", sum(|c| u64::from(c.error.is_some()))),
        ("findings", sum(|c| c.fires.len() as u64)),
    ]);
    let got: BTreeMap<&str, u64> = want.keys().map(|&k| (k, summary[k].as_u64().unwrap())).collect();
    assert_eq!(got, want, "{summary}");
    for alert in json_lines(&out.stdout) {
        check_finding(&alert).unwrap_or_else(|e| panic!("{e}: {alert}"));
    }
}

#[test]
fn replay_of_file_names_with_spaces_and_percent_encoding() {
    let dir = tempfile::tempdir().unwrap();
    // As an S3 key arrives URL-encoded in an event, and as it is named once decoded.
    let day = "AWSLogs/111122223333/CloudTrail/ap-southeast-1/2026/11/30";
    let names = [
        "111122223333_CloudTrail_ap-southeast-1_20261130T1000Z_a b%3Dc+d.json.gz",
        "111122223333_CloudTrail_ap-southeast-1_20261130T1005Z_x=y z.json.gz",
    ];
    for name in names {
        std::fs::create_dir_all(dir.path().join(day)).unwrap();
        std::fs::write(
            dir.path().join(day).join(name),
            gzip(canary(name).to_string().as_bytes()),
        )
        .unwrap();
    }
    let explicit = format!("{day}/{}", names[0]);
    for path in ["AWSLogs", explicit.as_str()] {
        let out = trailwatch(&["replay", "--format", "json", path], dir.path());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ids = event_ids(&json_lines(&out.stdout));
        let want: &[&str] = if path == "AWSLogs" { &names } else { &names[..1] };
        assert_eq!(ids, want, "{path}");
    }
}

#[test]
fn replay_skips_a_digest_named_like_a_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let day = dir
        .path()
        .join("AWSLogs/111122223333/CloudTrail/ap-southeast-1/2026/11/30");
    copy_case(
        "111122223333_CloudTrail_ap-southeast-1_20261130T1000Z_DigestInDisguise.jsonl.gz",
        &day.join("111122223333_CloudTrail_ap-southeast-1_20261130T1000Z_DigestInDisguise.json.gz"),
    );
    copy_case(
        "111122223333_CloudTrail_ap-southeast-1_20261130T1005Z_InsightInDisguise.jsonl.gz",
        &day.join("111122223333_CloudTrail_ap-southeast-1_20261130T1005Z_InsightInDisguise.json.gz"),
    );
    let out = trailwatch(&["replay", "--format", "json", "AWSLogs"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(event_ids(&json_lines(&out.stdout)), ["insight-neighbour"]);
    let summary = &json_lines(&out.stderr).pop().unwrap()["summary"];
    assert_eq!(
        (
            summary["files"].as_u64(),
            summary["skipped_files"].as_u64(),
            summary["skipped_records"].as_u64(),
            summary["records"].as_u64()
        ),
        (Some(2), Some(1), Some(1), Some(1)),
        "{summary}"
    );
}

#[test]
fn replay_output_never_holds_credentials_or_raw_hostile_bytes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trailwatch.toml"), CLUSTER_TOML).unwrap();
    std::fs::write(
        dir.path().join("credentials.jsonl"),
        read_case("credential-canary.jsonl"),
    )
    .unwrap();
    std::fs::write(dir.path().join("hostile.jsonl.gz"), hostile_records()).unwrap();
    // Bad records are reported on stderr: with control characters in them.
    std::fs::write(
        dir.path().join("broken.jsonl"),
        b"{\"Records\":[{\"a\":1 \x1b}, \x07]}\n",
    )
    .unwrap();
    for format in ["text", "json"] {
        let out = trailwatch(
            &[
                "replay",
                "--format",
                format,
                "credentials.jsonl",
                "hostile.jsonl.gz",
                "broken.jsonl",
            ],
            dir.path(),
        );
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(0), "{format}: {stderr}");
        for (stream, text) in [("stdout", &stdout), ("stderr", &stderr)] {
            for secret in [SECRET_CANARY, ISSUED_KEY] {
                assert!(!text.contains(secret), "{format} {stream} holds {secret}");
            }
            // Not a terminal: no colour either, so any control character came from input;
            // bidi overrides and the like would reorder what a reader sees.
            let control = text.chars().find(|&c| c.is_control() && c != '\n');
            assert_eq!(control, None, "{format} {stream}");
            let invisible = text.chars().find(|&c| is_invisible(c));
            assert_eq!(invisible, None, "{format} {stream}");
            assert!(
                !text.contains(&"B".repeat(MAX_ARN_CHARS + 1)),
                "{format} {stream}: uncapped string"
            );
            let longest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
            assert!(
                longest < 16 << 10,
                "{format} {stream}: a {longest}-character line"
            );
        }
        assert!(
            stderr.contains("broken.jsonl: record 1 skipped: invalid JSON"),
            "{stderr}"
        );
        if format == "json" {
            let alerts = json_lines(&out.stdout);
            assert!(alerts.len() >= 8, "{} alerts", alerts.len());
            for alert in alerts {
                check_finding(&alert).unwrap_or_else(|e| panic!("{e}: {alert}"));
            }
        } else {
            assert!(stdout.contains("long-term-access-key") && stdout.contains("irsa-assume-failure"));
        }
    }
}
