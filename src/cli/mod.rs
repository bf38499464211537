//! Argument parsing, input discovery and the replay loop.

mod r#gen;
mod output;

use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use trailwatch::alert::AlertBatch;
use trailwatch::decode::Stoppable;
use trailwatch::engine::{FileStats, Sink};
use trailwatch::record::RecordError;
use trailwatch::state::{MemoryStore, RedbStore, StateError, StateStore};
use trailwatch::{Config, Engine, Finding, Inventory, Severity};

use output::{Output, Totals};

/// Exit code: everything was read and no `--fail-on` finding.
pub const EXIT_OK: u8 = 0;
/// Exit code: bad usage or configuration.
pub const EXIT_USAGE: u8 = 1;
/// Exit code: some input could not be read (the rest was processed).
pub const EXIT_INPUT: u8 = 2;
/// Exit code: a finding at or above `--fail-on`.
pub const EXIT_FAIL_ON: u8 = 3;
/// Exit code: interrupted (Ctrl-C: SIGINT, 128 + 2); what was read before is reported.
pub const EXIT_INTERRUPTED: u8 = 130;
/// Exit code: terminated (SIGTERM, 128 + 15); what was read before is reported.
pub const EXIT_TERMINATED: u8 = 143;

/// How many skipped records of one input are reported one by one.
const BAD_RECORD_REPORTS: u64 = 5;

/// trailwatch: EKS workload-credential detections from AWS CloudTrail.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay CloudTrail logs (files, directories, `-` for stdin) through every detection.
    Replay(ReplayArgs),
    /// Write a synthetic CloudTrail log of a busy EKS account (benchmarks).
    Gen(r#gen::GenArgs),
}

#[derive(Debug, clap::Args)]
struct ReplayArgs {
    /// Configuration file (default: ./trailwatch.toml if present, else built-in defaults).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Exit 3 when an alert has at least this severity.
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
    /// Keep detection and alert state in DIR between runs (default: in memory, this run only).
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Threads per input: 2 decompresses on a thread of its own (default: 2 when the
    /// machine has two cores or more, else 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=2))]
    threads: Option<u8>,
    /// Only decompress each input and report the throughput: the speed limit of a replay.
    #[arg(long)]
    decode_only: bool,
    /// Files (.json, .json.gz, .ndjson[.gz], anything else is sniffed), directories, or `-`.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Readable report grouped by severity, with a summary table.
    Text,
    /// One finding per line on stdout; a summary line on stderr.
    Json,
}

/// Runs the command; `Err` only for usage and configuration errors.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Replay(args) => replay(args),
        Command::Gen(args) => r#gen::run(args),
    }
}

fn load_config(path: Option<&Path>) -> anyhow::Result<Inventory> {
    let default = Path::new("trailwatch.toml");
    let path = match path {
        Some(p) => Some(p),
        None if default.is_file() => Some(default),
        None => None,
    };
    let config = match path {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("cannot read config {}", p.display()))?;
            Config::from_toml(&text).with_context(|| format!("invalid config {}", p.display()))?
        }
        None => Config::default(),
    };
    let source = path.map_or_else(|| "built-in defaults".to_string(), |p| p.display().to_string());
    Inventory::new(config).with_context(|| format!("invalid config {source}"))
}

/// One input to replay.
#[derive(Debug)]
enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    fn name(&self) -> String {
        match self {
            Self::Stdin => "-".into(),
            Self::File(p) => p.display().to_string(),
        }
    }
}

/// Whether a file found while walking a directory looks like CloudTrail output.
fn is_log_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    [
        ".json",
        ".json.gz",
        ".ndjson",
        ".ndjson.gz",
        ".jsonl",
        ".jsonl.gz",
        ".gz",
    ]
    .iter()
    .any(|ext| name.ends_with(ext))
}

/// The `YYYYMMDDTHHMMZ` in the name of a CloudTrail log file
/// (`<account>_CloudTrail_<region>_<stamp>_<unique>.json.gz`): when the file's records
/// end, about.
fn cloudtrail_stamp(path: &Path) -> Option<&str> {
    let mut parts = path.file_name()?.to_str()?.split('_');
    let (_account, kind, _region, stamp) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let b = stamp.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    (kind == "CloudTrail" && b.len() == 14 && digits(0..8) && b[8] == b'T' && digits(9..13) && b[13] == b'Z')
        .then_some(stamp)
}

