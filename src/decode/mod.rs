//! Decoding: the one way trailwatch turns bytes into CloudTrail records.
//!
//! `gunzip (multi-member, capped) → split → parse` for every input shape: CloudTrail
//! files, NDJSON, bare records, CloudWatch Logs subscription payloads (decoded or the raw
//! `awslogs` form) and EventBridge envelopes.

// The one place allowed to construct a gzip decoder (see clippy.toml).
#![allow(clippy::disallowed_types)]

mod envelope;
mod members;
mod pipeline;
mod scan;
mod split;

use std::io::{self, BufReader, Chain, Cursor, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use flate2::read::MultiGzDecoder;

pub use envelope::{DocumentKind, classify};
pub use members::{Check, Members, Part, Parts};
pub use pipeline::{KeyHints, PipelinedPieces, PipelinedReader};
pub(crate) use scan::{container_end, plain_string_end, quote_or_backslash};
pub use split::{PieceKind, Pieces, Source, Splitter};

/// A reader that fails, saying `why`, once `stop` is set: an input told to stop (a
/// replay's Ctrl-C, a Lambda message given up at its deadline) ends at its next read,
/// with what was read before.
#[derive(Debug)]
pub struct Stoppable<R> {
    inner: R,
    stop: Arc<AtomicBool>,
    why: &'static str,
}

impl<R> Stoppable<R> {
    /// `inner`, until `stop` is set.
    pub fn new(inner: R, stop: Arc<AtomicBool>, why: &'static str) -> Self {
        Self { inner, stop, why }
    }
}

impl<R: Read> Read for Stoppable<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(io::Error::other(self.why));
        }
        self.inner.read(buf)
    }
}

/// Limits that keep hostile input from exhausting memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes one input may decompress to (a gzip bomb stops here).
    pub max_decompressed_bytes: u64,
    /// Longest single record or document kept in memory; longer ones are skipped.
    pub max_record_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // CloudTrail files are at most 50 MB compressed; real ones inflate ~10-20x.
            max_decompressed_bytes: 4 << 30,
            // CloudTrail caps a record at 256 KB; leave room for envelopes around one.
            max_record_bytes: 1 << 20,
        }
    }
}

/// Why an input could not be decoded (the whole input stops here).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Reading or decompressing failed.
    #[error("read failed: {0}")]
    Io(#[source] io::Error),
    /// The gzip stream is damaged or cut short.
    #[error("corrupt gzip data: {0}")]
    Gzip(#[source] io::Error),
    /// Decompressed output passed the configured cap.
    #[error("decompressed size exceeds the limit of {limit} bytes (max_decompressed_bytes)")]
    TooLarge {
        /// The cap in bytes.
        limit: u64,
    },
    /// The input is neither gzip nor JSON.
    #[error("not gzip and not JSON")]
    NotJson,
    /// The input ended inside a value.
    #[error("input ends inside a JSON value after {offset} bytes")]
    Truncated {
        /// Decompressed bytes read when the input ended.
        offset: u64,
    },
}

impl DecodeError {
    fn from_io(e: io::Error) -> Self {
        // The cap and gzip damage travel through `Read` as io::Errors; unwrap them.
        if let Some(limit) = e.get_ref().and_then(|inner| inner.downcast_ref::<CapExceeded>()) {
            return Self::TooLarge { limit: limit.0 };
        }
        match e.kind() {
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
                Self::Gzip(e)
            }
            _ => Self::Io(e),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("decompressed size exceeds {0} bytes")]
struct CapExceeded(u64);

/// A reader of the decompressed bytes of `input`, gzip or plain, sniffed by magic.
pub type Decompressed<R> = Capped<Inflate<R>>;

/// An input with the bytes its sniffing read put back in front.
pub type Sniffed<R> = Chain<Cursor<Vec<u8>>, R>;

/// Gzip or plain bytes behind one `Read`.
pub enum Inflate<R: Read> {
    /// A (multi-member) gzip stream.
    Gzip(Box<MultiGzDecoder<Sniffed<R>>>),
    /// Not gzip: passed through.
    Plain(Sniffed<R>),
}

impl<R: Read> Read for Inflate<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Gzip(r) => r.read(buf),
            Self::Plain(r) => r.read(buf),
        }
    }
}

/// Counts bytes and fails once more than a cap passed through.
pub struct Capped<R> {
    inner: R,
    limit: u64,
    total: u64,
}

impl<R> Capped<R> {
    fn new(inner: R, limit: u64) -> Self {
        Self {
            inner,
            limit,
            total: 0,
        }
    }

