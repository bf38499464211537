//! Streaming splitter: cuts a decompressed byte stream into top-level JSON values, and
//! the `Records` array of a CloudTrail file into its elements, without ever holding more
//! than one value (plus one read chunk) in memory.
//!
//! The splitter only tracks string and nesting state; it does not validate JSON. Each
//! piece it yields is validated by the parser, so a corrupt record costs that record only.

use std::io::{ErrorKind, Read};

use super::DecodeError;
use super::pipeline::KeyHints;
use super::scan::{self, Carry};

/// How many bytes are asked of the reader at a time.
pub(crate) const CHUNK: usize = 128 * 1024;

/// What a yielded piece is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceKind {
    /// One element of a top-level `{"Records":[...]}` array.
    Record,
    /// One whole top-level value (NDJSON line, bare record, envelope, digest file).
    Document,
    /// A value longer than the record limit; its bytes were dropped while scanning.
    Oversized,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Between top-level values.
    Top,
    /// Inside the `Records` array of a top-level object.
    Records,
    /// After the `Records` array: skipping the rest of the root object.
    RestOfRoot,
}

/// Resumable scanner state for the value being cut out.
#[derive(Debug, Default, Clone, Copy)]
struct Scan {
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// The value is a scalar outside a string (number, literal, garbage).
    bare: bool,
    /// The value is itself a string.
    string_value: bool,
    /// Offset (from the value start) up to which the value has been scanned.
    scanned: usize,
    /// Bytes of this value dropped because it exceeds the record limit.
    dropped: usize,
}

/// A source of pieces: a [`Splitter`], or one running on another thread.
pub trait Pieces {
    /// The next piece, or `None` at the clean end of the input.
    fn next_piece(&mut self) -> Result<Option<(PieceKind, &mut [u8])>, DecodeError>;

    /// Decompressed bytes read so far.
    fn bytes_read(&self) -> u64;

    /// The access keys of records cut ahead (see [`super::pipeline::key_hint`]), when
    /// the source reads ahead; handed out once.
    fn key_hints(&mut self) -> Option<KeyHints> {
        None
    }

    /// Inside a `Records` array, when the source can: the buffered bytes from the next
    /// element's start on (at least one, at most a piece's limit), for a reader that finds
    /// the element's end itself and reports it with [`Pieces::consume`]. `None`, or an
    /// element that does not end in the window: call `next_piece`.
    fn record_window(&mut self) -> Result<Option<&[u8]>, DecodeError> {
        Ok(None)
    }

    /// Reads on until the window holds `len` bytes or more; false when the input ends
    /// first or the window already holds more than a piece may (`next_piece` then cuts).
    fn grow_window(&mut self, _len: usize) -> Result<bool, DecodeError> {
        Ok(false)
    }

    /// The first `n` bytes of the window were one element, read.
    fn consume(&mut self, _n: usize) {}
}

/// Where a [`Splitter`]'s bytes come from: any reader, or chunks decompressed on another
/// thread ([`super::PipelinedReader`]), which it takes over without copying.
pub trait Source {
    /// Adds input after `buf[*end]`, up to `want` bytes, keeping `buf[*start..*end]` (it may
    /// move them, and updates both); how many bytes it added, 0 at the end of input.
    fn refill(
        &mut self,
        buf: &mut Vec<u8>,
        start: &mut usize,
        end: &mut usize,
        want: usize,
    ) -> std::io::Result<usize>;
}