/// Puts the CloudTrail log files among the inputs (as the paths named them, directories
/// walked by path) in the order of the times in their names, in the places they took: by
/// path, an account's or a region's files follow one another in time, but an
/// organisation's or several regions' would be replayed one after another, as would
/// directories or files named one after another, and a detection that remembers (and the
/// memory store's sweep, which goes by the latest event time it has seen) would see time
/// jump back at each. Other inputs keep their places.
fn in_time_order(inputs: &mut [Input]) {
    let stamped = |input: &Input| match input {
        Input::File(path) if cloudtrail_stamp(path).is_some() => Some(path.clone()),
        _ => None,
    };
    let (slots, mut files): (Vec<usize>, Vec<PathBuf>) = inputs
        .iter()
        .enumerate()
        .filter_map(|(i, input)| stamped(input).map(|path| (i, path)))
        .unzip();
    files.sort_by(|a, b| (cloudtrail_stamp(a), a).cmp(&(cloudtrail_stamp(b), b)));
    for (slot, file) in slots.into_iter().zip(files) {
        inputs[slot] = Input::File(file);
    }
}

/// Expands paths into inputs; digest and Insights files are counted and left out.
fn discover(paths: &[PathBuf], totals: &mut Totals) -> Vec<Input> {
    let mut inputs = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(Input::Stdin);
        } else if path.is_dir() {
            let mut files = Vec::new();
            for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
                match entry {
                    Ok(e) if e.file_type().is_file() && is_log_file(e.path()) => {
                        if Engine::is_skipped_key(&e.path().to_string_lossy()) {
                            totals.skipped_files += 1;
                        } else {
                            files.push(e.into_path());
                        }
                    }
                    Ok(_) => {}
                    Err(e) => totals.fail(&path.display().to_string(), &e),
                }
            }
            inputs.extend(files.into_iter().map(Input::File));
        } else if Engine::is_skipped_key(&path.to_string_lossy()) {
            totals.skipped_files += 1;
        } else {
            inputs.push(Input::File(path.clone()));
        }
    }
    in_time_order(&mut inputs);
    inputs
}

/// Hands findings to the alert policy and reports skipped records of one input.
struct ReplaySink<'o> {
    output: &'o mut Output,
    batch: &'o mut AlertBatch,
    store: &'o dyn StateStore,
    input: String,
    state_error: Option<StateError>,
}

impl Sink for ReplaySink<'_> {
    fn finding(&mut self, finding: Finding) {
        if let Err(e) = self.batch.add(finding, self.store) {
            self.state_error.get_or_insert(e);
        }
    }

    fn bad_record(&mut self, index: u64, error: &RecordError) {
        self.output
            .bad_record(&self.input, index, error, BAD_RECORD_REPORTS);
    }
}

fn replay(args: ReplayArgs) -> anyhow::Result<u8> {
    if args.decode_only {
        return decode_only(&args);
    }
    let inventory = load_config(args.config.as_deref())?;
    let engine = Engine::new(inventory).context("invalid config")?;
    let store: Box<dyn StateStore> = match &args.state {
        Some(dir) => Box::new(RedbStore::open(dir).context("cannot open --state")?),
        None => Box::new(MemoryStore::new()),
    };
    let store = store.as_ref();
    let mut batch = engine.policy().batch();
    let started = Instant::now();
    let mut totals = Totals::default();
    let inputs = discover(&args.paths, &mut totals);
    let mut output = Output::new(args.format == Format::Json);

    let total_size: u64 = inputs
        .iter()
        .filter_map(|i| match i {
            Input::File(p) => p.metadata().ok().map(|m| m.len()),
            Input::Stdin => None,
        })
        .sum();
    let progress = progress_bar(total_size);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pipelined = args.threads.map_or(cores >= 2, |t| t == 2);
    let mut worst = None;
    let interrupt = Interrupt::install();
    for input in &inputs {
        if interrupt.is_set() {
            break;
        }
        // Inputs an interruption left unread are not counted.
        totals.files += 1;
        let name = input.name();
        let reader: Box<dyn Read + Send> = match input {
            Input::Stdin => Box::new(io::stdin()),
            Input::File(p) => match File::open(p) {
                Ok(f) => {
                    progress.inc(f.metadata().map(|m| m.len()).unwrap_or(0));
                    Box::new(f)
                }
                Err(e) => {
                    totals.fail(&name, &e);
                    continue;
                }
            },
        };
        let reader = Stoppable::new(reader, Arc::clone(&interrupt.stopped), "interrupted");
        let mut sink = ReplaySink {
            output: &mut output,
            batch: &mut batch,
            store,
            input: name.clone(),
            state_error: None,
        };
        let result = if pipelined {
            engine.process_pipelined(reader, store, &mut sink)
        } else {
            engine.process_with_state(reader, store, &mut sink)
        };
        let state_error = sink.state_error.take();
        match result {
            Ok(stats) => totals.add(&stats),
            Err(e) if interrupt.is_set() => {
                totals.add(&e.stats);
                eprintln!(
                    "trailwatch: {name}: interrupted after {} records",
                    e.stats.records
                );
            }
            Err(e) => {
                totals.add(&e.stats);
                progress.suspend(|| totals.fail(&name, &e));
            }
        }
        if let Some(e) = state_error.or_else(|| store.flush().err()) {
            anyhow::bail!("state store failed while replaying {name}: {e}");
        }
    }
    progress.finish_and_clear();
    if interrupt.is_set() {
        eprintln!("trailwatch: interrupted: reporting what was read (again to quit at once)");
    }
    let alerts = batch.finish(store).context("state store failed")?;
    store.flush().context("state store failed")?;
    totals.suppressed = batch.suppressed();
    totals.alerts = alerts.len() as u64;
    for alert in alerts {
        worst = worst.max(Some(alert.finding.severity));
        output.finding(alert.finding);
    }
    output.finish(&totals, started.elapsed());

    let code = if let Some(code) = interrupt.exit_code() {
        code
    } else if args.fail_on.is_some_and(|floor| worst >= Some(floor)) {
        EXIT_FAIL_ON
    } else if totals.failed_files > 0 {
        EXIT_INPUT
    } else {
        EXIT_OK
    };
    Ok(code)
}

