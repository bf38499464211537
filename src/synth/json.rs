//! A small JSON writer for the generator: bytes go straight into one reused buffer.
//!
//! Every value is followed by a comma; closing an object or array drops the comma before
//! it. That keeps builders free of "first field?" bookkeeping, and the trailing comma
//! after a record's `}` is exactly CloudTrail's separator between records.

use fastrand::Rng;

const HEX: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
/// The alphabet of AWS access key ids and unique ids (`ASIA…`, `AROA…`).
pub(super) const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const UPPER_ALNUM: &[u8; 32] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";

/// The output buffer of the record being written, with the record boundaries of this step.
pub(super) struct Out {
    /// JSON text: records, each followed by a comma.
    pub buf: Vec<u8>,
    /// Where each record written in the current step ends (after its comma).
    pub ends: Vec<usize>,
}

impl Out {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: Vec::with_capacity(capacity),
            ends: Vec::new(),
        }
    }

    #[inline]
    fn key(&mut self, k: &str) {
        self.buf.push(b'"');
        self.buf.extend_from_slice(k.as_bytes());
        self.buf.extend_from_slice(b"\":");
    }

    /// `"k":"v",` with `v` escaped.
    #[inline]
    pub(super) fn s(&mut self, k: &str, v: &str) {
        self.key(k);
        self.string(v);
        self.buf.push(b',');
    }

    /// `"k":"v",` where `v` is already JSON string content (escapes and all).
    #[inline]
    pub(super) fn lit(&mut self, k: &str, v: &str) {
        self.key(k);
        self.buf.push(b'"');
        self.buf.extend_from_slice(v.as_bytes());
        self.buf.extend_from_slice(b"\",");
    }

    /// `"k":` and the opening quote of a string value assembled with [`Out::part`].
    #[inline]
    pub(super) fn open_str(&mut self, k: &str) {
        self.key(k);
        self.buf.push(b'"');
    }

    /// `"<prefix><i>":"`: a numbered key, then a string value assembled with [`Out::part`].
    #[inline]
    pub(super) fn open_str_indexed(&mut self, prefix: &str, i: u64) {
        self.buf.push(b'"');
        self.buf.extend_from_slice(prefix.as_bytes());
        self.digits(i);
        self.buf.extend_from_slice(b"\":\"");
    }

    /// The opening quote of a string array item assembled with [`Out::part`].
    #[inline]
    pub(super) fn open_item(&mut self) {
        self.buf.push(b'"');
    }

    /// Unescaped string content inside [`Out::open_str`] … [`Out::close_str`].
    #[inline]
    pub(super) fn part(&mut self, v: &str) {
        self.buf.extend_from_slice(v.as_bytes());
    }

    /// Decimal digits inside a string value.
    #[inline]
    pub(super) fn part_num(&mut self, v: u64) {
        self.digits(v);
    }

    #[inline]
    pub(super) fn close_str(&mut self) {
        self.buf.extend_from_slice(b"\",");
    }

    /// `"k":123,`
    #[inline]
    pub(super) fn n(&mut self, k: &str, v: u64) {
        self.key(k);
        self.digits(v);
        self.buf.push(b',');
    }

    /// `"k":true,` / `"k":false,`
    #[inline]
    pub(super) fn b(&mut self, k: &str, v: bool) {
        self.key(k);
        self.buf.extend_from_slice(if v { b"true," } else { b"false," });
    }

    /// `"k":null,`
    #[inline]
    pub(super) fn null(&mut self, k: &str) {
        self.key(k);
        self.buf.extend_from_slice(b"null,");
    }

    /// `"k":<json>,` for a value that is already JSON.
    #[inline]
    pub(super) fn raw(&mut self, k: &str, json: &[u8]) {
        self.key(k);
        self.buf.extend_from_slice(json);
        self.buf.push(b',');
    }

    /// `"k":{`
    #[inline]
    pub(super) fn obj(&mut self, k: &str) {
        self.key(k);
        self.buf.push(b'{');
    }

    /// `"k":[`
    #[inline]
    pub(super) fn arr(&mut self, k: &str) {
        self.key(k);
        self.buf.push(b'[');
    }

    /// `{` of an anonymous object (a record, an array item).
    #[inline]
    pub(super) fn open(&mut self) {
        self.buf.push(b'{');
    }

    /// Closes the innermost object.
    #[inline]
    pub(super) fn end(&mut self) {
        self.close(b'}');
    }

    /// Closes the innermost array.
    #[inline]
    pub(super) fn end_arr(&mut self) {
        self.close(b']');
    }

    #[inline]
    fn close(&mut self, bracket: u8) {
        if self.buf.last() == Some(&b',') {
            self.buf.pop();
        }
        self.buf.push(bracket);
        self.buf.push(b',');
    }

    /// `"v",` as an array item, escaped.
    #[inline]
    pub(super) fn item(&mut self, v: &str) {
        self.string(v);
        self.buf.push(b',');
    }

    /// Closes the record's object and marks the record boundary.
    #[inline]
    pub(super) fn record_done(&mut self) {
        self.end();
        self.ends.push(self.buf.len());
    }

    /// A quoted, escaped JSON string.
    pub(super) fn string(&mut self, v: &str) {
        self.buf.push(b'"');
        escape_into(&mut self.buf, v);
        self.buf.push(b'"');
    }

    fn digits(&mut self, mut v: u64) {
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        loop {
            i -= 1;
            tmp[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.buf.extend_from_slice(&tmp[i..]);
    }

    /// `"k":"<uuid v4>",`
    #[inline]
    pub(super) fn uuid(&mut self, k: &str, rng: &mut Rng) {
        self.key(k);
        self.buf.push(b'"');
        uuid_into(&mut self.buf, rng);
        self.buf.extend_from_slice(b"\",");
    }

    /// Lower-case hex digits inside a string value.
    #[inline]
    pub(super) fn part_hex(&mut self, rng: &mut Rng, n: usize) {
        random_chars(&mut self.buf, rng, HEX, n);
    }

    /// `"k":"<n random chars of the S3 request-id alphabet>",`
    pub(super) fn s3_request_id(&mut self, k: &str, rng: &mut Rng) {
        self.open_str(k);
        random_chars(&mut self.buf, rng, HEX_UPPER, 16);
        self.close_str();
    }

    /// `"k":"<DynamoDB request id>",`: 52 upper-case letters and digits.
    pub(super) fn dynamodb_request_id(&mut self, k: &str, rng: &mut Rng) {
        self.open_str(k);
        random_chars(&mut self.buf, rng, UPPER_ALNUM, 52);
        self.close_str();
    }

    /// `"k":"<S3 extended request id>",`: 76 base64 characters.
    pub(super) fn amz_id2(&mut self, k: &str, rng: &mut Rng) {
        self.open_str(k);
        random_chars(&mut self.buf, rng, B64, 76);
        self.close_str();
    }

    /// `"k":"<ISO 8601 UTC second>",`
    #[inline]
    pub(super) fn time(&mut self, k: &str, secs: i64) {
        self.key(k);
        self.buf.push(b'"');
        iso_into(&mut self.buf, secs);
        self.buf.extend_from_slice(b"\",");
    }

    /// `"k":"Nov 30, 2026, 10:02:11 AM",`: how STS responses write expirations.
    pub(super) fn human_time(&mut self, k: &str, secs: i64) {
        self.key(k);
        self.buf.push(b'"');
        human_into(&mut self.buf, secs);
        self.buf.extend_from_slice(b"\",");
    }
}

/// JSON string escaping: quotes, backslashes and control characters; other UTF-8 is kept.
pub(super) fn escape_into(buf: &mut Vec<u8>, v: &str) {
    let bytes = v.as_bytes();
    if !bytes.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20) {
        buf.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b if b < 0x20 => {
                buf.extend_from_slice(b"\\u00");
                buf.push(HEX[usize::from(b >> 4)]);
                buf.push(HEX[usize::from(b & 15)]);
            }
            b => buf.push(b),
        }
    }
}

