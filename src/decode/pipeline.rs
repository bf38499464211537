//! Decompression on a thread of its own: with two cores, inflating the next bytes
//! overlaps with reading and examining the records before them.
//!
//! [`PipelinedReader`]: the decoder thread sends chunks of decompressed bytes over a
//! bounded channel, and the consumer's splitter reads them as it would read the
//! decompressor; the records are found and read in one pass on the consumer's side. Of
//! gzip input the decoder thread only inflates: the consumer sums each member's bytes
//! and checks them against its trailer ([`super::members`]).
//!
//! [`PipelinedPieces`], for a remote state store: the decoder thread also splits, copies
//! the pieces into batches of about one read chunk, and reads ahead the caller's
//! temporary access key of each record (see [`key_hint`]), sent as soon as a batch is
//! cut, ahead of the batch: the consumer fetches what it does not know for `DEPTH`
//! batches at once.
//!
//! Either way the consumer sends the emptied buffers back, so memory stays at `DEPTH + 2`
//! of them whatever the input size.

use std::io::{self, ErrorKind, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvError, SyncSender, TryRecvError, channel, sync_channel};
use std::sync::{Arc, OnceLock};
use std::thread::Scope;
use std::time::{Duration, Instant};

use memchr::memmem;

use super::DecodeError;
use super::members::{Check, Part, Parts};
use super::split::{CHUNK, PieceKind, Pieces, Source, Splitter};

/// Batches in flight between the two threads (with read-ahead, the look-ahead).
const DEPTH: usize = 16;

/// How long a consumer waiting for the next chunk spins before it sleeps.
const SPIN: Duration = Duration::from_micros(200);

/// The next message of `rx`, spinning up to [`SPIN`] before blocking. The consumer is
/// the faster side, so it waits for nearly every chunk: were it asleep, each send would
/// have to wake it, a system call (and in a VM an interrupt to the other vCPU) on the
/// decoder thread, which sets the pace. On the 100 MB bench file: 530–810 voluntary
/// context switches → 4–19, and 2–3% off the two-thread replay (best of 30 runs each,
/// 70.0 → 68.2 ms).
///
/// Only with two cores or more to run on (`available_parallelism`, which heeds a
/// cgroup's CPU quota): on fewer, as in a Lambda function below about 1.8 GB, the
/// spinning would take the time the decoder thread needs.
fn recv_spinning<T>(rx: &Receiver<T>) -> Result<T, RecvError> {
    static SPIN_AT_ALL: OnceLock<bool> = OnceLock::new();
    let spin = *SPIN_AT_ALL.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2));
    if !spin {
        return rx.recv();
    }
    let mut started = None;
    loop {
        for _ in 0..64 {
            match rx.try_recv() {
                Ok(message) => return Ok(message),
                Err(TryRecvError::Disconnected) => return Err(RecvError),
                Err(TryRecvError::Empty) => std::hint::spin_loop(),
            }
        }
        if started.get_or_insert_with(Instant::now).elapsed() >= SPIN {
            return rx.recv();
        }
    }
}

/// Pieces back to back in one buffer.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    /// Kind, start and end in `bytes` of each piece.
    pieces: Vec<(PieceKind, usize, usize)>,
}

impl Batch {
    fn full(&self) -> bool {
        self.bytes.len() >= CHUNK
    }
}

/// What the decoder thread of a [`PipelinedReader`] sends.
enum Chunk {
    /// A buffer and how many of its bytes are decompressed input.
    Data(Vec<u8>, usize),
    /// A gzip member ended: the bytes since the last check must match.
    Check(Check),
    /// The input ended, or failed.
    End(Option<io::Error>),
}

/// Room the decoder leaves before the bytes of each chunk: the consumer puts the start of
/// a record the previous chunk cut short there, and takes the chunk over as its buffer.
const HEADROOM: usize = 16 * 1024;

/// The consumer's end of a decompressor read on another thread, a splitter's [`Source`]:
/// the same bytes in the same reads, and the same error after them, as reading the
/// decompressor itself. For gzip members read without their check
/// ([`super::decompress_pipelined`]), the consumer sums the bytes and checks each member
/// as it ends, where the decompressor would have.
pub struct PipelinedReader {
    full: Receiver<Chunk>,
    empty: SyncSender<Vec<u8>>,
    done: bool,
    /// The CRC-32 of the bytes since the last check, when checks come.
    crc: Option<flate2::Crc>,
}

