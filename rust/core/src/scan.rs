//! A validating scanner for one NDJSON session line.
//!
//! Session lines are flat objects (`topic`, `payload`, `timestamp`, `qos`, `retain`, …) whose
//! `payload` is a long escaped string. A general JSON parser would build a tree we throw away;
//! this scanner validates the whole line with JSON's grammar (as Python's `json.loads` accepts
//! it, including `NaN`/`Infinity`) but only records the byte spans of the fields we need.
//! Unescaping happens later and only for the strings we keep.

/// What a top-level value looked like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A string; `escaped` tells whether it holds a backslash.
    Str {
        escaped: bool,
    },
    Null,
    Bool(bool),
    /// An integer literal (no fraction, no exponent).
    Int,
    /// Any other number, including `NaN` and `Infinity`.
    Float,
    Object,
    Array,
}

/// A value's span in the line. For strings the span excludes the quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Value {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

/// The fields of a session line that the reader looks at. Duplicate keys: the last one wins.
#[derive(Default, Debug)]
pub struct Fields {
    pub topic: Option<Value>,
    pub payload: Option<Value>,
    pub timestamp: Option<Value>,
    pub qos: Option<Value>,
    pub retain: Option<Value>,
    pub kind: Option<Value>,
    pub has_session_name: bool,
    /// `payloadEncoding` (the recorder writes `"base64"` for payloads that are not UTF-8).
    pub encoding: Option<Value>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ScanError {
    /// Not valid JSON; the message says where.
    Syntax(String),
    /// Valid JSON, but not an object.
    NotObject,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Bytes of `w` (8 at a time, SWAR) that are `"`, `\` or a control character (< 0x20):
/// the high bit of each such byte is set. The lowest flagged byte is exact (borrows only
/// create false flags above a true one).
#[inline]
fn special_mask(w: u64) -> u64 {
    let quote = w ^ (ONES * u64::from(b'"'));
    let slash = w ^ (ONES * u64::from(b'\\'));
    let zero_q = quote.wrapping_sub(ONES) & !quote;
    let zero_s = slash.wrapping_sub(ONES) & !slash;
    let below = w.wrapping_sub(ONES * 0x20) & !w;
    (zero_q | zero_s | below) & HIGH
}

/// Offset of the first `"`, `\` or control byte in `b` (or `b.len()`).
#[inline]
fn next_special(b: &[u8]) -> usize {
    let mut i = 0;
    while i + 8 <= b.len() {
        let w = u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        let m = special_mask(w);
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && !matches!(b[i], b'"' | b'\\' | 0..=0x1f) {
        i += 1;
    }
    i
}

/// Bit `k` of the result is set when `block[k]` is `"`, `\\` or a control character
/// (< 0x20). `block` holds exactly 64 bytes.
#[cfg(target_arch = "x86_64")]
#[inline]
fn special_mask64(block: &[u8]) -> u64 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    assert!(block.len() >= 64);
    let mut mask = 0u64;
    // SAFETY: SSE2 is part of the x86_64 baseline, so the intrinsics are always available;
    // each unaligned 16-byte load reads `block[16 * k..16 * k + 16]`, in bounds by the assert.
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let slash = _mm_set1_epi8(b'\\' as i8);
        let ctl = _mm_set1_epi8(0x1f);
        for k in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast());
            // v <= 0x1f (unsigned) exactly when min(v, 0x1f) == v.
            let below = _mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v);
            let hit = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, slash)),
                below,
            );
            mask |= u64::from(_mm_movemask_epi8(hit) as u32 as u16) << (16 * k);
        }
    }
    mask
}

