//! Raw bytes through `decode::Splitter`, read in fuzzer-chosen chunk sizes.
#![no_main]

use std::io::{self, Read};

use libfuzzer_sys::fuzz_target;
use trailwatch::decode::{PieceKind, Splitter};

/// Hands out at most `step` bytes per read, so values straddle reads.
struct Chunked<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&control, data)) = input.split_first() else {
        return;
    };
    // Low bits: read size (1..=31 bytes, or unlimited); high bits: the piece limit
    // (256 B to 32 KiB, so records are both kept and dropped as oversized).
    let step = match control & 0x1f {
        0 => usize::MAX,
        n => usize::from(n),
    };
    let max_piece = 256 << (control >> 5);
    let mut splitter = Splitter::new(Chunked { data, step }, max_piece);
    let mut pieces = 0usize;
    let mut piece_bytes = 0u64;
    while let Ok(Some((kind, bytes))) = splitter.next_piece() {
        pieces += 1;
        match kind {
            PieceKind::Oversized => assert!(bytes.is_empty()),
            PieceKind::Record | PieceKind::Document => {
                assert!(!bytes.is_empty(), "empty piece");
                assert!(bytes.len() <= max_piece, "piece of {} > {max_piece}", bytes.len());
            }
        }
        piece_bytes += bytes.len() as u64;
        // Every piece consumes at least one byte: no endless loop.
        assert!(pieces <= data.len(), "{pieces} pieces from {} bytes", data.len());
    }
    assert!(piece_bytes <= splitter.bytes_read());
    assert!(splitter.bytes_read() <= data.len() as u64);
});