/// `n` characters drawn from `alphabet` (whose length is a power of two up to 64).
#[inline]
pub(super) fn random_chars(buf: &mut Vec<u8>, rng: &mut Rng, alphabet: &[u8], n: usize) {
    let bits = alphabet.len().trailing_zeros();
    let mask = (alphabet.len() - 1) as u64;
    let per_word = (64 / bits) as usize;
    let mut left = n;
    while left > 0 {
        let mut word = rng.u64(..);
        for _ in 0..per_word.min(left) {
            buf.push(alphabet[(word & mask) as usize]);
            word >>= bits;
        }
        left -= per_word.min(left);
    }
}

/// A random string: `prefix` and `n` characters of `alphabet`.
pub(super) fn random_id(rng: &mut Rng, prefix: &str, alphabet: &[u8], n: usize) -> String {
    let mut buf = Vec::with_capacity(prefix.len() + n);
    buf.extend_from_slice(prefix.as_bytes());
    random_chars(&mut buf, rng, alphabet, n);
    // Both parts are ASCII.
    String::from_utf8(buf).unwrap_or_default()
}

/// Lower-case hex: `prefix` and `n` digits (instance, ENI and VPC endpoint ids).
pub(super) fn hex_id(rng: &mut Rng, prefix: &str, n: usize) -> String {
    random_id(rng, prefix, HEX, n)
}

/// A version 4 UUID.
pub(super) fn uuid_into(buf: &mut Vec<u8>, rng: &mut Rng) {
    let hi = rng.u64(..);
    let lo = rng.u64(..);
    // Version 4, RFC 4122 variant.
    let hi = (hi & !0xf000) | 0x4000;
    let lo = (lo & !(0xc << 60)) | (0x8 << 60);
    let mut digits = [0u8; 32];
    for i in 0..16 {
        digits[i] = HEX[((hi >> (60 - 4 * i)) & 15) as usize];
        digits[16 + i] = HEX[((lo >> (60 - 4 * i)) & 15) as usize];
    }
    for (i, &d) in digits.iter().enumerate() {
        if matches!(i, 8 | 12 | 16 | 20) {
            buf.push(b'-');
        }
        buf.push(d);
    }
}