    /// Bytes that passed through so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Counts `n` more bytes: an error once past the cap.
    fn count(&mut self, n: usize) -> io::Result<()> {
        self.total += n as u64;
        if self.total > self.limit {
            return Err(io::Error::other(CapExceeded(self.limit)));
        }
        Ok(())
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count(n)?;
        Ok(n)
    }
}

impl<R: io::BufRead> Parts for Capped<Members<R>> {
    fn part(&mut self, buf: &mut [u8]) -> io::Result<Part> {
        let part = self.inner.part(buf)?;
        if let Part::Data(n) = part {
            self.count(n)?;
        }
        Ok(part)
    }

    fn checks_later(&self) -> bool {
        self.inner.checks_later()
    }
}

/// Opens `input` for decoding: gzip (any number of members) when it starts with the gzip
/// magic, plain otherwise; at most `limit` decompressed bytes.
pub fn decompress<R: Read>(input: R, limit: u64) -> Result<Decompressed<R>, DecodeError> {
    let (gzip, chained) = sniff(input)?;
    let inner = if gzip {
        Inflate::Gzip(Box::new(MultiGzDecoder::new(chained)))
    } else {
        Inflate::Plain(chained)
    };
    Ok(Capped::new(inner, limit))
}

/// Whether `input` starts with the gzip magic, and all of it again.
fn sniff<R: Read>(mut input: R) -> Result<(bool, Sniffed<R>), DecodeError> {
    let mut magic = [0u8; 2];
    let mut have = 0;
    while have < 2 {
        match input.read(&mut magic[have..]) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(DecodeError::Io(e)),
        }
    }
    let gzip = have == 2 && magic == [0x1f, 0x8b];
    Ok((gzip, Cursor::new(magic[..have].to_vec()).chain(input)))
}

/// What the decode thread of a [`PipelinedReader`] reads.
pub enum ForPipeline<R: Read> {
    /// Gzip members, whose checks the consumer makes.
    Gzip(Box<Capped<Members<BufReader<Sniffed<R>>>>>),
    /// Anything else, as [`decompress`] reads it.
    Plain(Decompressed<R>),
}

impl<R: Read> Parts for ForPipeline<R> {
    fn part(&mut self, buf: &mut [u8]) -> io::Result<Part> {
        match self {
            Self::Gzip(members) => members.part(buf),
            Self::Plain(plain) => plain.part(buf),
        }
    }

    fn checks_later(&self) -> bool {
        matches!(self, Self::Gzip(_))
    }
}

/// [`decompress`] for a decode thread: the same bytes and errors, but a gzip member's
/// CRC is left to the consumer ([`Members`]).
pub fn decompress_pipelined<R: Read>(input: R, limit: u64) -> Result<ForPipeline<R>, DecodeError> {
    let (gzip, chained) = sniff(input)?;
    if !gzip {
        return Ok(ForPipeline::Plain(Capped::new(Inflate::Plain(chained), limit)));
    }
    // The buffer MultiGzDecoder reads through (flate2's read::GzDecoder: 32 KiB).
    let buffered = BufReader::with_capacity(32 * 1024, chained);
    Ok(ForPipeline::Gzip(Box::new(Capped::new(
        Members::new(buffered),
        limit,
    ))))
}

/// Decompresses `input` like [`decompress`] and throws the bytes away, reading in the
/// splitter's chunk size: the speed limit of every pipeline (`replay --decode-only`).
/// Returns the decompressed size.
pub fn drain<R: Read>(input: R, limit: u64) -> Result<u64, DecodeError> {
    let mut reader = decompress(input, limit)?;
    let mut buf = vec![0u8; split::CHUNK];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(reader.total()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(DecodeError::from_io(e)),
        }
    }
}

/// Parses an `eventVersion` such as `1.10` into `(major, minor)`, comparing the minor
/// as an integer (`1.10` is newer than `1.9`).
pub fn event_version(s: &str) -> Option<(u16, u16)> {
    let (major, minor) = s.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_version_minor_is_an_integer() {
        let cases = [
            ("1.10", "1.9", true),
            ("1.08", "1.11", false),
            ("2.0", "1.99", true),
        ];
        for (a, b, newer) in cases {
            let (a, b) = (event_version(a), event_version(b));
            assert_eq!(a > b, newer, "{a:?} vs {b:?}");
        }
        assert_eq!(event_version("1.x"), None);
        assert_eq!(event_version("1"), None);
    }

    #[test]
    fn short_inputs_pass_through() {
        for input in [&b""[..], b"{", b"{}"] {
            let mut out = Vec::new();
            decompress(input, 100)
                .and_then(|mut r| r.read_to_end(&mut out).map_err(DecodeError::from_io))
                .unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(out, input);
        }
    }
}
