//! The pipeline: bytes in, findings out, one record at a time.

use std::io::{Cursor, Read};

use base64::Engine as _;
use simd_json::prelude::*;
use simd_json::tape::Value;

use crate::alert::AlertPolicy;
use crate::config::{ConfigError, Inventory};
use crate::decode::{self, DecodeError, DocumentKind, Limits, PieceKind, Pieces, Splitter};
use crate::detect::{Cache, Detectors};
use crate::finding::Finding;
use crate::record::{Parser, RecordError, RecordView, Scratch, Short, skim, skim_prefix};
use crate::state::{MemoryStore, StateError, StateStore};

/// Where the engine delivers what it finds.
pub trait Sink {
    /// One finding.
    fn finding(&mut self, finding: Finding);
    /// A record that was skipped because it could not be used (already counted).
    fn bad_record(&mut self, _index: u64, _error: &RecordError) {}
}

impl Sink for Vec<Finding> {
    fn finding(&mut self, finding: Finding) {
        self.push(finding);
    }
}

/// Counters for one input.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FileStats {
    /// Records parsed and examined.
    pub records: u64,
    /// Pieces that were not usable records (invalid JSON, wrong shape, too long).
    pub bad_records: u64,
    /// Records deliberately not examined (Insights events, control messages).
    pub skipped_records: u64,
    /// Decompressed bytes read.
    pub bytes: u64,
    /// Findings emitted.
    pub findings: u64,
    /// The input was recognised as something to skip whole (a digest file).
    pub skipped_file: bool,
    /// Event times of the records (for lag).
    pub times: EventTimes,
}

/// Event times seen, enough for lag statistics (now − eventTime) without keeping them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EventTimes {
    /// Records with a parseable event time.
    pub count: u64,
    /// Sum of their event times (epoch seconds).
    pub sum: i128,
    /// Earliest.
    pub min: i64,
    /// Latest.
    pub max: i64,
}

impl EventTimes {
    /// Adds one event time.
    pub fn add(&mut self, t: i64) {
        if self.count == 0 {
            (self.min, self.max) = (t, t);
        }
        self.count += 1;
        self.sum += i128::from(t);
        self.min = self.min.min(t);
        self.max = self.max.max(t);
    }

    /// Adds another set.
    pub fn merge(&mut self, other: &EventTimes) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

/// An input that stopped early; `stats` counts what was processed before.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct FileError {
    /// What was done before the error.
    pub stats: FileStats,
    /// Why the input stopped.
    #[source]
    pub source: InputError,
}

/// Why an input stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The bytes could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The state store failed: stateful results for this input would be wrong.
    #[error(transparent)]
    State(#[from] StateError),
}

/// The engine: configuration plus detections, shared by every input.
#[derive(Debug)]
pub struct Engine {
    detectors: Detectors,
    policy: AlertPolicy,
}

impl Engine {
    /// An engine over a validated inventory.
    pub fn new(inventory: Inventory) -> Result<Self, ConfigError> {
        Ok(Self {
            policy: AlertPolicy::new(&inventory.alerts)?,
            detectors: Detectors::new(inventory)?,
        })
    }

    /// The alert policy findings go through before they are sent.
    pub fn policy(&self) -> &AlertPolicy {
        &self.policy
    }

    /// The inventory in use.
    pub fn inventory(&self) -> &Inventory {
        self.detectors.inventory()
    }

    fn limits(&self) -> Limits {
        self.detectors.inventory().limits
    }

    /// Whether an S3 key or path names a file to skip by name (digest, Insights).
    pub fn is_skipped_key(key: &str) -> bool {
        key.contains("CloudTrail-Digest") || key.contains("CloudTrail-Insight")
    }

    /// Like [`Engine::process_with_state`], with state that lives for this input only.
    pub fn process<R: Read>(&self, input: R, sink: &mut dyn Sink) -> Result<FileStats, Box<FileError>> {
        self.process_with_state(input, &MemoryStore::new(), sink)
    }

    /// Decodes `input` (gzip or plain, any supported shape) and runs every detection on
    /// each record, handing findings to `sink` as they are made. Stateful detections
    /// remember in `store` across inputs.
    pub fn process_with_state<R: Read>(
        &self,
        input: R,
        store: &dyn StateStore,
        sink: &mut dyn Sink,
    ) -> Result<FileStats, Box<FileError>> {
        self.run(store, sink, |run, sink| {
            let decompressed = decode::decompress(input, self.limits().max_decompressed_bytes)?;
            run.stream(decompressed, sink, true)
        })
    }

