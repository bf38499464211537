//! Structural scanning 64 bytes at a time: where does this JSON value end?
//!
//! Each block becomes bitmasks (one bit a byte) of quotes, backslashes and brackets; the
//! escape and in-string masks follow by the carry tricks of simdjson (Langdale & Lemire,
//! "Parsing Gigabytes of JSON per Second", 2019). The comparisons use
//! `wide` vectors: vector compares and mask moves on every target (SSE2 on x86-64,
//! NEON on aarch64) without `unsafe` here.
//!
//! Only nesting is tracked: a block costs its masks and a step per bracket, nothing per
//! byte.

use wide::{u8x16, u8x64};

/// Bytes per block.
pub(crate) const BLOCK: usize = 64;

const EVEN_BITS: u64 = 0x5555_5555_5555_5555;

/// Scanner state carried from one block to the next.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Carry {
    /// Open brackets not yet closed.
    pub depth: u32,
    /// The next byte is inside a string.
    pub in_string: bool,
    /// The next byte is escaped by a backslash.
    pub escaped: bool,
}

/// Bit i set where `block[i] == byte`.
#[inline(always)]
fn mask(block: u8x64, byte: u8) -> u64 {
    block.simd_eq(u8x64::splat(byte)).to_bitmask()
}

/// Bits of the bytes escaped by a backslash (simdjson's branch-free odd-run finder).
#[inline(always)]
fn escaped_bits(backslash: u64, carry: &mut bool) -> u64 {
    let prev = u64::from(*carry);
    let backslash = backslash & !prev;
    let follows_escape = (backslash << 1) | prev;
    let odd_starts = backslash & !EVEN_BITS & !follows_escape;
    let (even_starts, overflow) = odd_starts.overflowing_add(backslash);
    *carry = overflow;
    (EVEN_BITS ^ (even_starts << 1)) & follows_escape
}

/// Bit i set when an odd number of bits at or below i are set.
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// The first `"` or `\\` in `bytes` at or after `from`, 16 bytes at a time: strings are
/// mostly short, where memchr's set-up costs more than the search.
pub(crate) fn quote_or_backslash(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(chunk) = bytes.get(at..at + 16) {
        let v = u8x16::new(chunk.try_into().unwrap_or([0; 16]));
        let hits = (v.simd_eq(u8x16::splat(b'"')) | v.simd_eq(u8x16::splat(b'\\'))).to_bitmask();
        if hits != 0 {
            return Some(at + hits.trailing_zeros() as usize);
        }
        at += 16;
    }
    let tail = bytes.get(at..)?;
    tail.iter().position(|&b| b == b'"' || b == b'\\').map(|i| at + i)
}

/// The index of the closing quote of the string that opens `bytes` (at its `"`), when
/// every byte before it is ASCII and none is a backslash: the string reads as it lies.
/// `None` for any other string, and for one that does not close within whole 16-byte
/// chunks of `bytes`; the caller reads those the long way.
#[inline(always)]
pub(crate) fn plain_string_end(bytes: &[u8]) -> Option<usize> {
    let mut at = 1;
    while let Some(chunk) = bytes.get(at..at + 16) {
        let v = u8x16::new(chunk.try_into().unwrap_or([0; 16]));
        let quotes = v.simd_eq(u8x16::splat(b'"')).to_bitmask();
        // A byte's high bit is its movemask bit: set on every non-ASCII byte.
        let others = v.simd_eq(u8x16::splat(b'\\')).to_bitmask() | v.to_bitmask();
        if quotes != 0 {
            // The first quote's bit and every bit below it.
            let upto = quotes ^ (quotes - 1);
            return (others & upto == 0).then(|| at + quotes.trailing_zeros() as usize);
        }
        if others != 0 {
            return None;
        }
        at += 16;
    }
    None
}

/// The bitmasks of one block.
struct Masks {
    backslashes: u64,
    quotes: u64,
    /// Each of `[]{}`, and the few bytes that share their compare (see [`step`]).
    brackets: u64,
}

/// One block's masks with `wide` vectors: SSE2 on x86-64, NEON on aarch64.
#[inline(always)]
fn masks_portable(raw: &[u8; BLOCK]) -> Masks {
    let block = u8x64::new(*raw);
    Masks {
        backslashes: mask(block, b'\\'),
        quotes: mask(block, b'"'),
        // One compare finds all four brackets: `| 0x26` turns each of `[]{}` into 0x7F.
        brackets: mask(block | u8x64::splat(0x26), 0x7F),
    }
}

