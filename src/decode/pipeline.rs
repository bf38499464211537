//! Decompression and splitting on a thread of their own: with two cores, inflating and
//! cutting the next records overlaps with parsing and examining the ones before, so the
//! work divides about evenly between the threads.
//!
//! The decoder thread copies the pieces its [`Splitter`] cuts into batches of about one
//! read chunk and sends them over a bounded channel; the consumer hands them out one
//! piece at a time and sends the emptied batches back, so memory stays at `DEPTH + 2`
//! batches whatever the input size.

use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::Scope;

use super::DecodeError;
use super::split::{CHUNK, PieceKind, Pieces, Splitter};

/// Batches in flight between the two threads.
const DEPTH: usize = 4;

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

enum Message {
    Batch(Batch),
    /// The splitter is done: the bytes it read, and the error that stopped it, if any.
    End(u64, Option<DecodeError>),
}

/// The consumer's end: the pieces in input order, then the decoder's error if any.
pub struct PipelinedPieces {
    full: Receiver<Message>,
    empty: SyncSender<Batch>,
    current: Batch,
    next: usize,
    bytes_read: u64,
    done: bool,
}

impl PipelinedPieces {
    /// Starts a thread in `scope` that splits `input` (pieces up to `max_piece` bytes)
    /// to its end or first error.
    pub fn spawn<'scope, R>(scope: &'scope Scope<'scope, '_>, input: R, max_piece: usize) -> Self
    where
        R: Read + Send + 'scope,
    {
        let (full_tx, full) = sync_channel::<Message>(DEPTH);
        let (empty, empty_rx) = sync_channel::<Batch>(DEPTH + 2);
        scope.spawn(move || {
            let mut splitter = Splitter::new(input, max_piece);
            let mut batch = Batch::default();
            let end = loop {
                match splitter.next_piece() {
                    Ok(Some((kind, bytes))) => {
                        let start = batch.bytes.len();
                        batch.bytes.extend_from_slice(bytes);
                        batch.pieces.push((kind, start, batch.bytes.len()));
                        if batch.full() {
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
            if !batch.pieces.is_empty() && full_tx.send(Message::Batch(batch)).is_err() {
                return;
            }
            let _ = full_tx.send(Message::End(splitter.bytes_read(), end));
        });
        Self {
            full,
            empty,
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
    fn hands_out_what_the_splitter_cuts() {
        let direct = collect(Splitter::new(jagged(false), 4096));
        let piped = std::thread::scope(|s| collect(PipelinedPieces::spawn(s, jagged(false), 4096)));
        assert_eq!(direct.0.len(), 3500);
        assert!(direct.0.iter().any(|(k, _)| *k == PieceKind::Oversized));
        assert_eq!(piped, direct);
        assert_eq!(piped.2, data().len() as u64);
    }

    #[test]
    fn hands_over_the_decoder_error_after_the_good_pieces() {
        let direct = collect(Splitter::new(jagged(true), 4096));
        let piped = std::thread::scope(|s| collect(PipelinedPieces::spawn(s, jagged(true), 4096)));
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
            let mut pieces = PipelinedPieces::spawn(s, Endless, 1 << 20);
            pieces
                .next_piece()
                .map(|p| p.map(|(kind, bytes)| (kind, bytes.to_vec())))
        });
        assert_eq!(first.unwrap(), Some((PieceKind::Document, b"{}".to_vec())));
    }
}