    /// Like [`Engine::process_with_state`], with decompression on a second thread (and,
    /// for a store that prefers batches, splitting and reading keys ahead there too):
    /// with two cores the work divides about evenly. Results are the same.
    pub fn process_pipelined<R: Read + Send>(
        &self,
        input: R,
        store: &dyn StateStore,
        sink: &mut dyn Sink,
    ) -> Result<FileStats, Box<FileError>> {
        self.run(store, sink, |run, sink| {
            let limit = self.limits().max_decompressed_bytes;
            std::thread::scope(|scope| {
                if !store.prefers_batches() {
                    // The consumer checks the gzip members: the decode thread only inflates.
                    let decompressed = decode::decompress_pipelined(input, limit)?;
                    return run.stream(decode::PipelinedReader::spawn(scope, decompressed), sink, true);
                }
                let decompressed = decode::decompress(input, limit)?;
                // A remote store: split on the decode thread too, to read the keys ahead.
                let max_piece = self.limits().max_record_bytes;
                let mut pieces = decode::PipelinedPieces::spawn(scope, decompressed, max_piece);
                let result = run.split(&mut pieces, sink, true);
                run.stats.bytes = pieces.bytes_read();
                result
            })
        })
    }

    fn run(
        &self,
        store: &dyn StateStore,
        sink: &mut dyn Sink,
        stream: impl FnOnce(&mut Run<'_>, &mut dyn Sink) -> Result<(), DecodeError>,
    ) -> Result<FileStats, Box<FileError>> {
        let mut run = Run {
            engine: self,
            store,
            cache: Cache::default(),
            state_error: None,
            stats: FileStats::default(),
            parser: Parser::default(),
            findings: Vec::new(),
            index: 0,
        };
        let result = stream(&mut run, sink).map_err(InputError::Decode);
        // What waited for a batch, also when the input broke off: findings before the
        // break stand.
        run.settle(sink);
        let result = match run.state_error.take() {
            Some(e) => Err(InputError::State(e)),
            None => result,
        };
        match result {
            Ok(()) => Ok(run.stats),
            Err(source) => Err(Box::new(FileError {
                stats: run.stats,
                source,
            })),
        }
    }
}

/// The state of one `process` call.
struct Run<'e> {
    engine: &'e Engine,
    store: &'e dyn StateStore,
    cache: Cache,
    /// The first state failure; the input stops there.
    state_error: Option<StateError>,
    stats: FileStats,
    parser: Parser,
    /// Reused between records.
    findings: Vec<Finding>,
    /// Index of the current piece, for error reports.
    index: u64,
}

/// Work that has to wait until the current document's tape is released.
enum Deferred {
    None,
    /// `message` strings of CloudWatch Logs events, each a record.
    Messages(Vec<Vec<u8>>),
    /// The base64 `awslogs.data` payload.
    AwsLogs(Vec<u8>),
}

