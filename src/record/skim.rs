//! The fast way to a [`RecordView`]: read the handful of fields the detectors use and
//! skip everything else at structural-scan speed.
//!
//! A CloudTrail record is mostly values no detector reads (`requestParameters` of a
//! `PutObject`, `responseElements` of a `DescribeInstances`, `tlsDetails`, `resources`).
//! Building a whole tape costs as much as decompressing; the skim instead walks the
//! record's top level and the few objects it needs key by key, and jumps over any other
//! value with the 64-byte block scanner of [`crate::decode`]. CloudTrail writes the keys
//! of an object in one order, so the keys of that order are tried first by their exact
//! bytes ([`members!`]): no key string to read and no name to look up for most members.
//!
//! What the skim reads, it checks: keys are strings, followed by `:`, values by `,` or
//! the closing brace; strings it keeps are valid UTF-8 after unescaping. Skipped values
//! are only scanned for their end, so damage inside them does not cost the record
//! (CloudTrail writes valid JSON; damage is a transport fault, not a reason to lose a
//! call). A lone surrogate escape becomes U+FFFD instead of failing the record: a caller must
//! not be able to hide its own call by choosing its user agent.
//!
//! The skim never writes to the record: the view borrows its bytes, and the few strings
//! with escapes it keeps are unescaped into a [`Scratch`] arena, reset between records.
//! So a record can be skimmed where it was decompressed, before its end is known
//! ([`skim_prefix`]): one pass finds the fields and the end.

use super::{Identity, PodTags, RecordError, RecordView, Request, Response, Slots};
use crate::decode::{container_end, plain_string_end, quote_or_backslash};

/// Where the unescaped strings of a view live; [`Scratch::reset`] it once the view is gone.
pub type Scratch = bumpalo::Bump;

/// Where the skim found the record broken.
#[derive(Debug)]
struct Malformed;

type Result<T> = std::result::Result<T, Malformed>;

/// Reads the view of one record (a JSON object), which is all of `bytes`.
pub fn skim<'a>(bytes: &'a [u8], scratch: &'a Scratch) -> std::result::Result<RecordView<'a>, RecordError> {
    let mut cursor = Cursor::new(bytes, scratch);
    match cursor.peek() {
        Some(b'{') => {}
        Some(_) => return Err(RecordError::NotObject),
        None => return Err(RecordError::Json("empty record".into())),
    }
    let mut view = RecordView::default();
    let read = cursor.record(&mut view);
    match read {
        Ok(()) if cursor.peek().is_none() => Ok(view),
        _ => {
            let at = bytes.len() - cursor.rest.len();
            Err(RecordError::Json(format!("malformed JSON near byte {at}")))
        }
    }
}

/// Why [`skim_prefix`] read no record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Short {
    /// The bytes ended inside the record: more of them may make it whole.
    Incomplete,
    /// Not a well-formed record (or not an object).
    Broken,
}

/// Reads into `view` the record (a JSON object) that starts `bytes` and may be followed by
/// anything; how many bytes it takes. On valid JSON its end is where the splitter would
/// cut it. `view` starts empty (`RecordView::default()`).
pub fn skim_prefix<'a>(
    bytes: &'a [u8],
    scratch: &'a Scratch,
    view: &mut RecordView<'a>,
) -> std::result::Result<usize, Short> {
    if bytes.first() != Some(&b'{') {
        return Err(Short::Broken);
    }
    let mut cursor = Cursor::new(bytes, scratch);
    match cursor.record(view) {
        Ok(()) => Ok(bytes.len() - cursor.rest.len()),
        Err(_) if cursor.ran_out => Err(Short::Incomplete),
        Err(_) => Err(Short::Broken),
    }
}

/// Where a reader of an object's members stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Members {
    /// Past the `{`: a key or the `}` follows.
    Start,
    /// Past a `,`: a key follows.
    Next,
    /// Past the `}`.
    Closed,
}

/// Reads the members of the object whose `{` the cursor has passed, each with
/// `cursor.$field($arg, key)`.
///
/// CloudTrail writes the keys of an object in one order, and most records hold most of
/// them. So the listed keys, where they come in the listed order, are matched by their
/// exact bytes (`"key":`), without reading a key string or looking its name up; the method is
/// inlined with the key as a constant, and its lookup folds away. Any other key, or one out
/// of order or escaped, is read by name after them ([`Cursor::members`]). The method sees
/// the same key either way, so both read alike.
macro_rules! members {
    ($cursor:ident, $field:ident($arg:expr), [$($key:literal),+ $(,)?]) => {{
        let mut at = Members::Start;
        $(
            if at != Members::Closed && $cursor.at_key(concat!("\"", $key, "\":").as_bytes()) {
                $cursor.$field($arg, $key.as_bytes())?;
                at = $cursor.after_member()?;
            }
        )+
        $cursor.members(at, |key, c| c.$field($arg, key))
    }};
}