/// One block from its masks: `Some(n)` when the value closes at byte `n - 1` of it.
/// `prefix_xor` is [`prefix_xor`] or a faster way to the same bits.
#[inline(always)]
fn step(raw: &[u8; BLOCK], m: Masks, carry: &mut Carry, prefix_xor: impl Fn(u64) -> u64) -> Option<usize> {
    let escaped = if m.backslashes == 0 && !carry.escaped {
        0 // the common case: nothing escaped, no carry
    } else {
        escaped_bits(m.backslashes, &mut carry.escaped)
    };
    let quotes = m.quotes & !escaped;
    let strings = prefix_xor(quotes) ^ if carry.in_string { u64::MAX } else { 0 };
    carry.in_string = strings >> 63 == 1;
    // The bracket compare also matches `Y`, `_`, `y` and DEL, which JSON has nowhere
    // outside strings; the walk looks at each byte and passes over them. Brackets are
    // sparse (a few a block): walking their bits is cheaper than counting them (x86-64's
    // baseline has no popcount instruction).
    let mut brackets = m.brackets & !strings;
    let mut depth = carry.depth;
    while brackets != 0 {
        let bit = brackets.trailing_zeros() as usize;
        brackets &= brackets - 1;
        // `| 0x20` folds `[`/`]` onto `{`/`}`.
        match raw[bit] | 0x20 {
            b'{' => depth = depth.saturating_add(1),
            b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(bit + 1);
                }
            }
            _ => {}
        }
    }
    carry.depth = depth;
    None
}

/// Scans whole blocks of `bytes` from its start. `Ok(n)`: the value closes at byte
/// `n - 1` (its closing bracket). `Err(n)`: it did not close within the first `n` bytes
/// (a multiple of [`BLOCK`]; the rest is shorter than a block), and `carry` holds the
/// state after them.
pub(crate) fn blocks(bytes: &[u8], carry: &mut Carry) -> Result<usize, usize> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("pclmulqdq") {
        return avx2::blocks_checked(bytes, carry);
    }
    blocks_portable(bytes, carry)
}

/// [`blocks`] with the portable masks.
fn blocks_portable(bytes: &[u8], carry: &mut Carry) -> Result<usize, usize> {
    walk(bytes, carry, masks_portable, prefix_xor)
}

/// [`blocks`] with the given ways to a block's masks and in-string bits.
#[inline(always)]
fn walk(
    bytes: &[u8],
    carry: &mut Carry,
    masks: impl Fn(&[u8; BLOCK]) -> Masks,
    prefix_xor: impl Fn(u64) -> u64,
) -> Result<usize, usize> {
    let mut at = 0;
    while let Some(raw) = bytes
        .get(at..at + BLOCK)
        .and_then(|b| <&[u8; BLOCK]>::try_from(b).ok())
    {
        if let Some(n) = step(raw, masks(raw), carry, &prefix_xor) {
            return Ok(at + n);
        }
        at += BLOCK;
    }
    Err(at)
}

/// The masks with AVX2, two 32-byte compares each instead of four of 16 bytes, and the
/// in-string bits by one carry-less multiply (simdjson's way): the splitter and the skim
/// spent a sixth of a replay's instructions in the portable scan (callgrind, 20 MB
/// generated file). x86-64's baseline has neither feature, so they are chosen at run
/// time; the CPUs AWS Lambda runs x86-64 functions on have both.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2 {
    use std::arch::x86_64::{
        __m256i, _mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x, _mm_set1_epi8, _mm256_cmpeq_epi8,
        _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8,
    };

    use super::{BLOCK, Carry, Masks, walk};

    /// [`super::blocks`] on a CPU with AVX2 and PCLMULQDQ.
    pub(super) fn blocks_checked(bytes: &[u8], carry: &mut Carry) -> Result<usize, usize> {
        // SAFETY: the caller found AVX2 and PCLMULQDQ on this CPU, the features `blocks`
        // enables.
        unsafe { blocks(bytes, carry) }
    }

    #[target_feature(enable = "avx2,pclmulqdq")]
    fn blocks(bytes: &[u8], carry: &mut Carry) -> Result<usize, usize> {
        // Multiplying by all ones without carries xors every bit into those above it.
        let prefix_xor = |x: u64| {
            let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set1_epi8(-1), 0);
            _mm_cvtsi128_si64(product) as u64
        };
        walk(bytes, carry, |raw| masks(raw), prefix_xor)
    }

    #[target_feature(enable = "avx2")]
    fn masks(raw: &[u8; BLOCK]) -> Masks {
        // SAFETY: `raw` is 64 bytes, so both 32-byte reads are inside it; `loadu` needs no
        // alignment.
        let (lo, hi) = unsafe {
            let p = raw.as_ptr().cast::<__m256i>();
            (_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1)))
        };
        let eq = |v: __m256i, byte: u8| {
            u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(byte as i8))) as u32)
        };
        let both = |byte: u8| eq(lo, byte) | eq(hi, byte) << 32;
        let fold = _mm256_set1_epi8(0x26);
        Masks {
            backslashes: both(b'\\'),
            quotes: both(b'"'),
            brackets: eq(_mm256_or_si256(lo, fold), 0x7F) | eq(_mm256_or_si256(hi, fold), 0x7F) << 32,
        }
    }
}