/// The first Ctrl-C (SIGINT) or SIGTERM: the replay stops reading, then claims and
/// reports what it found (with `--state`, alerts claimed and never printed would be lost
/// to the next run). A second one ends the process at once. The handlers only set flags
/// (and exit), so the stop is set as the signal arrives.
struct Interrupt {
    stopped: Arc<AtomicBool>,
    /// Which signal it was.
    signal: Arc<AtomicUsize>,
}

impl Interrupt {
    fn install() -> Self {
        use signal_hook::consts::{SIGINT, SIGTERM};
        use signal_hook::flag;
        let interrupt = Self {
            stopped: Arc::new(AtomicBool::new(false)),
            signal: Arc::new(AtomicUsize::new(0)),
        };
        for signal in [SIGINT, SIGTERM] {
            // In this order: the first signal finds the replay not yet stopped, names
            // itself, then stops it.
            let registered = flag::register_conditional_shutdown(
                signal,
                signal_exit(signal).into(),
                Arc::clone(&interrupt.stopped),
            )
            .and_then(|_| flag::register_usize(signal, Arc::clone(&interrupt.signal), signal as usize))
            .and_then(|_| flag::register(signal, Arc::clone(&interrupt.stopped)));
            if let Err(e) = registered {
                eprintln!("trailwatch: Ctrl-C and SIGTERM will end the replay without a report: {e}");
                break;
            }
        }
        interrupt
    }

    fn is_set(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// The exit code, once interrupted.
    fn exit_code(&self) -> Option<u8> {
        let signal = i32::try_from(self.signal.load(Ordering::SeqCst)).unwrap_or_default();
        self.is_set().then(|| signal_exit(signal))
    }
}

/// The exit code of a replay stopped by `signal`: 128 + its number, as a shell reports it.
fn signal_exit(signal: i32) -> u8 {
    if signal == signal_hook::consts::SIGTERM {
        EXIT_TERMINATED
    } else {
        EXIT_INTERRUPTED
    }
}

/// `replay --decode-only`: decompression alone, with the same decoder and limits.
fn decode_only(args: &ReplayArgs) -> anyhow::Result<u8> {
    let limits = load_config(args.config.as_deref())?.limits;
    let started = Instant::now();
    let mut totals = Totals::default();
    let inputs = discover(&args.paths, &mut totals);
    for input in &inputs {
        let reader: Box<dyn Read> = match input {
            Input::Stdin => Box::new(io::stdin().lock()),
            Input::File(p) => match File::open(p) {
                Ok(f) => Box::new(f),
                Err(e) => {
                    totals.fail(&input.name(), &e);
                    continue;
                }
            },
        };
        match trailwatch::decode::drain(reader, limits.max_decompressed_bytes) {
            Ok(bytes) => totals.bytes += bytes,
            Err(e) => totals.fail(&input.name(), &e),
        }
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "decode-only: {} files, {} bytes in {secs:.3} s ({:.1} MB/s)",
        inputs.len(),
        totals.bytes,
        totals.bytes as f64 / 1e6 / secs.max(1e-9)
    );
    Ok(if totals.failed_files > 0 {
        EXIT_INPUT
    } else {
        EXIT_OK
    })
}

fn progress_bar(total: u64) -> ProgressBar {
    // Only for long replays on a terminal: short ones finish before a bar helps.
    if total < 64 << 20 || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}

impl Totals {
    fn add(&mut self, stats: &FileStats) {
        self.records += stats.records;
        self.bad_records += stats.bad_records;
        self.skipped_records += stats.skipped_records;
        self.bytes += stats.bytes;
        self.findings += stats.findings;
        self.skipped_files += u64::from(stats.skipped_file);
    }