/// The unread rest of the record.
struct Cursor<'a> {
    rest: &'a [u8],
    scratch: &'a Scratch,
    /// A read failed because the bytes ended.
    ran_out: bool,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8], scratch: &'a Scratch) -> Self {
        Self {
            rest: bytes,
            scratch,
            ran_out: false,
        }
    }

    /// The record object at the cursor.
    fn record(&mut self, view: &mut RecordView<'a>) -> Result<()> {
        self.expect(b'{')?;
        members!(
            self,
            record_field(view),
            [
                "eventVersion",
                "userIdentity",
                "eventTime",
                "eventSource",
                "eventName",
                "awsRegion",
                "sourceIPAddress",
                "userAgent",
                "errorCode",
                "errorMessage",
                "requestParameters",
                "responseElements",
                "additionalEventData",
                "requestID",
                "eventID",
                "readOnly",
                "resources",
                "eventType",
                "apiVersion",
                "managementEvent",
                "recipientAccountId",
                "serviceEventDetails",
                "sharedEventID",
                "vpcEndpointId",
                "vpcEndpointAccountId",
                "eventCategory",
                "addendum",
                "sessionCredentialFromConsole",
                "edgeDeviceDetails",
                "tlsDetails",
            ]
        )?;
        view.finish();
        Ok(())
    }

    /// Reads the top-level member `key`.
    #[inline(always)]
    fn record_field(&mut self, view: &mut RecordView<'a>, key: &[u8]) -> Result<()> {
        match key {
            // Read in place (no copy of the structs), each from empty: the last of
            // duplicate members wins.
            b"userIdentity" => self.identity(&mut view.identity)?,
            b"requestParameters" => self.request(&mut view.request)?,
            b"responseElements" => self.response(&mut view.response)?,
            b"@timestamp" => view.logstash_time = self.string_value()?,
            _ => match view.slot(key) {
                Some(slot) => *slot = self.string_value()?,
                None => self.skip()?,
            },
        }
        Ok(())
    }

    /// Passes `"key":` (`member`) when the cursor is at exactly those bytes.
    #[inline(always)]
    fn at_key(&mut self, member: &[u8]) -> bool {
        // Inlined with a constant `member`, one compare of a few loads and no loop.
        let hit = self.rest.starts_with(member);
        if hit {
            self.take(member.len());
        }
        hit
    }

    /// Passes what follows a member: `Next` after a `,`, `Closed` after the `}`.
    #[inline(always)]
    fn after_member(&mut self) -> Result<Members> {
        match self.peek() {
            Some(b',') => {
                self.take(1);
                Ok(Members::Next)
            }
            Some(b'}') => {
                self.take(1);
                Ok(Members::Closed)
            }
            _ => Err(Malformed),
        }
    }

    /// The next `n` bytes, passed.
    #[inline(always)]
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        head
    }

    /// Fails a read because the bytes ended.
    fn out(&mut self) -> Malformed {
        self.ran_out = true;
        Malformed
    }

    /// The next byte after whitespace.
    #[inline(always)]
    fn peek(&mut self) -> Option<u8> {
        // CloudTrail writes no whitespace between tokens.
        match self.rest.first() {
            Some(b' ' | b'\t' | b'\n' | b'\r') | None => self.past_whitespace(),
            Some(&b) => Some(b),
        }
    }

    /// [`Cursor::peek`] where whitespace or the end is next; out of line, so that the
    /// many inlined peeks stay small.
    #[inline(never)]
    fn past_whitespace(&mut self) -> Option<u8> {
        let n = self
            .rest
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .unwrap_or(self.rest.len());
        self.take(n);
        let next = self.rest.first().copied();
        self.ran_out |= next.is_none();
        next
    }

    fn expect(&mut self, byte: u8) -> Result<()> {
        if self.peek() != Some(byte) {
            return Err(Malformed);
        }
        self.take(1);
        Ok(())
    }

    /// Calls `field` with each key of the object from `at` on, to its `}`; `field` must
    /// consume exactly the value.
    fn members(&mut self, at: Members, mut field: impl FnMut(&[u8], &mut Self) -> Result<()>) -> Result<()> {
        match at {
            Members::Closed => return Ok(()),
            Members::Start if self.peek() == Some(b'}') => {
                self.take(1);
                return Ok(());
            }
            _ => {}
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(Malformed);
            }
            let key = self.raw_string()?;
            self.expect(b':')?;
            field(key, self)?;
            if self.after_member()? == Members::Closed {
                return Ok(());
            }
        }
    }

    /// The bytes of the string at the cursor (which is at its opening quote), unescaped
    /// and not yet checked for UTF-8 (keys are only compared).
    #[inline(always)]
    fn raw_string(&mut self) -> Result<&'a [u8]> {
        let (end, escapes) = self.string_end()?;
        let raw = &self.take(end + 1)[1..end];
        if !escapes {
            return Ok(raw);
        }
        let copy = self.scratch.alloc_slice_copy(raw);
        let len = unescape(copy);
        Ok(&copy[..len])
    }

    /// Where the string at the cursor closes (the index of its closing quote), and
    /// whether it holds escapes.
    #[inline(always)]
    fn string_end(&mut self) -> Result<(usize, bool)> {
        let mut at = 1;
        let mut escapes = false;
        loop {
            let Some(i) = quote_or_backslash(self.rest, at) else {
                return Err(self.out());
            };
            if self.rest[i] == b'"' {
                return Ok((i, escapes));
            }
            escapes = true;
            at = i + 2;
        }
    }

    /// The string at the cursor (which is at its opening quote), unescaped.
    #[inline(always)]
    #[allow(unsafe_code)]
    fn string(&mut self) -> Result<&'a str> {
        // Nearly every string is ASCII without escapes: one scan finds its end and shows it.
        if let Some(end) = plain_string_end(self.rest) {
            let body = &self.take(end + 1)[1..end];
            // SAFETY: `plain_string_end` saw only bytes below 0x80 before the closing
            // quote, and a run of ASCII bytes is valid UTF-8.
            return Ok(unsafe { std::str::from_utf8_unchecked(body) });
        }
        self.escaped_or_unicode_string()
    }

    /// [`Cursor::string`] the long way: escapes, non-ASCII, or an end not found in whole
    /// chunks. Out of line, so that each inlined string read stays small.
    #[inline(never)]
    fn escaped_or_unicode_string(&mut self) -> Result<&'a str> {
        text(self.raw_string()?).ok_or(Malformed)
    }

    /// A string value; any other value is skipped and reads as absent. Not inlined: its
    /// copies at every member made the engine's code outgrow the instruction cache
    /// (callgrind, cache simulation: L1i misses 2.6 M → 1.0 M per 20 MB, for 4 M more
    /// instructions).
    #[inline(never)]
    fn string_value(&mut self) -> Result<Option<&'a str>> {
        if self.rest.first() == Some(&b'"') || self.peek() == Some(b'"') {
            return self.string().map(Some);
        }
        self.skip().map(|()| None)
    }

    /// Skips the value at the cursor.
    fn skip(&mut self) -> Result<()> {
        // Tests in the order of how often they hold, not a `match`: its jump table costs
        // a mispredicted indirect branch on most values (callgrind, branch simulation).
        let first = self.peek().ok_or(Malformed)?;
        if first == b'"' {
            return self.skip_string();
        }
        if first == b'{' || first == b'[' {
            let len = container_end(self.rest).ok_or_else(|| self.out())?;
            self.take(len);
            return Ok(());
        }
        if self.literal(b"true") || self.literal(b"false") || self.literal(b"null") {
            return Ok(());
        }
        self.scalar().map(|_| ())
    }

    /// Passes `word` when it is the whole token at the cursor, as [`Cursor::scalar`] would.
    #[inline(always)]
    fn literal<const N: usize>(&mut self, word: &[u8; N]) -> bool {
        let r = self.rest;
        let hit = r.len() > N
            && r[..N] == word[..]
            && matches!(r[N], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r');
        if hit {
            self.take(N);
        }
        hit
    }

    /// Skips a string without unescaping or validating it.
    fn skip_string(&mut self) -> Result<()> {
        let (end, _) = self.string_end()?;
        self.take(end + 1);
        Ok(())
    }

    /// A scalar token: a literal, or what may be a number (digits, sign, `.`, exponent).
    fn scalar(&mut self) -> Result<&'a [u8]> {
        let len = self
            .rest
            .iter()
            .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
            .unwrap_or_else(|| {
                self.ran_out = true; // the token may go on
                self.rest.len()
            });
        let token = &self.rest[..len];
        let number = matches!(token.first(), Some(b'-' | b'0'..=b'9'))
            && token
                .iter()
                .all(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'));
        if !number && !matches!(token, b"true" | b"false" | b"null") {
            return Err(Malformed);
        }
        Ok(self.take(len))
    }

    /// Calls `field` for each key of an object value; any other value is skipped.
    fn object_value(&mut self, field: impl FnMut(&[u8], &mut Self) -> Result<()>) -> Result<bool> {
        if !self.open_object()? {
            return Ok(false);
        }
        self.members(Members::Start, field).map(|()| true)
    }

    /// Passes the `{` of an object value; `false` for any other value, which is skipped.
    #[inline(always)]
    fn open_object(&mut self) -> Result<bool> {
        if self.peek() != Some(b'{') {
            return self.skip().map(|()| false);
        }
        self.take(1);
        Ok(true)
    }

    fn identity(&mut self, id: &mut Identity<'a>) -> Result<()> {
        *id = Identity::default();
        if !self.open_object()? {
            return Ok(());
        }
        members!(
            self,
            identity_field(id),
            [
                "type",
                "principalId",
                "arn",
                "accountId",
                "accessKeyId",
                "userName",
                "sessionContext",
                "invokedBy",
                "identityProvider",
            ]
        )
    }

    /// Reads the `userIdentity` member `key`.
    #[inline(always)]
    fn identity_field(&mut self, id: &mut Identity<'a>, key: &[u8]) -> Result<()> {
        if key == b"sessionContext" {
            (id.ec2_role_delivery, id.issuer_arn) = (None, None);
            if !self.open_object()? {
                return Ok(());
            }
            return members!(
                self,
                session_field(id),
                [
                    "sessionIssuer",
                    "webIdFederationData",
                    "attributes",
                    "sourceIdentity",
                    "ec2RoleDelivery",
                ]
            );
        }
        match id.slot(key) {
            Some(slot) => self.string_value().map(|v| *slot = v),
            None => self.skip(),
        }
    }

    /// Reads the `sessionContext` member `key`.
    #[inline(always)]
    fn session_field(&mut self, id: &mut Identity<'a>, key: &[u8]) -> Result<()> {
        match key {
            b"ec2RoleDelivery" => self.string_value().map(|v| id.ec2_role_delivery = v),
            b"sessionIssuer" => self.arn().map(|v| id.issuer_arn = v),
            _ => self.skip(),
        }
    }

    /// `{"arn": …}` inside an object value (a session issuer, an assumed-role user).
    fn arn(&mut self) -> Result<Option<&'a str>> {
        let mut arn = None;
        if !self.open_object()? {
            return Ok(arn);
        }
        members!(
            self,
            arn_field(&mut arn),
            [
                "type",
                "principalId",
                "assumedRoleId",
                "arn",
                "accountId",
                "userName"
            ]
        )?;
        Ok(arn)
    }

    /// Reads the member `key` of an object that holds an `arn`.
    #[inline(always)]
    fn arn_field(&mut self, arn: &mut Option<&'a str>, key: &[u8]) -> Result<()> {
        match key {
            b"arn" => self.string_value().map(|v| *arn = v),
            _ => self.skip(),
        }
    }

    fn request(&mut self, request: &mut Request<'a>) -> Result<()> {
        *request = Request::default();
        self.object_value(|key, c| match key {
            b"durationSeconds" => {
                request.duration_seconds = match c.peek() {
                    // As the tape reads it: any integer that fits u64 (`-0` too).
                    Some(b'-' | b'0'..=b'9') => std::str::from_utf8(c.scalar()?).ok().and_then(|s| {
                        s.parse::<u64>()
                            .ok()
                            .or_else(|| s.parse::<i64>().ok().and_then(|v| u64::try_from(v).ok()))
                    }),
                    _ => c.skip().map(|()| None)?,
                };
                Ok(())
            }
            b"tags" => c.pod_tags().map(|t| request.pod_tags = t),
            _ => match request.slot(key) {
                Some(slot) => c.string_value().map(|v| *slot = v),
                None => c.skip(),
            },
        })
        .map(drop)
    }

    /// `[{"key": …, "value": …}, …]`: the tags EKS Pod Identity sets.
    fn pod_tags(&mut self) -> Result<PodTags<'a>> {
        let mut tags = PodTags::default();
        if self.peek() != Some(b'[') {
            self.skip()?;
            return Ok(tags);
        }
        self.take(1);
        if self.peek() == Some(b']') {
            self.take(1);
            return Ok(tags);
        }
        loop {
            let (mut key, mut value) = (None, None);
            let object = self.object_value(|k, c| match k {
                b"key" => c.string_value().map(|v| key = v),
                b"value" => c.string_value().map(|v| value = v),
                _ => c.skip(),
            })?;
            if object {
                tags.set(key, value);
            }
            match self.peek() {
                Some(b',') => self.take(1),
                Some(b']') => {
                    self.take(1);
                    return Ok(tags);
                }
                _ => return Err(Malformed),
            };
        }
    }

    fn response(&mut self, response: &mut Response<'a>) -> Result<()> {
        *response = Response::default();
        self.object_value(|key, c| match key {
            b"credentials" => {
                (response.issued_key_id, response.expiration) = (None, None);
                let (key_id, expiration) = (&mut response.issued_key_id, &mut response.expiration);
                // Only the key id and expiry are read: the secret and token are skipped.
                c.object_value(|key, c| match key {
                    b"accessKeyId" => c.string_value().map(|v| *key_id = v),
                    b"expiration" => c.string_value().map(|v| *expiration = v),
                    _ => c.skip(),
                })
                .map(|_| ())
            }
            b"assumedRoleUser" => c.arn().map(|v| response.assumed_role_arn = v),
            b"subjectFromWebIdentityToken" => c.string_value().map(|v| response.token_subject = v),
            _ => c.skip(),
        })
        .map(drop)
    }
}

