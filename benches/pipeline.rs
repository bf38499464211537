//! Criterion benches of each stage of trailwatch and of the whole pipeline, in bytes/s.
//!
//! The input is one synthetic CloudTrail document from [`trailwatch::synth`] (seed 1,
//! 16 MB uncompressed by default; `TRAILWATCH_BENCH_BYTES=64000000` for another size),
//! and its gzip level 6 form, made once per process before any timing. Every throughput
//! counts **uncompressed** JSON bytes, so the figures of all groups compare directly:
//! `pipeline/process` over `decode/drain` is the single-core ratio of issue 6.
//!
//! | group | what is timed |
//! |---|---|
//! | `decode` | gunzip to nowhere ([`trailwatch::decode::drain`]): the speed limit |
//! | `split` | cutting the plain document into records ([`trailwatch::decode::Splitter`]) |
//! | `parse` | one record at a time: the skim (the engine's path) and the simd-json tape, side by side on the same bytes; a fresh copy of the records is made before each timed pass, outside the timing, since the tape unescapes in place |
//! | `detect` | the detections over records parsed beforehand: stateless only, and all with a fresh in-memory state store per pass |
//! | `pipeline` | [`trailwatch::Engine`] on the gzip bytes in memory: one thread, and decompression on a second thread |
//!
//! Run: `cargo bench --bench pipeline` (about a minute), `-- --quick` for a faster
//! look, or `-- parse` for one group.

// criterion_group!/criterion_main! generate undocumented public items.
#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::{
    BatchSize, BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
    measurement::WallTime,
};
use trailwatch::decode::{self, PieceKind, Splitter};
use trailwatch::detect::{Cache, Detectors};
use trailwatch::engine::EventTimes;
use trailwatch::record::{self, Parser, RecordView};
use trailwatch::state::MemoryStore;
use trailwatch::synth::{SynthOptions, write_gzip, write_records};
use trailwatch::{Config, Engine, Finding, Inventory};

const DEFAULT_BYTES: u64 = 16_000_000;
const SEED: u64 = 1;
/// No cap that matters here (the engine's default is 4 GiB).
const LIMIT: u64 = u64::MAX;
/// The engine's default record limit.
const MAX_RECORD: usize = 1 << 20;

/// The generated input, shared by every group.
struct Input {
    /// The uncompressed document.
    plain: Vec<u8>,
    /// The same document, gzip level 6.
    gzip: Vec<u8>,
    /// The records of `plain` as the splitter cuts them, back to back.
    records: Vec<u8>,
    /// Length of each record in `records`.
    lengths: Vec<usize>,
}

impl Input {
    fn get() -> &'static Input {
        static INPUT: OnceLock<Input> = OnceLock::new();
        INPUT.get_or_init(|| {
            let bytes = std::env::var("TRAILWATCH_BENCH_BYTES")
                .ok()
                .map(|s| s.parse().expect("TRAILWATCH_BENCH_BYTES: a number of bytes"))
                .unwrap_or(DEFAULT_BYTES);
            let opts = SynthOptions { bytes, seed: SEED };
            let mut plain = Vec::with_capacity(bytes as usize);
            let stats = write_records(&mut plain, &opts).unwrap();
            let mut gzip = Vec::new();
            write_gzip(&mut gzip, &opts).unwrap();
            let (mut records, mut lengths) = (Vec::with_capacity(plain.len()), Vec::new());
            let mut splitter = Splitter::new(&plain[..], MAX_RECORD);
            while let Some((kind, piece)) = splitter.next_piece().unwrap() {
                assert_eq!(kind, PieceKind::Record);
                records.extend_from_slice(piece);
                lengths.push(piece.len());
            }
            assert_eq!(lengths.len() as u64, stats.records);
            eprintln!(
                "input: {} records, {} bytes plain ({} in records), {} bytes gzip -6 (ratio {:.1})",
                stats.records,
                plain.len(),
                records.len(),
                gzip.len(),
                plain.len() as f64 / gzip.len() as f64,
            );
            Input {
                plain,
                gzip,
                records,
                lengths,
            }
        })
    }

    /// `records` cut at `lengths`, as disjoint mutable slices of `buf` (a copy of it).
    fn pieces<'b>(&self, buf: &'b mut [u8]) -> impl Iterator<Item = &'b mut [u8]> {
        let mut rest = buf;
        self.lengths.iter().map(move |&len| {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(len);
            rest = tail;
            head
        })
    }
}

fn inventory() -> Inventory {
    let text = include_str!("../samples/trailwatch.toml");
    Inventory::new(Config::from_toml(text).unwrap()).unwrap()
}

/// Per-group settings: iterations take milliseconds, so flat sampling and few samples.
fn group<'c>(c: &'c mut Criterion, name: &str, bytes: usize) -> BenchmarkGroup<'c, WallTime> {
    let mut g = c.benchmark_group(name);
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Bytes(bytes as u64));
    g
}