/// Portable version of the x86_64 SSE2 [`special_mask64`].
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn special_mask64(block: &[u8]) -> u64 {
    let mut mask = 0u64;
    for (k, &c) in block[..64].iter().enumerate() {
        if matches!(c, b'"' | b'\\' | 0..=0x1f) {
            mask |= 1 << k;
        }
    }
    mask
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

fn syntax(msg: &str, at: usize) -> ScanError {
    ScanError::Syntax(format!("{msg} at column {}", at + 1))
}

impl Scanner<'_> {
    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Validates the escape whose backslash is at the cursor and steps over it.
    #[inline]
    fn escape(&mut self) -> Result<(), ScanError> {
        match self.b.get(self.i + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 2,
            Some(b'u') => {
                let hex = self.b.get(self.i + 2..self.i + 6);
                match hex {
                    Some(h) if h.iter().all(u8::is_ascii_hexdigit) => self.i += 6,
                    _ => return Err(syntax("bad \\u escape", self.i)),
                }
            }
            _ => return Err(syntax("bad escape", self.i)),
        }
        Ok(())
    }

    /// Scans a string starting after its opening quote; returns (end of content, escaped).
    #[inline]
    fn string(&mut self) -> Result<(usize, bool), ScanError> {
        let mut escaped = false;
        // Whole 64-byte blocks: one mask of the special bytes per block, walked bit by bit
        // (payloads are long and hold an escape every few dozen bytes). Same decisions, in
        // the same order, as the byte loop below, which finishes the last partial block.
        'blocks: while let Some(block) = self.b.get(self.i..self.i + 64) {
            let base = self.i;
            let mut mask = special_mask64(block);
            while mask != 0 {
                let p = base + mask.trailing_zeros() as usize;
                match self.b[p] {
                    b'"' => {
                        self.i = p + 1;
                        return Ok((p, escaped));
                    }
                    b'\\' => {
                        escaped = true;
                        self.i = p;
                        self.escape()?;
                        let skip = self.i - base;
                        if skip >= 64 {
                            continue 'blocks;
                        }
                        mask &= !0u64 << skip;
                    }
                    // Control characters are not allowed raw inside JSON strings.
                    _ => return Err(syntax("control character in string", p)),
                }
            }
            self.i = base + 64;
        }
        loop {
            self.i += next_special(&self.b[self.i..]);
            match self.b.get(self.i) {
                None => return Err(syntax("unterminated string", self.b.len())),
                Some(b'"') => {
                    let end = self.i;
                    self.i += 1;
                    return Ok((end, escaped));
                }
                Some(b'\\') => {}
                // Control characters are not allowed raw inside JSON strings.
                Some(_) => return Err(syntax("control character in string", self.i)),
            }
            escaped = true;
            self.escape()?;
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Kind, ScanError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
            if self.literal(b"Infinity") {
                return Ok(Kind::Float);
            }
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(syntax("bad number", start)),
        }
        let mut kind = Kind::Int;
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(syntax("bad number", start));
            }
            kind = Kind::Float;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(syntax("bad number", start));
            }
            kind = Kind::Float;
        }
        Ok(kind)
    }

    /// Scans any value at the cursor (after whitespace) and returns its span.
    fn value(&mut self, depth: u32) -> Result<Value, ScanError> {
        if depth > 512 {
            return Err(syntax("nesting too deep", self.i));
        }
        let start = self.i;
        let kind = match self.peek() {
            Some(b'"') => {
                self.i += 1;
                let (end, escaped) = self.string()?;
                return Ok(Value {
                    kind: Kind::Str { escaped },
                    start: start + 1,
                    end,
                });
            }
            Some(b'{') => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        if self.peek() != Some(b'"') {
                            return Err(syntax("expected a key", self.i));
                        }
                        self.i += 1;
                        self.string()?;
                        self.ws();
                        if self.peek() != Some(b':') {
                            return Err(syntax("expected ':'", self.i));
                        }
                        self.i += 1;
                        self.ws();
                        self.value(depth + 1)?;
                        self.ws();
                        match self.peek() {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(syntax("expected ',' or '}'", self.i)),
                        }
                    }
                }
                Kind::Object
            }
            Some(b'[') => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        self.value(depth + 1)?;
                        self.ws();
                        match self.peek() {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(syntax("expected ',' or ']'", self.i)),
                        }
                    }
                }
                Kind::Array
            }
            Some(b't') if self.literal(b"true") => Kind::Bool(true),
            Some(b'f') if self.literal(b"false") => Kind::Bool(false),
            Some(b'n') if self.literal(b"null") => Kind::Null,
            Some(b'N') if self.literal(b"NaN") => Kind::Float,
            Some(b'I') if self.literal(b"Infinity") => Kind::Float,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(_) => return Err(syntax("unexpected character", self.i)),
            None => return Err(syntax("unexpected end of line", self.i)),
        };
        Ok(Value {
            kind,
            start,
            end: self.i,
        })
    }
}