impl PipelinedReader {
    /// Starts a thread in `scope` that reads `input` to its end or first error.
    pub fn spawn<'scope, P>(scope: &'scope Scope<'scope, '_>, mut input: P) -> Self
    where
        P: Parts + Send + 'scope,
    {
        let (full_tx, full) = sync_channel::<Chunk>(DEPTH);
        let (empty, empty_rx) = sync_channel::<Vec<u8>>(DEPTH + 2);
        let crc = input.checks_later().then(flate2::Crc::new);
        scope.spawn(move || {
            let mut offset = 0;
            let mut kept = None;
            loop {
                let mut buf = kept
                    .take()
                    .or_else(|| empty_rx.try_recv().ok())
                    .unwrap_or_default();
                if buf.len() < HEADROOM + CHUNK {
                    buf.resize(HEADROOM + CHUNK, 0);
                }
                // Each read asks for the bytes up to the next multiple of CHUNK, and each
                // goes over as it came: the splitter, asking the same, gets the same bytes
                // in the same reads as from the decompressor itself.
                let want = CHUNK - offset % CHUNK;
                let chunk = loop {
                    match input.part(&mut buf[HEADROOM..HEADROOM + want]) {
                        Ok(Part::End) => break Chunk::End(None),
                        Ok(Part::Data(n)) => {
                            offset += n;
                            break Chunk::Data(buf, n);
                        }
                        Ok(Part::Check(check)) => {
                            kept = Some(buf);
                            break Chunk::Check(check);
                        }
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => break Chunk::End(Some(e)),
                    }
                };
                let end = matches!(chunk, Chunk::End(_));
                // A closed channel means the consumer stopped early: so does the decoder.
                if full_tx.send(chunk).is_err() || end {
                    return;
                }
            }
        });
        Self {
            full,
            empty,
            done: false,
            crc,
        }
    }
}

impl Source for PipelinedReader {
    /// The next chunk (the splitter asks for what the decoder read). Taken over as the
    /// buffer when the bytes kept fit in its headroom, which is nearly always: only a
    /// record longer than that, cut short by the chunk's start, is copied.
    fn refill(
        &mut self,
        buf: &mut Vec<u8>,
        start: &mut usize,
        end: &mut usize,
        _want: usize,
    ) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let (mut chunk, n) = loop {
            match recv_spinning(&self.full) {
                Ok(Chunk::Data(chunk, n)) => {
                    if let Some(crc) = &mut self.crc {
                        crc.update(&chunk[HEADROOM..HEADROOM + n]);
                    }
                    break (chunk, n);
                }
                Ok(Chunk::Check(check)) => {
                    if let Some(crc) = &mut self.crc {
                        let checked = check.verify(crc);
                        crc.reset();
                        if let Err(e) = checked {
                            self.done = true;
                            return Err(e);
                        }
                    }
                }
                Ok(Chunk::End(error)) => {
                    self.done = true;
                    return error.map_or(Ok(0), Err);
                }
                // The decoder thread panicked; the scope passes the panic on.
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        };
        let kept = *end - *start;
        if kept <= HEADROOM {
            chunk[HEADROOM - kept..HEADROOM].copy_from_slice(&buf[*start..*end]);
            let spent = std::mem::replace(buf, chunk);
            (*start, *end) = (HEADROOM - kept, HEADROOM + n);
            // The decoder may already have allocated its own: then drop this one.
            if !spent.is_empty() {
                let _ = self.empty.try_send(spent);
            }
        } else {
            buf.copy_within(*start..*end, 0);
            buf.truncate(kept);
            buf.extend_from_slice(&chunk[HEADROOM..HEADROOM + n]);
            (*start, *end) = (0, kept + n);
            let _ = self.empty.try_send(chunk);
        }
        Ok(n)
    }
}

/// The key hints of one batch, by its sequence number.
type BatchHints = (u64, Vec<String>);

/// Access keys of records cut ahead, by batch. The keys of a batch are sent before the
/// batch: once [`Pieces::next_piece`] has returned a record, its key has arrived.
pub struct KeyHints {
    keys: Receiver<BatchHints>,
    /// The batch the last piece handed out belongs to.
    current: Arc<AtomicU64>,
    pending: Vec<BatchHints>,
}

