//! Gzip members inflated without their check, for the decode thread: the CRC-32 of a
//! member's bytes is the one part of decompression that can run anywhere, so the
//! consumer computes it while it reads the records ([`super::PipelinedReader`]), and
//! the decode thread, which sets a two-thread replay's pace, only inflates (about 9%
//! less time on the 100 MB bench file).
//!
//! flate2 does the gzip work: its `GzDecoder` parses each member's header (and checks
//! its header CRC when there is one), its `DeflateDecoder` inflates the body. What is
//! left here is the 8-byte trailer and the member loop of `MultiGzDecoder`, whose
//! errors this reader gives for the same damage.

use std::io::{self, BufRead, ErrorKind, Read};

use flate2::bufread::{DeflateDecoder, GzDecoder};

/// What a member's trailer says of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// CRC-32 of the member's decompressed bytes.
    pub crc: u32,
    /// Their number, modulo 2^32.
    pub size: u32,
}

impl Check {
    /// Whether the bytes `crc` summed are the ones the trailer describes; the error a
    /// gzip decoder gives when not.
    pub fn verify(self, crc: &flate2::Crc) -> io::Result<()> {
        if crc.sum() == self.crc && crc.amount() == self.size {
            return Ok(());
        }
        Err(io::Error::new(
            ErrorKind::InvalidInput,
            "corrupt gzip stream does not have a matching checksum",
        ))
    }
}

/// What one read of a [`Parts`] gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// This many bytes went into the buffer.
    Data(usize),
    /// A member ended: its bytes since the last check must match.
    Check(Check),
    /// The input ended.
    End,
}

/// Decompressed bytes as the decode thread reads them: from a reader that checks them
/// itself (`Data` and `End` only), or from [`Members`], which leaves the checks to the
/// consumer.
pub trait Parts {
    /// The next bytes into `buf` (not empty), a member's check, or the end.
    fn part(&mut self, buf: &mut [u8]) -> io::Result<Part>;

    /// Whether [`Part::Check`]s come, so the consumer must sum the bytes.
    fn checks_later(&self) -> bool {
        false
    }
}

impl<R: Read> Parts for R {
    fn part(&mut self, buf: &mut [u8]) -> io::Result<Part> {
        match self.read(buf)? {
            0 => Ok(Part::End),
            n => Ok(Part::Data(n)),
        }
    }
}

enum State<R> {
    /// Before a member's header (or the end).
    Between(R),
    /// In a member's body.
    Inside(DeflateDecoder<R>),
    /// Ended, or failed.
    Done,
}

/// The members of a gzip stream, inflated, with their trailers as [`Part::Check`]s
/// (capped like any decompressor: [`super::decompress_pipelined`]).
pub struct Members<R> {
    state: State<R>,
    /// Whether a member was read (an input of none is no gzip stream).
    any: bool,
}

impl<R: BufRead> Members<R> {
    /// The members of `input`, which starts at the first header.
    pub fn new(input: R) -> Self {
        Self {
            state: State::Between(input),
            any: false,
        }
    }
}

impl<R: BufRead> Parts for Members<R> {
    fn part(&mut self, buf: &mut [u8]) -> io::Result<Part> {
        // An error leaves the state as it was, so an `Interrupted` read can be retried
        // (the decode thread stops at any other).
        loop {
            match &mut self.state {
                State::Between(input) => {
                    if self.any && input.fill_buf()?.is_empty() {
                        self.state = State::Done;
                        return Ok(Part::End);
                    }
                    let State::Between(input) = std::mem::replace(&mut self.state, State::Done) else {
                        unreachable!("matched above");
                    };
                    // `GzDecoder::new` parses the header at once (retrying interrupted
                    // reads) and reads no further.
                    let mut header = GzDecoder::new(input);
                    if header.header().is_none() {
                        let error = header.read(&mut [0; 1]).err();
                        return Err(error.unwrap_or_else(|| ErrorKind::InvalidInput.into()));
                    }
                    self.any = true;
                    self.state = State::Inside(DeflateDecoder::new(header.into_inner()));
                }
                State::Inside(body) => {
                    let n = body.read(buf)?;
                    if n > 0 || buf.is_empty() {
                        return Ok(Part::Data(n));
                    }
                    // The deflate stream ended (flate2 reports one cut short as an error).
                    let State::Inside(body) = std::mem::replace(&mut self.state, State::Done) else {
                        unreachable!("matched above");
                    };
                    let mut input = body.into_inner();
                    let mut trailer = [0; 8];
                    // As flate2 says it when the bytes end (read_exact words it otherwise).
                    input.read_exact(&mut trailer).map_err(|e| {
                        if e.kind() == ErrorKind::UnexpectedEof {
                            ErrorKind::UnexpectedEof.into()
                        } else {
                            e
                        }
                    })?;
                    let [c0, c1, c2, c3, s0, s1, s2, s3] = trailer;
                    self.state = State::Between(input);
                    return Ok(Part::Check(Check {
                        crc: u32::from_le_bytes([c0, c1, c2, c3]),
                        size: u32::from_le_bytes([s0, s1, s2, s3]),
                    }));
                }
                State::Done => return Ok(Part::End),
            }
        }
    }