/// Scans one line (without its newline). Validates all of it; records the known fields.
pub fn scan_line(line: &[u8]) -> Result<Fields, ScanError> {
    let mut s = Scanner { b: line, i: 0 };
    s.ws();
    if s.peek() != Some(b'{') {
        // Valid JSON that is not an object is a different error from garbage.
        let v = s.value(0)?;
        let _ = v;
        s.ws();
        if s.i != line.len() {
            return Err(syntax("extra data", s.i));
        }
        return Err(ScanError::NotObject);
    }
    s.i += 1;
    let mut f = Fields::default();
    s.ws();
    if s.peek() == Some(b'}') {
        s.i += 1;
    } else {
        loop {
            s.ws();
            if s.peek() != Some(b'"') {
                return Err(syntax("expected a key", s.i));
            }
            s.i += 1;
            let kstart = s.i;
            let (kend, kesc) = s.string()?;
            s.ws();
            if s.peek() != Some(b':') {
                return Err(syntax("expected ':'", s.i));
            }
            s.i += 1;
            s.ws();
            let v = s.value(1)?;
            let raw_key = &line[kstart..kend];
            let owned;
            let key: &[u8] = if kesc {
                owned = unescape(raw_key);
                owned.as_bytes()
            } else {
                raw_key
            };
            match key {
                b"topic" => f.topic = Some(v),
                b"payload" => f.payload = Some(v),
                b"timestamp" => f.timestamp = Some(v),
                b"qos" => f.qos = Some(v),
                b"retain" => f.retain = Some(v),
                b"_kind" => f.kind = Some(v),
                b"session_name" => f.has_session_name = true,
                b"payloadEncoding" => f.encoding = Some(v),
                _ => {}
            }
            s.ws();
            match s.peek() {
                Some(b',') => s.i += 1,
                Some(b'}') => {
                    s.i += 1;
                    break;
                }
                _ => return Err(syntax("expected ',' or '}'", s.i)),
            }
        }
    }
    s.ws();
    if s.i != line.len() {
        return Err(syntax("extra data", s.i));
    }
    Ok(f)
}

fn hex4(b: &[u8]) -> u32 {
    b.iter().fold(0u32, |acc, &c| {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => c - b'A' + 10,
        };
        (acc << 4) | u32::from(d)
    })
}

/// Unescapes the content of a JSON string that the scanner validated. Lone surrogates
/// become U+FFFD (Rust strings cannot hold them). Input must be valid UTF-8 apart from escapes.
pub fn unescape_into(raw: &[u8], out: &mut String) {
    let mut i = 0;
    while i < raw.len() {
        let Some(pos) = memchr::memchr(b'\\', &raw[i..]) else {
            push_str_lossy(out, &raw[i..]);
            return;
        };
        push_str_lossy(out, &raw[i..i + pos]);
        i += pos;
        let c = raw.get(i + 1).copied().unwrap_or(b'\\');
        i += 2;
        match c {
            b'n' => out.push('\n'),
            b't' => out.push('\t'),
            b'r' => out.push('\r'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'u' if i + 4 <= raw.len() => {
                let hi = hex4(&raw[i..i + 4]);
                i += 4;
                if (0xD800..0xDC00).contains(&hi) {
                    // A high surrogate must be followed by an escaped low surrogate.
                    if raw.get(i) == Some(&b'\\')
                        && raw.get(i + 1) == Some(&b'u')
                        && i + 6 <= raw.len()
                    {
                        let lo = hex4(&raw[i + 2..i + 6]);
                        if (0xDC00..0xE000).contains(&lo) {
                            let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                            out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                            i += 6;
                            continue;
                        }
                    }
                    out.push('\u{FFFD}');
                } else {
                    out.push(char::from_u32(hi).unwrap_or('\u{FFFD}'));
                }
            }
            other => out.push(char::from(other)),
        }
    }
}

/// As [`unescape_into`] for input known to be valid UTF-8 (skips re-validation).
///
/// # Safety
/// `raw` must be valid UTF-8 (for example a slice between ASCII delimiters of a buffer that
/// passed `std::str::from_utf8`).
pub unsafe fn unescape_into_utf8(raw: &[u8], out: &mut String) {
    let mut i = 0;
    while i < raw.len() {
        let Some(pos) = memchr::memchr(b'\\', &raw[i..]) else {
            // SAFETY: a sub-slice of valid UTF-8 that ends at the end of `raw`.
            out.push_str(unsafe { std::str::from_utf8_unchecked(&raw[i..]) });
            return;
        };
        // SAFETY: ends before an ASCII backslash, so on a character boundary.
        out.push_str(unsafe { std::str::from_utf8_unchecked(&raw[i..i + pos]) });
        i += pos;
        let next = raw.get(i + 1).copied().unwrap_or(b'\\');
        if next == b'u' {
            // Rare: the general path takes this escape and everything after it.
            unescape_into(&raw[i..], out);
            return;
        }
        i += 2;
        out.push(match next {
            b'n' => '\n',
            b't' => '\t',
            b'r' => '\r',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            other => char::from(other),
        });
    }
}

#[inline]
fn push_str_lossy(out: &mut String, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(b)),
    }
}