/// `bytes` as text, when they are UTF-8.
///
/// Nearly every string a record holds is ASCII, and checking that costs a fraction of
/// `std::str::from_utf8` on these short strings: callgrind on the 20 MB generated file
/// counted 20.8 M instructions in `from_utf8` for its 173 k kept strings, and 14.4 M
/// fewer for the whole replay with this check (344.7 M → 330.3 M).
#[allow(unsafe_code)]
fn text(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: every byte is below 0x80, and a run of ASCII bytes is valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes).ok()
    }
}

/// Unescapes a JSON string body in place; the new length. Lone surrogates become
/// U+FFFD; a backslash that starts no valid escape is dropped. Rare, and kept out of
/// line so that the string reader stays small.
#[cold]
#[inline(never)]
fn unescape(s: &mut [u8]) -> usize {
    const REPLACEMENT: char = '\u{fffd}';
    let (mut read, mut write) = (0, 0);
    let put = |s: &mut [u8], write: &mut usize, c: char| {
        let mut utf8 = [0u8; 4];
        let bytes = c.encode_utf8(&mut utf8).as_bytes();
        s[*write..*write + bytes.len()].copy_from_slice(bytes);
        *write += bytes.len();
    };
    while read < s.len() {
        let Some(at) = memchr::memchr(b'\\', &s[read..]) else {
            s.copy_within(read.., write);
            write += s.len() - read;
            break;
        };
        s.copy_within(read..read + at, write);
        write += at;
        read += at;
        // s[read] is a backslash. Nothing written is longer than what it replaces (`\n`
        // is 2 bytes → 1, `\uXXXX` 6 → at most 3, a surrogate pair 12 → 4), so `write`
        // stays behind `read`.
        let Some(&kind) = s.get(read + 1) else {
            break; // a lone backslash at the end is dropped
        };
        let simple = match kind {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(8),
            b'f' => Some(12),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(byte) = simple {
            s[write] = byte;
            write += 1;
            read += 2;
            continue;
        }
        if kind != b'u' {
            // Not an escape: the backslash is dropped, the letter kept.
            read += 1;
            continue;
        }
        let Some(first) = hex(s, read + 2) else {
            read += 1;
            continue;
        };
        read += 6;
        let c = match first {
            0xD800..=0xDBFF => {
                let low = (s.get(read..read + 2) == Some(b"\\u"))
                    .then(|| hex(s, read + 2))
                    .flatten()
                    .filter(|low| (0xDC00..=0xDFFF).contains(low));
                match low {
                    Some(low) => {
                        read += 6;
                        char::from_u32(0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00))
                    }
                    None => None,
                }
            }
            _ => char::from_u32(first),
        };
        put(s, &mut write, c.unwrap_or(REPLACEMENT));
    }
    write
}