/// The same, one byte at a time: for tails shorter than a block. `None`: not closed.
pub(crate) fn bytes_scalar(bytes: &[u8], carry: &mut Carry) -> Option<usize> {
    for (i, &b) in bytes.iter().enumerate() {
        if carry.escaped {
            carry.escaped = false;
            continue;
        }
        match b {
            b'\\' => carry.escaped = true,
            b'"' => carry.in_string = !carry.in_string,
            _ if carry.in_string => {}
            b'{' | b'[' => carry.depth = carry.depth.saturating_add(1),
            b'}' | b']' => {
                carry.depth = carry.depth.saturating_sub(1);
                if carry.depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Where the value that starts at `bytes[0]` (a `{` or `[`) ends: the index after its
/// closing bracket, or `None` when `bytes` ends first.
pub(crate) fn container_end(bytes: &[u8]) -> Option<usize> {
    container_end_with(bytes, blocks)
}

/// [`container_end`] with the given block scan.
fn container_end_with(bytes: &[u8], blocks: fn(&[u8], &mut Carry) -> Result<usize, usize>) -> Option<usize> {
    let mut carry = Carry::default();
    let done = match blocks(bytes, &mut carry) {
        Ok(end) => return Some(end),
        Err(done) => done,
    };
    // The tail, shorter than a block, as one block padded with spaces: spaces close
    // nothing, and one block costs less than a byte loop over most tails (the values
    // skipped here are mostly small objects). The carry after it is not needed.
    let tail = &bytes[done..];
    let mut block = [b' '; BLOCK];
    block[..tail.len()].copy_from_slice(tail);
    blocks(&block, &mut carry).ok().map(|n| done + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The block scan this CPU uses and the byte loop; the portable block scan must agree
    /// with the first (on an AVX2 machine they differ).
    fn both(bytes: &[u8]) -> (Option<usize>, Option<usize>) {
        let scalar = bytes_scalar(bytes, &mut Carry::default());
        let fast = container_end(bytes);
        assert_eq!(container_end_with(bytes, blocks_portable), fast, "portable");
        (fast, scalar)
    }

    #[test]
    fn blocks_agree_with_the_byte_loop() {
        let inner = r#"{"a":"x\"}\\","b":[1,{"c":"]}\\\"{"}],"d":"\\\\\\"}"#;
        for pad in 0..130 {
            let value = format!("{{\"p\":\"{}\",\"v\":{inner}}}", "é".repeat(pad));
            let text = format!("{value},{{\"next\":1}}");
            let (fast, slow) = both(text.as_bytes());
            assert_eq!(fast, Some(value.len()), "pad {pad}");
            assert_eq!(fast, slow, "pad {pad}");
        }
    }

    #[test]
    fn bytes_that_look_like_brackets_are_not() {
        // `Y`, `_`, `y` and DEL share the bracket compare; outside strings they count
        // for nothing, as in the byte loop.
        for pad in 0..70 {
            let value = format!("{{\"a\":[{}Y_y\x7f],\"b\":\"{{[\"}}", " ".repeat(pad));
            let (fast, slow) = both(format!("{value}]}}").as_bytes());
            assert_eq!(fast, Some(value.len()), "pad {pad}");
            assert_eq!(fast, slow, "pad {pad}");
        }
    }

    #[test]
    fn long_backslash_runs_cross_blocks() {
        for run in 0..140 {
            let value = format!("[\"{}\"]", "\\".repeat(run * 2));
            let (fast, slow) = both(format!("{value} ]").as_bytes());
            assert_eq!(fast, Some(value.len()), "run {run}");
            assert_eq!(fast, slow);
        }
    }

    #[test]
    fn quote_or_backslash_finds_the_first() {
        for len in 0..70 {
            for hit in [b'"', b'\\'] {
                let mut bytes = vec![b'a'; len + 40];
                bytes[len] = hit;
                bytes[len + 3] = b'"';
                for from in [0, len / 2, len] {
                    assert_eq!(quote_or_backslash(&bytes, from), Some(len), "{len} {from}");
                }
                assert_eq!(quote_or_backslash(&bytes[..len], 0), None);
            }
        }
    }

    #[test]
    fn plain_strings_end_where_they_close() {
        for len in 0..70 {
            let body = "a".repeat(len);
            let padded = |s: String| format!("{s}{}", " ".repeat(16));
            let plain = padded(format!("\"{body}\",\"x\""));
            assert_eq!(plain_string_end(plain.as_bytes()), Some(len + 1), "{len}");
            for odd in ["\\n", "é", "\u{7f}"] {
                let string = padded(format!("\"{body}{odd}\""));
                let want = (odd == "\u{7f}").then_some(len + 2);
                assert_eq!(plain_string_end(string.as_bytes()), want, "{len} {odd:?}");
            }
            // Without whole chunks after it, the end may not be found, but never misplaced.
            let unpadded = plain_string_end(format!("\"{body}\"").as_bytes());
            assert!(unpadded.is_none() || unpadded == Some(len + 1), "{len}");
        }
    }

    #[test]
    fn unclosed_values_are_none() {
        let open = format!("{{\"a\":[{}", "1,".repeat(100));
        assert_eq!(both(open.as_bytes()), (None, None));
    }
}