pub fn unescape(raw: &[u8]) -> String {
    let mut s = String::with_capacity(raw.len());
    unescape_into(raw, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_fields() {
        let line = br#"{"topic": "a/b", "payload": "{\"x\":1}", "timestamp": "2025-01-01T00:00:00Z", "qos": 1, "retain": true, "x": [1, {"y": NaN}]}"#;
        let f = scan_line(line).unwrap();
        let t = f.topic.unwrap();
        assert_eq!(&line[t.start..t.end], b"a/b");
        let p = f.payload.unwrap();
        assert_eq!(p.kind, Kind::Str { escaped: true });
        assert_eq!(unescape(&line[p.start..p.end]), "{\"x\":1}");
        assert_eq!(f.qos.unwrap().kind, Kind::Int);
        assert_eq!(f.retain.unwrap().kind, Kind::Bool(true));
    }

    #[test]
    fn rejects_bad_json() {
        for bad in [
            &b"{"[..],
            b"{\"a\":}",
            b"{\"a\":01}",
            b"{\"a\":1,}",
            b"{\"a\":\"\x01\"}",
            b"{\"a\":\"\\x\"}",
            b"{} x",
            b"",
        ] {
            assert!(
                matches!(scan_line(bad), Err(ScanError::Syntax(_))),
                "{bad:?}"
            );
        }
        assert_eq!(scan_line(b"[1]").unwrap_err(), ScanError::NotObject);
        assert_eq!(scan_line(b" true ").unwrap_err(), ScanError::NotObject);
    }

    #[test]
    fn swar_scan_agrees_with_a_byte_loop() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let pool = [
            b'a', b'"', b'\\', 0x1f, 0x20, 0x7f, 0x80, 0xff, b'{', 0x00, 0x21, 0x5b,
        ];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|k| pool[((x >> (k % 60)) as usize + k * 7) % pool.len()])
                .collect();
            let naive = bytes
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .unwrap_or(bytes.len());
            assert_eq!(next_special(&bytes), naive, "{bytes:?}");
        }
    }

    #[test]
    fn block_mask_agrees_with_a_byte_loop() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..5_000 {
            let block: Vec<u8> = (0..64)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    [b'a', b'"', b'\\', 0x1f, 0x20, 0x00, 0x80, 0xff, 0x9f][(x % 9) as usize]
                })
                .collect();
            let naive = block
                .iter()
                .enumerate()
                .filter(|(_, &c)| c == b'"' || c == b'\\' || c < 0x20)
                .fold(0u64, |m, (k, _)| m | 1 << k);
            assert_eq!(special_mask64(&block), naive, "{block:?}");
        }
    }

    #[test]
    fn block_scan_agrees_with_the_byte_scan() {
        // Strings long enough for the block path, with escapes straddling block edges and
        // errors at every position; compare against a byte-at-a-time reference.
        fn reference(b: &[u8]) -> Result<(usize, bool), ScanError> {
            let mut i = 0;
            let mut escaped = false;
            loop {
                match b.get(i) {
                    None => return Err(syntax("unterminated string", b.len())),
                    Some(b'"') => return Ok((i, escaped)),
                    Some(b'\\') => {
                        escaped = true;
                        let mut s = Scanner { b, i };
                        s.escape()?;
                        i = s.i;
                    }
                    Some(0..=0x1f) => return Err(syntax("control character in string", i)),
                    Some(_) => i += 1,
                }
            }
        }
        let pieces: [&[u8]; 10] = [
            b"abcdefg",
            b"\\\"",
            b"\\\\",
            b"\\u00e9",
            b"\\u12",
            b"\\x",
            b"\x01",
            b"\"",
            b"\xc3\xa9",
            b"\\n",
        ];
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..20_000 {
            let mut line = Vec::new();
            while line.len() < 200 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let k = (x % 64) as usize;
                // Mostly plain text and good escapes; rarely an error or a quote.
                let piece = if k < 40 {
                    0
                } else if k < 60 {
                    1 + k % 3
                } else {
                    1 + k % 9
                };
                line.extend_from_slice(pieces[piece]);
            }
            let cut = (x % 200) as usize;
            let b = &line[..cut];
            let mut s = Scanner { b, i: 0 };
            assert_eq!(s.string(), reference(b), "{b:?}");
        }
    }

    #[test]
    fn fast_unescape_agrees() {
        let cases: [&[u8]; 4] = [
            b"plain",
            br#"a\"b\\c\/d\n\t\r\b\f"#,
            br"x\u00e9y\ud83d\ude00z",
            br"\u0041",
        ];
        for raw in cases {
            let mut fast = String::new();
            // SAFETY: the test inputs are ASCII.
            unsafe { unescape_into_utf8(raw, &mut fast) };
            assert_eq!(fast, unescape(raw));
        }
    }

    #[test]
    fn unescapes_surrogates() {
        assert_eq!(unescape(br"\ud83d\ude00"), "\u{1F600}");
        assert_eq!(unescape(br"\ud83dA"), "\u{FFFD}A");
        assert_eq!(unescape(br"\ude00\u0041"), "\u{FFFD}A");
        assert_eq!(unescape(br"\ud83d\u0041"), "\u{FFFD}A");
    }
}