impl KeyHints {
    /// When the current batch's keys have not been handed out yet: every key received so
    /// far (the current batch's and those of the batches cut ahead of it), to be fetched
    /// together. Otherwise nothing.
    pub fn due(&mut self, out: &mut Vec<String>) {
        while let Ok(batch) = self.keys.try_recv() {
            self.pending.push(batch);
        }
        let current = self.current.load(Ordering::Acquire);
        if self.pending.first().is_some_and(|(seq, _)| *seq <= current) {
            out.extend(self.pending.drain(..).flat_map(|(_, keys)| keys));
        }
    }
}

enum Message {
    Batch(Batch),
    /// The splitter is done: the bytes it read, and the error that stopped it, if any.
    End(u64, Option<DecodeError>),
}

/// The consumer's end: the pieces in input order, then the decoder's error if any.
pub struct PipelinedPieces {
    full: Receiver<Message>,
    empty: SyncSender<Batch>,
    hints: Option<Receiver<BatchHints>>,
    /// Sequence number of `current` (batches count from 1).
    seq: Arc<AtomicU64>,
    current: Batch,
    next: usize,
    bytes_read: u64,
    done: bool,
}

/// The access key id a record's caller signed with, when it is a temporary (`ASIA`)
/// key: the first `"accessKeyId":"ASIA…"` before `"responseElements"` (which holds the
/// keys an exchange hands out). A hint, not a parse: a miss only costs a lookup later.
pub fn key_hint(record: &[u8]) -> Option<&str> {
    const KEY: &[u8] = b"\"accessKeyId\":\"ASIA";
    let at = memmem::find(record, KEY)?;
    if memmem::find(&record[..at], b"\"responseElements\"").is_some() {
        return None;
    }
    let id = &record[at + KEY.len() - 4..];
    let len = id.iter().take(128).position(|&b| b == b'"')?;
    std::str::from_utf8(&id[..len])
        .ok()
        .filter(|k| k.bytes().all(|b| b.is_ascii_alphanumeric()))
}

impl PipelinedPieces {
    /// Starts a thread in `scope` that splits `input` (pieces up to `max_piece` bytes)
    /// to its end or first error, and sends the key hints.
    pub fn spawn<'scope, R>(scope: &'scope Scope<'scope, '_>, input: R, max_piece: usize) -> Self
    where
        R: Read + Send + 'scope,
    {
        let (full_tx, full) = sync_channel::<Message>(DEPTH);
        let (empty, empty_rx) = sync_channel::<Batch>(DEPTH + 2);
        // Unbounded, but never more than DEPTH + 1 batches ahead.
        let (hints_tx, hints) = channel::<BatchHints>();
        scope.spawn(move || {
            let mut splitter = Splitter::new(input, max_piece);
            let mut batch = Batch::default();
            let mut batch_hints = Vec::new();
            let mut seq = 1;
            let end = loop {
                match splitter.next_piece() {
                    Ok(Some((kind, bytes))) => {
                        if kind == PieceKind::Record
                            && let Some(key) = key_hint(bytes)
                        {
                            batch_hints.push(key.to_string());
                        }
                        let start = batch.bytes.len();
                        batch.bytes.extend_from_slice(bytes);
                        batch.pieces.push((kind, start, batch.bytes.len()));
                        if batch.full() {
                            let _ = hints_tx.send((seq, std::mem::take(&mut batch_hints)));
                            seq += 1;
                            let spare = empty_rx.try_recv().unwrap_or_default();
                            // A closed channel means the consumer stopped early: so does the decoder.
                            if full_tx
                                .send(Message::Batch(std::mem::replace(&mut batch, spare)))
                                .is_err()
                            {
                                return;
                            }
                        }
                    }
                    Ok(None) => break None,
                    Err(e) => break Some(e),
                }
            };
            let _ = hints_tx.send((seq, batch_hints));
            if !batch.pieces.is_empty() && full_tx.send(Message::Batch(batch)).is_err() {
                return;
            }
            let _ = full_tx.send(Message::End(splitter.bytes_read(), end));
        });
        Self {
            full,
            empty,
            hints: Some(hints),
            seq: Arc::default(),
            current: Batch::default(),
            next: 0,
            bytes_read: 0,
            done: false,
        }
    }
}