/// Writes `\uFFFD` over each `\uXXXX` escape of a lone UTF-16 surrogate, in place (six
/// bytes for six), so that a full parse reads them as [`unescape`] does: simd-json fails
/// the whole record on a lone low surrogate and reads a lone high one as NUL, and a caller
/// could hide its call by its user agent. Escapes are found by their backslash, which
/// valid JSON has only inside strings.
pub(super) fn mend_lone_surrogates(bytes: &mut [u8]) {
    let escape = |bytes: &[u8], at: usize| {
        (bytes.get(at..at + 2) == Some(b"\\u"))
            .then(|| hex(bytes, at + 2))
            .flatten()
    };
    let mut at = 0;
    while let Some(found) = bytes.get(at..).and_then(|rest| memchr::memchr(b'\\', rest)) {
        at += found;
        match escape(bytes, at) {
            Some(0xD800..=0xDBFF) if matches!(escape(bytes, at + 6), Some(0xDC00..=0xDFFF)) => at += 12,
            Some(0xD800..=0xDFFF) => {
                bytes[at..at + 6].copy_from_slice(b"\\uFFFD");
                at += 6;
            }
            // Any other escape: the backslash and the byte it escapes.
            _ => at += 2,
        }
    }
}

/// The four hex digits at `at`, if they are four hex digits.
fn hex(s: &[u8], at: usize) -> Option<u32> {
    let digits = s.get(at..at + 4)?;
    if !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unescaped(s: &str) -> String {
        let mut bytes = s.as_bytes().to_vec();
        let n = unescape(&mut bytes);
        String::from_utf8(bytes[..n].to_vec()).unwrap()
    }

    #[test]
    fn escapes() {
        let cases = [
            (r"plain", "plain"),
            (r#"a\"b\\c\/d"#, "a\"b\\c/d"),
            (r"\b\f\n\r\t", "\u{8}\u{c}\n\r\t"),
            (r"caf\u00e9 \u65e5", "café 日"),
            (r"\ud83d\ude80!", "🚀!"),
            (r"\ud800", "\u{fffd}"),
            (r"\ud800tail", "\u{fffd}tail"),
            (r"\udc00", "\u{fffd}"),
            (r"\ud800\u0041", "\u{fffd}A"),
            (r"\u12", "u12"),
            (r"\u+123", "u+123"),
            (r"\x", "x"),
            ("end\\", "end"),
        ];
        for (input, want) in cases {
            assert_eq!(unescaped(input), want, "{input}");
        }
    }

    #[test]
    fn skim_reads_fields_and_skips_the_rest() {
        let record = r#"{"eventVersion":"1.09","big":{"a":[1,2,{"b":"}"}]},"userIdentity":
            {"type":"AssumedRole","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:r"},
            "ec2RoleDelivery":"2.0"}},"eventName":"Get\u004fbject","userAgent":"café/1.0","requestParameters":
            {"durationSeconds":900,"tags":[{"key":"eks-cluster-name","value":"prod"}]},
            "responseElements":{"credentials":{"sessionToken":"secret","accessKeyId":"ASIA1"}}}"#
            .as_bytes()
            .to_vec();
        let scratch = Scratch::new();
        let view = skim(&record, &scratch).unwrap();
        assert_eq!(view.event_version, Some("1.09"));
        assert_eq!(view.event_name, Some("GetObject"));
        assert_eq!(view.user_agent, Some("café/1.0"));
        assert_eq!(view.identity.kind, Some("AssumedRole"));
        assert_eq!(view.identity.issuer_arn, Some("arn:r"));
        assert_eq!(view.identity.ec2_role_delivery, Some("2.0"));
        assert_eq!(view.request.duration_seconds, Some(900));
        assert_eq!(view.request.pod_tags.cluster, Some("prod"));
        assert_eq!(view.response.issued_key_id, Some("ASIA1"));
    }

    #[test]
    fn broken_structure_is_an_error() {
        for bad in [
            &br#"{"eventName":"A" "eventSource":"b"}"#[..],
            br#"{"eventName":"A","#,
            br#"{"eventName":}"#,
            br#"{"eventName":"A"} trailing"#,
            br#"{eventName:"A"}"#,
            br#"{"a":{"b":1}"#,
            br#"{"eventName": tru}"#,
            br#"{"readOnly": nonsense}"#,
            b"{\"eventName\":\"\xff\"}",
        ] {
            assert!(
                matches!(skim(bad, &Scratch::new()), Err(RecordError::Json(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(skim(b"[1]", &Scratch::new()), Err(RecordError::NotObject));
        assert_eq!(skim(b"42", &Scratch::new()), Err(RecordError::NotObject));
    }
}