/// A version 4 UUID as a string.
pub(super) fn uuid(rng: &mut Rng) -> String {
    let mut buf = Vec::with_capacity(36);
    uuid_into(&mut buf, rng);
    String::from_utf8(buf).unwrap_or_default()
}

/// Days since 1970-01-01 → (year, month 1–12, day 1–31), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn two(buf: &mut Vec<u8>, v: u32) {
    buf.push(b'0' + (v / 10) as u8);
    buf.push(b'0' + (v % 10) as u8);
}

fn year(buf: &mut Vec<u8>, y: i64) {
    let y = y.clamp(0, 9999) as u32;
    two(buf, y / 100);
    two(buf, y % 100);
}

/// `2026-11-30T09:30:03Z`
pub(super) fn iso_into(buf: &mut Vec<u8>, secs: i64) {
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400) as u32;
    year(buf, y);
    buf.push(b'-');
    two(buf, m);
    buf.push(b'-');
    two(buf, d);
    buf.push(b'T');
    two(buf, s / 3600);
    buf.push(b':');
    two(buf, s / 60 % 60);
    buf.push(b':');
    two(buf, s % 60);
    buf.push(b'Z');
}

/// `Nov 30, 2026, 10:02:11 AM` (UTC).
pub(super) fn human_into(buf: &mut Vec<u8>, secs: i64) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400) as u32;
    let hour = s / 3600;
    buf.extend_from_slice(MONTHS[(m - 1) as usize].as_bytes());
    buf.push(b' ');
    if d >= 10 {
        buf.push(b'0' + (d / 10) as u8);
    }
    buf.push(b'0' + (d % 10) as u8);
    buf.extend_from_slice(b", ");
    year(buf, y);
    buf.extend_from_slice(b", ");
    let h12 = match hour % 12 {
        0 => 12,
        h => h,
    };
    if h12 >= 10 {
        buf.push(b'1');
    }
    buf.push(b'0' + (h12 % 10) as u8);
    buf.push(b':');
    two(buf, s / 60 % 60);
    buf.push(b':');
    two(buf, s % 60);
    buf.extend_from_slice(if hour < 12 { b" AM" } else { b" PM" });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let cases = [
            (1_796_032_800, "2026-11-30T10:00:00Z", "Nov 30, 2026, 10:00:00 AM"),
            (1_742_347_820, "2025-03-19T01:30:20Z", "Mar 19, 2025, 1:30:20 AM"),
            (1_742_391_020, "2025-03-19T13:30:20Z", "Mar 19, 2025, 1:30:20 PM"),
            (1_709_164_800, "2024-02-29T00:00:00Z", "Feb 29, 2024, 12:00:00 AM"),
            (0, "1970-01-01T00:00:00Z", "Jan 1, 1970, 12:00:00 AM"),
        ];
        for (secs, iso, human) in cases {
            let mut a = Vec::new();
            iso_into(&mut a, secs);
            assert_eq!(String::from_utf8(a).unwrap(), iso, "{secs}");
            let mut b = Vec::new();
            human_into(&mut b, secs);
            assert_eq!(String::from_utf8(b).unwrap(), human, "{secs}");
            assert_eq!(crate::record::parse_expiration(human), Some(secs), "{human}");
        }
    }

    #[test]
    fn escapes() {
        let cases = [
            ("plain", "plain"),
            ("a\"b\\c", "a\\\"b\\\\c"),
            ("line\nbreak\t\u{1}", "line\\nbreak\\t\\u0001"),
            ("東京 🚀", "東京 🚀"),
        ];
        for (input, want) in cases {
            let mut buf = Vec::new();
            escape_into(&mut buf, input);
            assert_eq!(String::from_utf8(buf).unwrap(), want, "{input:?}");
        }
    }

    #[test]
    fn writer_builds_valid_json() {
        let mut rng = Rng::with_seed(7);
        let mut o = Out::with_capacity(256);
        o.open();
        o.s("a", "x\"y");
        o.n("n", 1_234_567);
        o.obj("o");
        o.end();
        o.arr("l");
        o.item("p");
        o.item("q");
        o.end_arr();
        o.uuid("id", &mut rng);
        o.time("t", 1_796_032_800);
        o.record_done();
        let text = std::str::from_utf8(&o.buf).unwrap().trim_end_matches(',');
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["a"], "x\"y");
        assert_eq!(v["n"], 1_234_567);
        assert_eq!(v["l"][1], "q");
        let id = v["id"].as_str().unwrap();
        assert_eq!((id.len(), &id[14..15]), (36, "4"), "{id}");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_eq!(o.ends, vec![o.buf.len()]);
    }
}
