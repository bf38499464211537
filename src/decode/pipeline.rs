//! Decompression and splitting on a thread of their own: with two cores, inflating and
//! cutting the next records overlaps with parsing and examining the ones before, so the
//! work divides about evenly between the threads.
//!
//! The decoder thread copies the pieces its [`Splitter`] cuts into batches of about one
//! read chunk and sends them over a bounded channel; the consumer hands them out one
//! piece at a time and sends the emptied batches back, so memory stays at `DEPTH + 2`
//! batches whatever the input size.
//!
//! For a remote state store the decoder also reads ahead the caller's temporary access
//! key of each record (see [`key_hint`]) and sends them as soon as a batch is cut, ahead
//! of the batch: the consumer fetches what it does not know for `DEPTH` batches at once.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::thread::Scope;

use memchr::memmem;

use super::DecodeError;
use super::split::{CHUNK, KeyHints, PieceKind, Pieces, Splitter};

/// Batches in flight between the two threads (with read-ahead, the look-ahead).
const DEPTH: usize = 16;

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

/// The key hints of one batch, by its sequence number.
type BatchHints = (u64, Vec<String>);

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
    /// to its end or first error; with `read_ahead`, it also sends the key hints.
    pub fn spawn<'scope, R>(
        scope: &'scope Scope<'scope, '_>,
        input: R,
        max_piece: usize,
        read_ahead: bool,
    ) -> Self
    where
        R: Read + Send + 'scope,
    {
        let (full_tx, full) = sync_channel::<Message>(DEPTH);
        let (empty, empty_rx) = sync_channel::<Batch>(DEPTH + 2);
        let (hints_tx, hints): (Option<Sender<BatchHints>>, _) = match read_ahead {
            true => {
                let (tx, rx) = channel();
                (Some(tx), Some(rx))
            }
            false => (None, None),
        };
        scope.spawn(move || {
            let mut splitter = Splitter::new(input, max_piece);
            let mut batch = Batch::default();
            let mut batch_hints = Vec::new();
            let mut seq = 1;
            let end = loop {
                match splitter.next_piece() {
                    Ok(Some((kind, bytes))) => {
                        if hints_tx.is_some()
                            && kind == PieceKind::Record
                            && let Some(key) = key_hint(bytes)
                        {
                            batch_hints.push(key.to_string());
                        }
                        let start = batch.bytes.len();
                        batch.bytes.extend_from_slice(bytes);
                        batch.pieces.push((kind, start, batch.bytes.len()));
                        if batch.full() {
                            if let Some(tx) = &hints_tx {
                                // Unbounded, but never more than DEPTH + 1 batches ahead.
                                let _ = tx.send((seq, std::mem::take(&mut batch_hints)));
                            }
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
            if let Some(tx) = &hints_tx {
                let _ = tx.send((seq, batch_hints));
            }
            if !batch.pieces.is_empty() && full_tx.send(Message::Batch(batch)).is_err() {
                return;
            }
            let _ = full_tx.send(Message::End(splitter.bytes_read(), end));
        });
        Self {
            full,
            empty,
            hints,
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
            match self.full.recv() {
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
            let mut pieces = PipelinedPieces::spawn(s, &data[..], 4096, true);
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
        let piped = std::thread::scope(|s| collect(PipelinedPieces::spawn(s, jagged(false), 4096, true)));
        assert_eq!(direct.0.len(), 3500);
        assert!(direct.0.iter().any(|(k, _)| *k == PieceKind::Oversized));
        assert_eq!(piped, direct);
        assert_eq!(piped.2, data().len() as u64);
    }

    #[test]
    fn hands_over_the_decoder_error_after_the_good_pieces() {
        let direct = collect(Splitter::new(jagged(true), 4096));
        let piped = std::thread::scope(|s| collect(PipelinedPieces::spawn(s, jagged(true), 4096, false)));
        assert!(direct.1.is_some());
        assert_eq!(piped, direct);
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
            let mut pieces = PipelinedPieces::spawn(s, Endless, 1 << 20, true);
            pieces
                .next_piece()
                .map(|p| p.map(|(kind, bytes)| (kind, bytes.to_vec())))
        });
        assert_eq!(first.unwrap(), Some((PieceKind::Document, b"{}".to_vec())));
    }
}