impl<R: Read> Source for R {
    fn refill(
        &mut self,
        buf: &mut Vec<u8>,
        start: &mut usize,
        end: &mut usize,
        want: usize,
    ) -> std::io::Result<usize> {
        if *start > 0 {
            buf.copy_within(*start..*end, 0);
            *end -= *start;
            *start = 0;
        }
        if buf.len() < *end + want {
            buf.resize(*end + CHUNK, 0);
        }
        loop {
            match self.read(&mut buf[*end..*end + want]) {
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Ok(n) => {
                    *end += n;
                    return Ok(n);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl<R: Source> Pieces for Splitter<R> {
    fn next_piece(&mut self) -> Result<Option<(PieceKind, &mut [u8])>, DecodeError> {
        Splitter::next_piece(self)
    }

    fn bytes_read(&self) -> u64 {
        Splitter::bytes_read(self)
    }

    fn record_window(&mut self) -> Result<Option<&[u8]>, DecodeError> {
        if self.mode != Mode::Records || !self.skip_while(between_elements)? {
            return Ok(None);
        }
        // An element longer than the limit never ends in the window: `next_piece` cuts it
        // and calls it oversized.
        let end = self.end.min(self.start + self.max_piece);
        Ok((self.buf[self.start] != b']').then(|| &self.buf[self.start..end]))
    }

    fn grow_window(&mut self, len: usize) -> Result<bool, DecodeError> {
        if self.end - self.start >= self.max_piece {
            return Ok(false);
        }
        while self.end - self.start < len {
            if !self.fill()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.yielded += 1;
    }
}

/// What separates the elements of an array: whitespace and commas (the splitter does not
/// check how many commas).
fn between_elements(b: u8) -> bool {
    b.is_ascii_whitespace() || b == b','
}

/// Splits a byte stream into pieces; see the module docs.
pub struct Splitter<R> {
    reader: R,
    buf: Vec<u8>,
    /// Start of unconsumed bytes in `buf`.
    start: usize,
    /// End of filled bytes in `buf`.
    end: usize,
    eof: bool,
    mode: Mode,
    max_piece: usize,
    /// Bytes handed over by the reader so far.
    consumed: u64,
    yielded: u64,
}

impl<R: Source> Splitter<R> {
    /// A splitter over `reader` that refuses pieces longer than `max_piece` bytes.
    pub fn new(reader: R, max_piece: usize) -> Self {
        Self {
            reader,
            buf: Vec::new(),
            start: 0,
            end: 0,
            eof: false,
            mode: Mode::Top,
            max_piece,
            consumed: 0,
            yielded: 0,
        }
    }

    /// Bytes read from the underlying reader so far.
    pub fn bytes_read(&self) -> u64 {
        self.consumed
    }

    /// The next piece, or `None` at the clean end of the input.
    pub fn next_piece(&mut self) -> Result<Option<(PieceKind, &mut [u8])>, DecodeError> {
        loop {
            match self.mode {
                Mode::Top => {
                    if !self.skip_while(|b| b.is_ascii_whitespace())? {
                        return Ok(None);
                    }
                    let first = self.buf[self.start];
                    if self.yielded == 0 && first != b'{' && first != b'[' {
                        return Err(DecodeError::NotJson);
                    }
                    if first == b'{' && self.starts_records_array()? {
                        self.mode = Mode::Records;
                        continue;
                    }
                    return self.cut(PieceKind::Document, Scan::default());
                }
                Mode::Records => {
                    if !self.skip_while(between_elements)? {
                        return Err(DecodeError::Truncated {
                            offset: self.consumed,
                        });
                    }
                    if self.buf[self.start] == b']' {
                        self.start += 1;
                        self.mode = Mode::RestOfRoot;
                        continue;
                    }
                    return self.cut(PieceKind::Record, Scan::default());
                }
                Mode::RestOfRoot => {
                    // Skip whatever else the root object holds, up to its closing brace.
                    let scan = Scan {
                        depth: 1,
                        ..Scan::default()
                    };
                    match self.cut(PieceKind::Document, scan)? {
                        Some(_) => self.mode = Mode::Top,
                        None => {
                            return Err(DecodeError::Truncated {
                                offset: self.consumed,
                            });
                        }
                    }
                }
            }
        }
    }

    /// Skips bytes matching `skip`; false when the input ended first.
    fn skip_while(&mut self, skip: impl Fn(u8) -> bool) -> Result<bool, DecodeError> {
        loop {
            while self.start < self.end {
                if !skip(self.buf[self.start]) {
                    return Ok(true);
                }
                self.start += 1;
            }
            if !self.fill()? {
                return Ok(false);
            }
        }
    }

    /// Whether the object at `start` opens with `"Records"` holding an array; if so,
    /// consumes through the `[`.
    fn starts_records_array(&mut self) -> Result<bool, DecodeError> {
        // `{` ws `"Records"` ws `:` ws `[`: a short prefix, looked at byte by byte,
        // reading more only when the buffer runs dry.
        const KEY: &[u8] = b"\"Records\"";
        let mut at = self.start + 1;
        let mut matched = 0; // bytes of KEY seen
        let mut colon = false;
        loop {
            if at >= self.end {
                let offset = at - self.start;
                if !self.fill()? {
                    return Ok(false);
                }
                at = self.start + offset;
                continue;
            }
            let b = self.buf[at];
            at += 1;
            let inside_key = matched > 0 && matched < KEY.len();
            if b.is_ascii_whitespace() && !inside_key {
                continue;
            }
            if matched < KEY.len() {
                if b != KEY[matched] {
                    return Ok(false);
                }
                matched += 1;
            } else if !colon {
                if b != b':' {
                    return Ok(false);
                }
                colon = true;
            } else {
                if b != b'[' {
                    return Ok(false);
                }
                self.start = at;
                return Ok(true);
            }
        }
    }

    /// Reads more input; false at end of input.
    ///
    /// Each read asks for the bytes up to the next multiple of [`CHUNK`] in the stream, as
    /// the decode thread's reads do ([`super::PipelinedReader`]): a decoder that fails
    /// hands over the same bytes before its error on either path.
    fn fill(&mut self) -> Result<bool, DecodeError> {
        if self.eof {
            return Ok(false);
        }
        let want = CHUNK - (self.consumed % CHUNK as u64) as usize;
        let (buf, start, end) = (&mut self.buf, &mut self.start, &mut self.end);
        match self.reader.refill(buf, start, end, want) {
            Ok(0) => {
                self.eof = true;
                Ok(false)
            }
            Ok(n) => {
                self.consumed += n as u64;
                Ok(true)
            }
            Err(e) => Err(DecodeError::from_io(e)),
        }
    }

    /// Cuts the value starting at `start`, continuing from `scan`.
    fn cut(
        &mut self,
        kind: PieceKind,
        mut scan: Scan,
    ) -> Result<Option<(PieceKind, &mut [u8])>, DecodeError> {
        if scan.depth == 0 {
            match self.buf[self.start] {
                b'{' | b'[' => {}
                b'"' => {
                    scan.in_string = true;
                    scan.string_value = true;
                    scan.scanned = 1;
                }
                _ => scan.bare = true,
            }
        }
        loop {
            let from = self.start + scan.scanned;
            if let Some(len) = scan_value(&self.buf[from..self.end], &mut scan) {
                return Ok(Some(self.yield_piece(kind, from + len, &scan)));
            }
            scan.scanned = self.end - self.start;
            if scan.scanned > self.max_piece {
                // Too long to keep: forget its bytes but keep scanning for its end.
                scan.dropped += scan.scanned;
                self.start = self.end;
                scan.scanned = 0;
            }
            if !self.fill()? {
                if scan.bare {
                    // A bare scalar may end with the input.
                    return Ok(Some(self.yield_piece(kind, self.end, &scan)));
                }
                return Err(DecodeError::Truncated {
                    offset: self.consumed,
                });
            }
        }
    }

    /// Hands out the value that ends at `end`: as `kind`, or as `Oversized` when it
    /// outgrew the limit (whether or not its first bytes were already dropped).
    fn yield_piece(&mut self, kind: PieceKind, end: usize, scan: &Scan) -> (PieceKind, &mut [u8]) {
        let start = self.start;
        self.start = end;
        self.yielded += 1;
        if scan.dropped > 0 || end - start > self.max_piece {
            return (PieceKind::Oversized, &mut []);
        }
        (kind, &mut self.buf[start..end])
    }
}

/// Scans `window`, the not yet scanned tail of the current value, and returns how many
/// of its bytes belong to the value once the value closes within it.
fn scan_value(window: &[u8], scan: &mut Scan) -> Option<usize> {
    let mut i = 0;
    if scan.bare {
        while i < window.len() {
            if matches!(window[i], b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n') {
                // A stray delimiter where a value should start is a one-byte piece. After
                // an oversized value's bytes were dropped, `scanned` is 0 again but the
                // value has begun: the delimiter ends it and belongs to what follows.
                let nothing_yet = scan.scanned == 0 && scan.dropped == 0;
                return Some(if i == 0 && nothing_yet { 1 } else { i });
            }
            i += 1;
        }
        return None;
    }
    if !scan.string_value {
        let mut carry = Carry {
            depth: scan.depth,
            in_string: scan.in_string,
            escaped: scan.escaped,
        };
        let end = match scan::blocks(window, &mut carry) {
            Ok(end) => Some(end),
            Err(done) => scan::bytes_scalar(&window[done..], &mut carry).map(|n| done + n),
        };
        (scan.depth, scan.in_string, scan.escaped) = (carry.depth, carry.in_string, carry.escaped);
        return end;
    }
    // A top-level string: it ends at its closing quote.
    while i < window.len() {
        if scan.escaped {
            scan.escaped = false;
            i += 1;
            continue;
        }
        let at = i + memchr::memchr2(b'"', b'\\', &window[i..])?;
        if window[at] == b'\\' {
            scan.escaped = true;
        } else {
            scan.in_string = false;
            return Some(at + 1);
        }
        i = at + 1;
    }
    None
}
