//! Decompression on a thread of its own: with two cores, inflating one chunk overlaps
//! with splitting and parsing the one before, so a replay runs at the decoder's speed.
//!
//! The decoder thread fills chunks and sends them over a bounded channel; the consumer
//! reads them through [`Read`] and sends the emptied buffers back, so memory stays at
//! `DEPTH + 2` chunks whatever the input size.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::Scope;

use super::split::CHUNK;

/// Chunks in flight between the two threads.
const DEPTH: usize = 4;

/// The consumer's end: decompressed bytes in input order, then the decoder's error if any.
pub struct Pipelined {
    full: Receiver<io::Result<Vec<u8>>>,
    empty: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Pipelined {
    /// Starts a thread in `scope` that reads `input` to its end (or first error).
    pub fn spawn<'scope, R>(scope: &'scope Scope<'scope, '_>, mut input: R) -> Self
    where
        R: Read + Send + 'scope,
    {
        let (full_tx, full) = sync_channel::<io::Result<Vec<u8>>>(DEPTH);
        let (empty, empty_rx) = sync_channel::<Vec<u8>>(DEPTH + 2);
        scope.spawn(move || {
            loop {
                let mut buf = empty_rx.try_recv().unwrap_or_else(|_| Vec::with_capacity(CHUNK));
                buf.resize(CHUNK, 0);
                let (n, error) = fill(&mut input, &mut buf);
                buf.truncate(n);
                // A closed channel means the consumer stopped early: so does the decoder.
                if n > 0 && full_tx.send(Ok(buf)).is_err() {
                    return;
                }
                if let Some(e) = error {
                    let _ = full_tx.send(Err(e));
                    return;
                }
                if n == 0 {
                    return;
                }
            }
        });
        Self {
            full,
            empty,
            current: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

/// Reads until `buf` is full or the input ends: the byte count, and the error that
/// stopped it early (the bytes before an error still count).
fn fill(input: &mut impl Read, buf: &mut [u8]) -> (usize, Option<io::Error>) {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

impl Read for Pipelined {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.full.recv() {
                Ok(Ok(next)) => {
                    let spent = std::mem::replace(&mut self.current, next);
                    // The decoder may already have allocated its own: then drop this one.
                    let _ = self.empty.try_send(spent);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => self.done = true,
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
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

    fn data() -> Vec<u8> {
        (0..3 * CHUNK + 12345).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn passes_every_byte_in_order() {
        let data = data();
        let input = Jagged {
            data: data.clone(),
            at: 0,
            fail_at_end: false,
        };
        let mut out = Vec::new();
        std::thread::scope(|s| Pipelined::spawn(s, input).read_to_end(&mut out)).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn hands_over_the_decoder_error_after_the_good_bytes() {
        let data = data();
        let input = Jagged {
            data: data.clone(),
            at: 0,
            fail_at_end: true,
        };
        let (got, err) = std::thread::scope(|s| {
            let mut reader = Pipelined::spawn(s, input);
            let mut got = Vec::new();
            let mut buf = [0u8; 1000];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => return (got, None),
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) => return (got, Some(e)),
                }
            }
        });
        assert_eq!(got, data);
        assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::InvalidData));
    }

    #[test]
    fn a_consumer_that_stops_early_stops_the_decoder() {
        // Endless input: the scope can only end if the decoder notices the closed channel.
        let endless = io::repeat(b'x');
        let first = std::thread::scope(|s| {
            let mut reader = Pipelined::spawn(s, endless);
            let mut buf = [0u8; 10];
            reader.read_exact(&mut buf).map(|()| buf)
        });
        assert_eq!(first.unwrap(), [b'x'; 10]);
    }
}