    fn fail(&mut self, name: &str, error: &dyn std::fmt::Display) {
        self.failed_files += 1;
        eprintln!("trailwatch: {name}: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudtrail_files_replay_in_the_order_of_their_times() {
        let file = |p: &str| PathBuf::from(p);
        let log = |account: &str, region: &str, stamp: &str| {
            file(&format!(
                "AWSLogs/{account}/CloudTrail/{region}/2026/11/30/{account}_CloudTrail_{region}_{stamp}_u.json.gz"
            ))
        };
        let files = vec![
            file("a/first-by-name.json.gz"),
            log("111122223333", "ap-southeast-1", "20261130T0905Z"),
            log("111122223333", "ap-southeast-1", "20261130T0915Z"),
            log("111122223333", "us-east-1", "20261130T0900Z"),
            log("111122223333", "us-east-1", "20261130T0910Z"),
            file("b/stateful/1-batch.json.gz"),
            log("444455556666", "ap-southeast-1", "20261130T0910Z"),
            file("c/111122223333_CloudTrail_us-east-1_2026113_u.json.gz"),
            file("d/111122223333_CloudTrail-Insight_us-east-1_20261130T0800Z_u.json.gz"),
            file("d/111122223333_CloudTrail-Digest_us-east-1_20261130T0800Z.json.gz"),
            // AWS's own example of the name.
            file("e/111122223333_CloudTrail_us-east-2_20150801T0210Z_Mu0KsOhtH1ar15ZZ.json.gz"),
        ];
        let mut inputs: Vec<Input> = files.into_iter().map(Input::File).collect();
        inputs.insert(5, Input::Stdin);
        in_time_order(&mut inputs);
        let names: Vec<String> = inputs
            .iter()
            .map(|input| match input {
                Input::Stdin => "-".to_string(),
                Input::File(f) => {
                    let name = f.file_name().unwrap().to_string_lossy();
                    cloudtrail_stamp(f).map_or(name.to_string(), |s| format!("{} {s}", &name[..12]))
                }
            })
            .collect();
        assert_eq!(
            names,
            [
                "first-by-name.json.gz",
                "111122223333 20150801T0210Z",
                "111122223333 20261130T0900Z",
                "111122223333 20261130T0905Z",
                "111122223333 20261130T0910Z",
                "-",
                "1-batch.json.gz",
                "444455556666 20261130T0910Z",
                "111122223333_CloudTrail_us-east-1_2026113_u.json.gz",
                "111122223333_CloudTrail-Insight_us-east-1_20261130T0800Z_u.json.gz",
                "111122223333_CloudTrail-Digest_us-east-1_20261130T0800Z.json.gz",
                "111122223333 20261130T0915Z",
            ]
        );
    }

    #[test]
    fn directories_and_files_named_one_after_another_replay_as_one_stream_in_time() {
        let root = tempfile::tempdir().unwrap();
        let name = |region: &str, stamp: &str| format!("111122223333_CloudTrail_{region}_{stamp}_u.json.gz");
        let put = |dir: &str, file: &str| {
            let dir = root.path().join(dir);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(file), b"").unwrap();
            dir.join(file)
        };
        put("us-east-1", &name("us-east-1", "20261130T0900Z"));
        put("us-east-1", &name("us-east-1", "20261130T0920Z"));
        put("us-east-1", "notes.json");
        put("eu-west-1", &name("eu-west-1", "20261130T0910Z"));
        let named = put("loose", &name("ap-south-1", "20261130T0905Z"));
        let paths = [
            root.path().join("us-east-1"),
            root.path().join("eu-west-1"),
            PathBuf::from("-"),
            named,
        ];
        let inputs = discover(&paths, &mut Totals::default());
        let order: Vec<String> = inputs
            .iter()
            .map(|input| match input {
                Input::Stdin => "-".to_string(),
                Input::File(f) => {
                    let file = f.file_name().unwrap().to_string_lossy().into_owned();
                    cloudtrail_stamp(f).map_or(file, |stamp| stamp[9..].to_string())
                }
            })
            .collect();
        assert_eq!(order, ["0900Z", "0905Z", "notes.json", "0910Z", "-", "0920Z"]);
    }
}