impl Pieces for PipelinedPieces {
    fn next_piece(&mut self) -> Result<Option<(PieceKind, &mut [u8])>, DecodeError> {
        while self.next == self.current.pieces.len() {
            if self.done {
                return Ok(None);
            }
            match recv_spinning(&self.full) {
                Ok(Message::Batch(next)) => {
                    let mut spent = std::mem::replace(&mut self.current, next);
                    spent.bytes.clear();
                    spent.pieces.clear();
                    // The decoder may already have allocated its own: then drop this one.
                    let _ = self.empty.try_send(spent);
                    self.next = 0;
                    self.seq.fetch_add(1, Ordering::Release);
                }
                Ok(Message::End(bytes_read, error)) => {
                    self.bytes_read = bytes_read;
                    self.done = true;
                    if let Some(e) = error {
                        return Err(e);
                    }
                }
                // The decoder thread panicked; the scope passes the panic on.
                Err(_) => self.done = true,
            }
        }
        let (kind, start, end) = self.current.pieces[self.next];
        self.next += 1;
        Ok(Some((kind, &mut self.current.bytes[start..end])))
    }

    fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    fn key_hints(&mut self) -> Option<KeyHints> {
        self.hints.take().map(|keys| KeyHints {
            keys,
            current: Arc::clone(&self.seq),
            pending: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    #[test]
    fn a_spinning_receiver_gets_every_message_then_the_disconnect() {
        let (tx, rx) = sync_channel(4);
        std::thread::scope(|s| {
            // Sent from another thread, some while the receiver spins, some after it
            // has gone to sleep: each arrives once, in order.
            s.spawn(move || {
                for i in 0..1000 {
                    tx.send(i).unwrap();
                }
            });
            let got: Vec<i32> = std::iter::from_fn(|| recv_spinning(&rx).ok()).collect();
            assert_eq!(got, (0..1000).collect::<Vec<_>>());
        });
        assert_eq!(recv_spinning(&rx), Err(RecvError));
    }

    /// A reader that yields `data` in odd-sized pieces, then fails if asked to.
    struct Jagged {
        data: Vec<u8>,
        at: usize,
        fail_at_end: bool,
    }

    impl Read for Jagged {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at == self.data.len() {
                return if self.fail_at_end {
                    Err(io::Error::new(io::ErrorKind::InvalidData, "broken"))
                } else {
                    Ok(0)
                };
            }
            let n = buf.len().min(7919).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// Records of many sizes, one too long, then NDJSON documents.
    fn data() -> Vec<u8> {
        let mut records: Vec<String> = (0..3000)
            .map(|i| format!(r#"{{"eventID":"{i}","pad":"{}"}}"#, "x".repeat(i * 37 % 900)))
            .collect();
        records[1234] = format!(r#"{{"big":"{}"}}"#, "y".repeat(5000));
        let mut data = format!(r#"{{"Records":[{}]}}"#, records.join(",")).into_bytes();
        for i in 0..500 {
            data.extend_from_slice(format!("\n{{\"line\":{i}}}").as_bytes());
        }
        data
    }

    fn jagged(fail_at_end: bool) -> Jagged {
        Jagged {
            data: data(),
            at: 0,
            fail_at_end,
        }
    }

    /// Every piece, the error that ended them if any, and the bytes read.
    type Collected = (Vec<(PieceKind, Vec<u8>)>, Option<String>, u64);

    fn collect(mut pieces: impl Pieces) -> Collected {
        let mut got = Vec::new();
        loop {
            match pieces.next_piece() {
                Ok(Some((kind, bytes))) => got.push((kind, bytes.to_vec())),
                Ok(None) => return (got, None, pieces.bytes_read()),
                Err(e) => return (got, Some(e.to_string()), pieces.bytes_read()),
            }
        }
    }

    #[test]
    fn key_hints_name_the_callers_temporary_key() {
        let call = br#"{"userIdentity":{"type":"AssumedRole","accessKeyId":"ASIAEXAMPLE1"},"eventName":"GetObject"}"#;
        assert_eq!(key_hint(call), Some("ASIAEXAMPLE1"));
        let exchange = br#"{"userIdentity":{"type":"WebIdentityUser"},"responseElements":{"credentials":{"accessKeyId":"ASIAISSUED"}}}"#;
        assert_eq!(key_hint(exchange), None, "a key an exchange hands out");
        let long_term = br#"{"userIdentity":{"accessKeyId":"AKIAEXAMPLE"}}"#;
        assert_eq!(key_hint(long_term), None);
        assert_eq!(
            key_hint(br#"{"accessKeyId":"ASIA\u0041"}"#),
            None,
            "escapes are for the parser"
        );
        assert_eq!(key_hint(br#"{"accessKeyId":"ASIAX"#), None, "cut short");
    }

    #[test]
    fn read_ahead_sends_each_batchs_hints() {
        let data: String = (0..5000)
            .map(|i| {
                format!(
                    r#"{{"userIdentity":{{"accessKeyId":"ASIA{i:016}"}},"pad":"{}"}}"#,
                    "p".repeat(200)
                )
            })
            .collect::<Vec<_>>()
            .join(",");
        let data = format!(r#"{{"Records":[{data}]}}"#).into_bytes();
        let (pieces, hints) = std::thread::scope(|s| {
            let mut pieces = PipelinedPieces::spawn(s, &data[..], 4096);
            let mut ahead = pieces.key_hints().unwrap();
            let (mut n, mut hints, mut rounds) = (0, Vec::new(), 0);
            while pieces.next_piece().unwrap().is_some() {
                let before = hints.len();
                ahead.due(&mut hints);
                rounds += usize::from(hints.len() > before);
                n += 1;
                assert!(hints.len() >= n, "a record's key is known when the record is");
            }
            assert!(rounds > 0 && rounds < 13, "{rounds} rounds for 13 batches");
            (n, hints)
        });
        assert_eq!(pieces, 5000);
        let want: Vec<String> = (0..5000).map(|i| format!("ASIA{i:016}")).collect();
        assert_eq!(hints, want);
    }

    #[test]
    fn hands_out_what_the_splitter_cuts() {
        let direct = collect(Splitter::new(jagged(false), 4096));
        let piped = std::thread::scope(|s| collect(PipelinedPieces::spawn(s, jagged(false), 4096)));
        let read =
            std::thread::scope(|s| collect(Splitter::new(PipelinedReader::spawn(s, jagged(false)), 4096)));
        assert_eq!(direct.0.len(), 3500);
        assert!(direct.0.iter().any(|(k, _)| *k == PieceKind::Oversized));
        assert_eq!(piped, direct);
        assert_eq!(read, direct);
        assert_eq!(piped.2, data().len() as u64);
    }

    #[test]
    fn records_longer_than_the_headroom_cross_chunks_whole() {
        // Records from a few bytes to several times the headroom, many cut by a chunk.
        let records: Vec<String> = (0..400)
            .map(|i| {
                format!(
                    r#"{{"eventID":"{i}","pad":"{}"}}"#,
                    "z".repeat(i * 997 % (3 * HEADROOM))
                )
            })
            .collect();
        let data = format!(r#"{{"Records":[{}]}}"#, records.join(",")).into_bytes();
        let jagged = || Jagged {
            data: data.clone(),
            at: 0,
            fail_at_end: false,
        };
        let direct = collect(Splitter::new(jagged(), 1 << 20));
        let read =
            std::thread::scope(|s| collect(Splitter::new(PipelinedReader::spawn(s, jagged()), 1 << 20)));
        assert_eq!(direct.0.len(), 400);
        assert!(direct.0.iter().all(|(k, _)| *k == PieceKind::Record));
        assert_eq!(read, direct);
    }

    #[test]
    fn hands_over_the_decoder_error_after_the_good_pieces() {
        let direct = collect(Splitter::new(jagged(true), 4096));
        let piped = std::thread::scope(|s| collect(PipelinedPieces::spawn(s, jagged(true), 4096)));
        let read =
            std::thread::scope(|s| collect(Splitter::new(PipelinedReader::spawn(s, jagged(true)), 4096)));
        assert!(direct.1.is_some());
        assert_eq!(piped, direct);
        assert_eq!(read, direct);
    }

    /// `{}` documents without end.
    struct Endless;

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = b"{}\n"[i % 3];
            }
            Ok(buf.len() - buf.len() % 3)
        }
    }

    #[test]
    fn a_consumer_that_stops_early_stops_the_decoder() {
        // The scope can only end if the decoder notices the closed channel.
        let first = std::thread::scope(|s| {
            let mut pieces = PipelinedPieces::spawn(s, Endless, 1 << 20);
            pieces
                .next_piece()
                .map(|p| p.map(|(kind, bytes)| (kind, bytes.to_vec())))
        });
        assert_eq!(first.unwrap(), Some((PieceKind::Document, b"{}".to_vec())));
        let first = std::thread::scope(|s| {
            let mut pieces = Splitter::new(PipelinedReader::spawn(s, Endless), 1 << 20);
            pieces
                .next_piece()
                .map(|p| p.map(|(kind, bytes)| (kind, bytes.to_vec())))
        });
        assert_eq!(first.unwrap(), Some((PieceKind::Document, b"{}".to_vec())));
    }
}