impl Run<'_> {
    /// Splits and examines one decompressed input; `stats.bytes` counts what was read.
    fn stream<D: decode::Source>(
        &mut self,
        decompressed: D,
        sink: &mut dyn Sink,
        outer: bool,
    ) -> Result<(), DecodeError> {
        let limits = self.engine.limits();
        // A CloudWatch Logs payload (the only inner stream) is one document around its
        // records, held whole to what it may decode to; its messages are held to
        // max_record_bytes one by one.
        let max_piece = if outer {
            limits.max_record_bytes
        } else {
            usize::try_from(awslogs_limit(&limits)).unwrap_or(usize::MAX)
        };
        let mut splitter = Splitter::new(decompressed, max_piece);
        let result = self.split(&mut splitter, sink, outer);
        if outer {
            self.stats.bytes = splitter.bytes_read();
        }
        result
    }

    fn split(
        &mut self,
        pieces: &mut impl Pieces,
        sink: &mut dyn Sink,
        outer: bool,
    ) -> Result<(), DecodeError> {
        let mut ahead = pieces.key_hints();
        let mut keys = Vec::new();
        // Where the views keep the strings they unescaped, emptied before each piece.
        let mut scratch = Scratch::new();
        loop {
            scratch.reset();
            // A record of a `Records` array is read where it lies, in one pass that also
            // finds its end. One the buffer cuts short is read again with more bytes; one
            // the skim cannot read is cut by the splitter and examined as a piece below.
            if let Some(window) = pieces.record_window()? {
                if self.state_error.is_some() {
                    return Ok(());
                }
                let seen = window.len();
                match self.window_record(window, &scratch, sink) {
                    Ok(len) => {
                        pieces.consume(len);
                        continue;
                    }
                    Err(Short::Incomplete) if pieces.grow_window(2 * seen)? => continue,
                    Err(_) => {}
                }
            }
            let Some(piece) = pieces.next_piece()? else {
                break;
            };
            if let Some(ahead) = &mut ahead {
                ahead.due(&mut keys);
                if !keys.is_empty() {
                    self.prefetch(&mut keys);
                }
            }
            if self.state_error.is_some() {
                return Ok(());
            }
            self.index += 1;
            let deferred = match piece {
                (PieceKind::Oversized, _) => {
                    self.bad(sink, &RecordError::Oversized);
                    Deferred::None
                }
                (PieceKind::Record, bytes) => {
                    self.record(bytes, &scratch, sink);
                    Deferred::None
                }
                (PieceKind::Document, bytes) => self.document(bytes, sink, outer),
            };
            match deferred {
                Deferred::None => {}
                Deferred::Messages(messages) => {
                    let max = self.engine.limits().max_record_bytes;
                    for mut message in messages {
                        self.index += 1;
                        if message.len() > max {
                            self.bad(sink, &RecordError::Oversized);
                            continue;
                        }
                        self.record(&mut message, &scratch, sink);
                    }
                }
                Deferred::AwsLogs(data) => self.awslogs(&data, sink),
            }
        }
        Ok(())
    }

    /// Fetches the credentials of records ahead in one batch.
    fn prefetch(&mut self, keys: &mut Vec<String>) {
        if self.state_error.is_none()
            && let Err(e) = self.engine.detectors.prefetch(self.store, &mut self.cache, keys)
        {
            self.state_error = Some(e);
        }
        keys.clear();
    }

    fn settle(&mut self, sink: &mut dyn Sink) {
        if self.state_error.is_some() {
            return;
        }
        let mut findings = std::mem::take(&mut self.findings);
        if let Err(e) = self
            .engine
            .detectors
            .settle(self.store, &mut self.cache, &mut findings)
        {
            self.state_error = Some(e);
        }
        self.emit(&mut findings, sink);
        self.findings = findings;
    }

    fn bad(&mut self, sink: &mut dyn Sink, error: &RecordError) {
        self.stats.bad_records += 1;
        sink.bad_record(self.index, error);
    }

    /// Parses one record and runs the detections on it.
    fn record(&mut self, bytes: &mut [u8], scratch: &Scratch, sink: &mut dyn Sink) {
        let mut findings = std::mem::take(&mut self.findings);
        let outcome = match skim(bytes, scratch) {
            // Not an object: the tape tells whether it is JSON at all (the skim does not
            // write, so the bytes are as they came).
            Err(RecordError::NotObject) => match self.parser.parse(bytes, |_| ()) {
                Ok(()) => Err(RecordError::NotObject),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
            Ok(view) => self.detect(&view, &mut findings),
        };
        self.finish_record(outcome, findings, sink);
    }

    /// Reads and examines the record that starts `window` (bytes of a `Records` array,
    /// still in the splitter's buffer) without cutting it first: the skim finds its end.
    /// The bytes it took, or why it took none.
    fn window_record(
        &mut self,
        window: &[u8],
        scratch: &Scratch,
        sink: &mut dyn Sink,
    ) -> Result<usize, Short> {
        let mut view = RecordView::default();
        let len = skim_prefix(window, scratch, &mut view)?;
        let mut findings = std::mem::take(&mut self.findings);
        self.index += 1;
        let outcome = self.detect(&view, &mut findings);
        self.finish_record(outcome, findings, sink);
        Ok(len)
    }

    /// Runs the detections on a record's view: whether it counts as a record (an Insights
    /// event does not; an S3 event notification is no record at all).
    fn detect(&mut self, view: &RecordView<'_>, findings: &mut Vec<Finding>) -> Result<bool, RecordError> {
        if !examined(view)? {
            return Ok(false);
        }
        let times = &mut self.stats.times;
        if let Err(e) =
            self.engine
                .detectors
                .run_with_state(view, times, self.store, &mut self.cache, findings)
        {
            self.state_error.get_or_insert(e);
        }
        Ok(true)
    }

    /// Counts a record's outcome and hands on its findings.
    fn finish_record(
        &mut self,
        outcome: Result<bool, RecordError>,
        mut findings: Vec<Finding>,
        sink: &mut dyn Sink,
    ) {
        match outcome {
            Ok(true) => self.stats.records += 1,
            Ok(false) => self.stats.skipped_records += 1,
            Err(e) => self.bad(sink, &e),
        }
        self.emit(&mut findings, sink);
        self.findings = findings;
    }

    fn emit(&mut self, findings: &mut Vec<Finding>, sink: &mut dyn Sink) {
        self.stats.findings += findings.len() as u64;
        for finding in findings.drain(..) {
            sink.finding(finding);
        }
    }

    /// Handles one whole top-level document by its shape.
    fn document(&mut self, bytes: &mut [u8], sink: &mut dyn Sink, outer: bool) -> Deferred {
        let mut findings = std::mem::take(&mut self.findings);
        let detectors = &self.engine.detectors;
        let (store, cache, state_error) = (self.store, &mut self.cache, &mut self.state_error);
        let mut doc_times = EventTimes::default();
        let times = &mut doc_times;
        let mut stats = FileStats::default();
        let mut bad = Vec::new();
        let outcome = self.parser.parse(bytes, |doc| {
            let mut examine = |value: Value<'_, '_>, stats: &mut FileStats| {
                let Some(view) = RecordView::from_value(value) else {
                    return bad.push(RecordError::NotObject);
                };
                match examined(&view) {
                    Ok(false) => stats.skipped_records += 1,
                    Ok(true) => {
                        stats.records += 1;
                        if let Err(e) = detectors.run_with_state(&view, times, store, cache, &mut findings) {
                            state_error.get_or_insert(e);
                        }
                    }
                    Err(e) => bad.push(e),
                }
            };
            match decode::classify(doc) {
                DocumentKind::Record(value) => examine(value, &mut stats),
                DocumentKind::Records(records) => {
                    for value in records.iter() {
                        examine(value, &mut stats);
                    }
                }
                DocumentKind::LogEvents(events) => {
                    let messages = events
                        .iter()
                        .filter_map(|e| {
                            e.as_object()?
                                .get("message")?
                                .into_string()
                                .map(|m| m.as_bytes().to_vec())
                        })
                        .collect();
                    return Ok(Deferred::Messages(messages));
                }
                DocumentKind::AwsLogs(data) if outer => {
                    return Ok(Deferred::AwsLogs(data.as_bytes().to_vec()));
                }
                DocumentKind::AwsLogs(_) => {
                    return Err(RecordError::AwsLogs("nested awslogs envelope".into()));
                }
                DocumentKind::Control | DocumentKind::Insight => stats.skipped_records += 1,
                DocumentKind::Digest => stats.skipped_file = true,
                DocumentKind::Notification(what) => return Err(RecordError::Notification(what)),
                DocumentKind::Unknown => return Err(RecordError::Unrecognised),
                DocumentKind::NotObject => return Err(RecordError::NotObject),
            }
            Ok(Deferred::None)
        });
        self.stats.records += stats.records;
        self.stats.skipped_records += stats.skipped_records;
        self.stats.skipped_file |= stats.skipped_file;
        self.stats.times.merge(&doc_times);
        for e in &bad {
            self.bad(sink, e);
        }
        self.emit(&mut findings, sink);
        self.findings = findings;
        match outcome.and_then(|r| r) {
            Ok(deferred) => deferred,
            Err(e) => {
                self.bad(sink, &e);
                Deferred::None
            }
        }
    }

    /// Decodes a raw CloudWatch Logs event (`awslogs.data`) and processes its payload.
    fn awslogs(&mut self, data: &[u8], sink: &mut dyn Sink) {
        let gz = match base64::engine::general_purpose::STANDARD.decode(data) {
            Ok(gz) => gz,
            Err(e) => return self.bad(sink, &RecordError::AwsLogs(format!("base64: {e}"))),
        };
        let limit = awslogs_limit(&self.engine.limits());
        let result = decode::decompress(Cursor::new(gz), limit).and_then(|d| self.stream(d, sink, false));
        if let Err(e) = result {
            self.bad(sink, &RecordError::AwsLogs(e.to_string()));
        }
    }
}

/// Whether a record's view is examined: an Insights event is skipped, and an S3 event
/// notification (S3's own format: `eventSource` `aws:s3`, where CloudTrail writes
/// `s3.amazonaws.com`) is not a CloudTrail record at all, so it is not counted as one.
fn examined(view: &RecordView<'_>) -> Result<bool, RecordError> {
    if view.event_source == Some("aws:s3") {
        return Err(RecordError::Notification("an S3 event notification".to_string()));
    }
    Ok(view.event_type != Some("AwsCloudTrailInsight"))
}

/// The most a CloudWatch Logs payload (`awslogs.data`) may decode to, as it is held whole.
/// A Lambda event is at most 6 MB, and CloudTrail's JSON inflates about 7× from gzip (the
/// bench file: 100 MB from 13.7 MB), so a delivery decodes to some 35 MB at most: 64 MiB
/// passes any, and bounds what a forged one can take.
fn awslogs_limit(limits: &Limits) -> u64 {
    limits.max_decompressed_bytes.min(64 << 20)
}