fn bench_decode(c: &mut Criterion) {
    let input = Input::get();
    let mut g = group(c, "decode", input.plain.len());
    g.bench_function("drain", |b| {
        b.iter(|| {
            let n = decode::drain(black_box(&input.gzip[..]), LIMIT).unwrap();
            assert_eq!(n, input.plain.len() as u64);
        });
    });
    g.finish();
}

fn bench_split(c: &mut Criterion) {
    let input = Input::get();
    let mut g = group(c, "split", input.plain.len());
    g.bench_function("records", |b| {
        b.iter(|| {
            let mut splitter = Splitter::new(black_box(&input.plain[..]), MAX_RECORD);
            let mut pieces = 0usize;
            while let Some((_, piece)) = splitter.next_piece().unwrap() {
                black_box(&piece);
                pieces += 1;
            }
            assert_eq!(pieces, input.lengths.len());
        });
    });
    g.finish();
}

/// Times `parse` over a fresh copy of every record, the copy made outside the timing.
fn time_over_copies(input: &Input, iters: u64, mut parse: impl FnMut(&mut [u8])) -> Duration {
    let mut scratch = input.records.clone();
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        scratch.copy_from_slice(&input.records);
        let start = Instant::now();
        for piece in input.pieces(&mut scratch) {
            parse(piece);
        }
        total += start.elapsed();
    }
    total
}

fn bench_parse(c: &mut Criterion) {
    let input = Input::get();
    let mut g = group(c, "parse", input.records.len());
    g.bench_function("skim", |b| {
        b.iter_custom(|iters| {
            let mut scratch = record::Scratch::new();
            time_over_copies(input, iters, |bytes| {
                let view = record::skim(bytes, &scratch).unwrap();
                black_box(&view);
                scratch.reset();
            })
        });
    });
    g.bench_function("tape", |b| {
        let mut parser = Parser::default();
        b.iter_custom(|iters| {
            time_over_copies(input, iters, |bytes| {
                let ok = parser
                    .parse(bytes, |v| {
                        RecordView::from_value(v).map(|view| black_box(&view).is_record())
                    })
                    .unwrap();
                assert_eq!(ok, Some(true));
            })
        });
    });
    // The tape alone, without reading a view out of it: what simd-json itself costs.
    g.bench_function("tape_fill_only", |b| {
        let mut parser = Parser::default();
        b.iter_custom(|iters| {
            time_over_copies(input, iters, |bytes| {
                parser
                    .parse(bytes, |v| {
                        black_box(v);
                    })
                    .unwrap();
            })
        });
    });
    g.finish();
}

fn bench_detect(c: &mut Criterion) {
    let input = Input::get();
    let detectors = Detectors::new(inventory()).unwrap();
    let mut parsed = input.records.clone();
    let scratch = record::Scratch::new();
    let views: Vec<RecordView<'_>> = input
        .pieces(&mut parsed)
        .map(|p| record::skim(p, &scratch).unwrap())
        .collect();
    let mut g = group(c, "detect", input.records.len());
    g.bench_function("stateless", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            let mut findings = 0usize;
            for view in &views {
                detectors.run(black_box(view), &mut out);
                findings += out.len();
                out.clear();
            }
            black_box(findings)
        });
    });
    g.bench_function("with_state", |b| {
        let mut out: Vec<Finding> = Vec::new();
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // What one input starts with: an empty store and cache (made untimed).
                let (store, mut cache, mut times) =
                    (MemoryStore::new(), Cache::default(), EventTimes::default());
                let start = Instant::now();
                for view in &views {
                    detectors
                        .run_with_state(black_box(view), &mut times, &store, &mut cache, &mut out)
                        .unwrap();
                    out.clear();
                }
                total += start.elapsed();
                black_box(times.count);
                // store and cache drop here, after the timing.
            }
            total
        });
    });
    g.finish();
}

fn bench_pipeline(c: &mut Criterion) {
    let input = Input::get();
    let engine = Engine::new(inventory()).unwrap();
    let mut g = group(c, "pipeline", input.plain.len());
    g.bench_function("process", |b| {
        b.iter_batched_ref(
            Vec::<Finding>::new,
            |sink| {
                let stats = engine.process(black_box(&input.gzip[..]), sink).unwrap();
                assert_eq!(stats.records as usize, input.lengths.len());
            },
            BatchSize::SmallInput,
        );
    });
    g.bench_function("process_pipelined", |b| {
        b.iter_batched_ref(
            || (MemoryStore::new(), Vec::<Finding>::new()),
            |(store, sink)| {
                let stats = engine
                    .process_pipelined(black_box(&input.gzip[..]), &*store, sink)
                    .unwrap();
                assert_eq!(stats.records as usize, input.lengths.len());
            },
            BatchSize::SmallInput,
        );
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_decode,
    bench_split,
    bench_parse,
    bench_detect,
    bench_pipeline
);
criterion_main!(benches);