    fn checks_later(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::read::MultiGzDecoder;
    use flate2::{Compression, GzBuilder};

    use super::*;

    /// One gzip member of `data`, with a name, a comment and an extra field when `fields`.
    fn member(data: &[u8], fields: bool) -> Vec<u8> {
        let builder = if fields {
            GzBuilder::new()
                .filename("a.json")
                .comment("c")
                .extra(vec![1, 2, 3])
        } else {
            GzBuilder::new()
        };
        let mut encoder = builder.write(Vec::new(), Compression::new(6));
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    /// A member whose header carries its own CRC (FHCRC), right or wrong.
    fn member_with_header_crc(data: &[u8], right: bool) -> Vec<u8> {
        let plain = member(data, false);
        let mut header = plain[..10].to_vec();
        header[3] |= 0x02;
        let mut crc = flate2::Crc::new();
        crc.update(&header);
        let sum = (crc.sum() as u16) ^ u16::from(!right);
        header.extend(sum.to_le_bytes());
        [header, plain[10..].to_vec()].concat()
    }

    /// What the consumer of a pipeline reads: the bytes, each member checked as it
    /// ends, up to the first error (as text).
    fn through_members(input: impl Read, limit: u64) -> (Vec<u8>, Option<String>) {
        let members = Members::new(io::BufReader::with_capacity(32 * 1024, input));
        let mut parts = super::super::Capped::new(members, limit);
        let (mut out, mut crc, mut buf) = (Vec::new(), flate2::Crc::new(), vec![0; 1000]);
        loop {
            match parts.part(&mut buf) {
                Ok(Part::Data(n)) => {
                    crc.update(&buf[..n]);
                    out.extend_from_slice(&buf[..n]);
                }
                Ok(Part::Check(check)) => {
                    if let Err(e) = check.verify(&crc) {
                        return (out, Some(e.to_string()));
                    }
                    crc.reset();
                }
                Ok(Part::End) => return (out, None),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }

    /// The same through the decoder everything else uses.
    fn through_multi(input: impl Read) -> (Vec<u8>, Option<String>) {
        let mut reader = MultiGzDecoder::new(input);
        let (mut out, mut buf) = (Vec::new(), vec![0; 1000]);
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return (out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }

    #[test]
    fn members_read_as_the_multi_member_decoder_reads_them() {
        let text: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("{{\"n\":{i}}},").into_bytes())
            .collect();
        let one = member(&text, false);
        let fields = member(&text[..5000], true);
        let empty = member(b"", false);
        let multi = [one.clone(), empty.clone(), fields.clone()].concat();
        let mut crc_flipped = one.clone();
        let at = crc_flipped.len() - 8;
        crc_flipped[at] ^= 1;
        let mut size_flipped = one.clone();
        let at = size_flipped.len() - 1;
        size_flipped[at] ^= 1;
        let mut body_damaged = one.clone();
        let at = body_damaged.len() / 2;
        body_damaged[at] ^= 0x55;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("one member", one.clone()),
            ("header fields", fields.clone()),
            ("empty member", empty.clone()),
            ("three members", multi.clone()),
            ("header CRC", member_with_header_crc(&text[..3000], true)),
            ("wrong header CRC", member_with_header_crc(&text[..3000], false)),
            ("CRC flipped", crc_flipped.clone()),
            ("size flipped", size_flipped),
            ("damaged body", body_damaged),
            ("damaged first of two", [crc_flipped, fields.clone()].concat()),
            ("trailer cut short", one[..one.len() - 3].to_vec()),
            ("body cut short", one[..one.len() / 2].to_vec()),
            ("header cut short", [one.clone(), fields[..6].to_vec()].concat()),
            ("garbage after", [one.clone(), b"garbage".to_vec()].concat()),
            ("zeros after", [one.clone(), vec![0; 16]].concat()),
        ];
        for (name, input) in cases {
            let ours = through_members(&input[..], u64::MAX);
            let theirs = through_multi(&input[..]);
            assert_eq!(ours.1, theirs.1, "{name}: the error");
            assert!(
                ours.0 == theirs.0,
                "{name}: the bytes ({} and {})",
                ours.0.len(),
                theirs.0.len()
            );
        }
        let (out, error) = through_members(&multi[..], u64::MAX);
        assert_eq!(
            (out.len(), error),
            (text.len() + 5000, None),
            "three members, read whole"
        );
    }

    #[test]
    fn the_cap_holds_across_members() {
        let input = [member(&[b'x'; 3000], false), member(&[b'y'; 3000], false)].concat();
        let (out, error) = through_members(&input[..], 5000);
        assert!(out.len() <= 5000 + 1000, "read {}", out.len());
        assert_eq!(error.as_deref(), Some("decompressed size exceeds 5000 bytes"));
        assert_eq!(
            through_members(&input[..], 6000),
            ([[b'x'; 3000], [b'y'; 3000]].concat(), None)
        );
    }

    /// A reader whose every fifth read is interrupted (a signal): reading again goes on.
    struct Interrupting<'a> {
        bytes: &'a [u8],
        reads: usize,
    }

    impl Read for Interrupting<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            if self.reads.is_multiple_of(5) {
                return Err(ErrorKind::Interrupted.into());
            }
            // Small reads, so that interruptions fall inside headers, bodies and trailers.
            let n = buf.len().min(self.bytes.len()).min(700);
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    #[test]
    fn an_interrupted_read_is_read_again() {
        let text: Vec<u8> = (0..50_000u32)
            .flat_map(|i| format!("{i},").into_bytes())
            .collect();
        let input = [member(&text, true), member(&text[..7000], false)].concat();
        let interrupting = || Interrupting {
            bytes: &input,
            reads: 0,
        };
        let ours = through_members(interrupting(), u64::MAX);
        assert_eq!(ours, through_multi(interrupting()));
        assert_eq!(ours, ([&text[..], &text[..7000]].concat(), None));
    }
}
