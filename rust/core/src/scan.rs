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
#[derive(Default, Debug, PartialEq, Eq)]
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
    Syntax(Syntax),
    /// Valid JSON, but not an object.
    NotObject,
}

/// Deepest nesting of a line the scanner accepts: far above real data and above what
/// Python's `json` reads with its default recursion limit (about 1,000 levels).
pub const MAX_DEPTH: u32 = 4096;

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

/// Per-byte class masks of a 64-byte block: bit `k` describes `block[k]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Masks {
    quote: u64,
    slash: u64,
    /// Control characters (< 0x20).
    ctl: u64,
    /// Bytes >= 0x80 (parts of non-ASCII characters, or invalid UTF-8).
    high: u64,
}

/// The class masks of `block[..64]`.
#[cfg(target_arch = "x86_64")]
#[inline]
fn masks64(block: &[u8]) -> Masks {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_set1_epi8,
    };
    assert!(block.len() >= 64);
    let mut m = Masks {
        quote: 0,
        slash: 0,
        ctl: 0,
        high: 0,
    };
    // SAFETY: SSE2 is part of the x86_64 baseline, so the intrinsics are always available;
    // each unaligned 16-byte load reads `block[16 * k..16 * k + 16]`, in bounds by the assert.
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let slash = _mm_set1_epi8(b'\\' as i8);
        let ctl = _mm_set1_epi8(0x1f);
        for k in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast());
            let bits = |x| u64::from(_mm_movemask_epi8(x) as u32 as u16) << (16 * k);
            m.quote |= bits(_mm_cmpeq_epi8(v, quote));
            m.slash |= bits(_mm_cmpeq_epi8(v, slash));
            // v <= 0x1f (unsigned) exactly when min(v, 0x1f) == v.
            m.ctl |= bits(_mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v));
            m.high |= bits(v);
        }
    }
    m
}

/// Portable version of the x86_64 SSE2 [`masks64`].
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn masks64(block: &[u8]) -> Masks {
    let mut m = Masks {
        quote: 0,
        slash: 0,
        ctl: 0,
        high: 0,
    };
    for (k, &c) in block[..64].iter().enumerate() {
        match c {
            b'"' => m.quote |= 1 << k,
            b'\\' => m.slash |= 1 << k,
            0..=0x1f => m.ctl |= 1 << k,
            0x80.. => m.high |= 1 << k,
            _ => {}
        }
    }
    m
}

const ODD_BITS: u64 = 0xAAAA_AAAA_AAAA_AAAA;

/// For backslash positions `slash` of a block whose first byte is not escaped: the positions
/// of the escaped characters (the byte after each escaping backslash; runs of backslashes
/// pair up from their start) and whether the last byte is an escaping backslash (its
/// escaped character lies in the next block). simdjson's carry-based series trick.
#[inline]
fn escaped_mask(slash: u64) -> (u64, bool) {
    let maybe_escaped = slash << 1;
    let even_series_codes_and_odd_bits = (maybe_escaped | ODD_BITS).wrapping_sub(slash);
    let escape_and_terminal_code = even_series_codes_and_odd_bits ^ ODD_BITS;
    let escaped = escape_and_terminal_code ^ slash;
    let escape = escape_and_terminal_code & slash;
    (escaped, escape >> 63 == 1)
}

/// A 64-byte block of a string body, classified.
struct Block {
    m: Masks,
    /// Positions of escaped characters.
    esc: u64,
    /// The last byte is an escaping backslash (its character is in the next block).
    carry: bool,
    /// Unescaped quotes: where the string may end.
    ends: u64,
    /// Bits up to and including the first end (all bits when there is none).
    upto: u64,
}

/// Classifies `block[..64]`, whose first byte is not escaped.
#[inline]
fn classify(block: &[u8]) -> Block {
    let m = masks64(block);
    let (esc, carry) = if m.slash == 0 {
        (0, false)
    } else {
        escaped_mask(m.slash)
    };
    let ends = m.quote & !esc;
    Block {
        m,
        esc,
        carry,
        ends,
        upto: ends ^ ends.wrapping_sub(1),
    }
}

/// The characters that may follow a backslash on their own (`\\u` needs four hex digits).
static SIMPLE_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut k = 0;
    let chars = *b"\"\\/bfnrt";
    while k < chars.len() {
        t[chars[k] as usize] = true;
        k += 1;
    }
    t
};

/// Where and why a line is not JSON; displays as "`msg` at column `at + 1`".
#[derive(Debug, PartialEq, Eq)]
pub struct Syntax {
    pub msg: &'static str,
    /// 0-based byte offset in the line.
    pub at: usize,
}

impl std::fmt::Display for Syntax {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at column {}", self.msg, self.at + 1)
    }
}

/// The cursor over one line. With `NL`, the buffer may run on past the line: a newline is
/// then never whitespace, so nothing the scanner accepts can cross it (strings reject it as
/// a control character, numbers and literals stop before it).
struct Scanner<'a, const NL: bool> {
    b: &'a [u8],
    i: usize,
}

#[cold]
fn syntax(msg: &'static str, at: usize) -> ScanError {
    ScanError::Syntax(Syntax { msg, at })
}

impl<const NL: bool> Scanner<'_, NL> {
    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\t' | b'\r') || (!NL && c == b'\n') {
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
            Some(&c) if SIMPLE_ESCAPE[usize::from(c)] => {
                self.i += 2;
                Ok(())
            }
            _ => self.escape_rare(),
        }
    }

    /// [`Scanner::escape`] for `\\u` escapes and errors.
    #[cold]
    #[inline(never)]
    fn escape_rare(&mut self) -> Result<(), ScanError> {
        match self.b.get(self.i + 1) {
            Some(&c) if SIMPLE_ESCAPE[usize::from(c)] => self.i += 2,
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
        self.string_from(false)
    }

    /// As [`Scanner::string`], also unescaping the content into `out` (see [`Out::done`]).
    /// Validates exactly as `string` does and returns the same.
    #[inline]
    fn string_into(&mut self, out: &mut Out) -> Result<(usize, bool), ScanError> {
        let start = self.i;
        let mut escaped = false;
        let mut high = false;
        // The common blocks of `string_from`; in them every escape is `\"` or `\\`, so the
        // content is the bytes less each escaping backslash. Anything else: leave the rest
        // to `string_from` (from the cursor, never inside an escape) and to the caller's
        // general unescaping.
        while let Some(block) = self.b.get(self.i..self.i + 64) {
            let base = self.i;
            let Block {
                m,
                esc,
                carry,
                ends,
                upto,
            } = classify(block);
            if ((esc & !(m.quote | m.slash)) | m.ctl) & upto != 0 {
                break;
            }
            escaped |= m.slash & upto != 0;
            high |= m.high & upto != 0;
            // Content bytes of this block: up to the end quote, or all but an escaping
            // backslash in the last byte (the next block starts at it).
            let n = if ends == 0 {
                64 - usize::from(carry)
            } else {
                ends.trailing_zeros() as usize
            };
            let below_n = if n == 64 { !0 } else { (1u64 << n) - 1 };
            out.push_without(&self.b[base..], n, m.slash & !esc & below_n);
            if ends != 0 {
                let end = base + n;
                self.i = end + 1;
                // Removing ASCII backslashes keeps valid UTF-8 valid; invalid UTF-8 is
                // left to the caller's lossy unescaping.
                out.done = !high || std::str::from_utf8(&self.b[start..end]).is_ok();
                return Ok((end, escaped));
            }
            self.i = base + n;
        }
        self.string_from(escaped)
    }

    /// The rest of a string, from a cursor that is not inside an escape.
    #[inline]
    fn string_from(&mut self, mut escaped: bool) -> Result<(usize, bool), ScanError> {
        // Whole 64-byte blocks, each starting at the cursor (never inside an escape). The
        // common block (no control character, only `\"` and `\\` escapes before the end) is
        // settled with masks alone; any other block is walked special byte by special byte,
        // making the same decisions in the same order as the byte loop below (which finishes
        // the last partial block), so errors and their columns are the same.
        'blocks: while let Some(block) = self.b.get(self.i..self.i + 64) {
            let base = self.i;
            let Block {
                m,
                esc,
                carry,
                ends,
                upto,
            } = classify(block);
            let odd = ((esc & !(m.quote | m.slash)) | m.ctl) & upto;
            if odd == 0 {
                escaped |= m.slash & upto != 0;
                if ends != 0 {
                    let p = base + ends.trailing_zeros() as usize;
                    self.i = p + 1;
                    return Ok((p, escaped));
                }
                // A backslash in the last byte escapes the next block's first: restart at it.
                self.i = base + 64 - usize::from(carry);
                continue;
            }
            let mut mask = m.quote | m.slash | m.ctl;
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

    /// Scans any value at the cursor (after whitespace) and returns its span. Recursion is
    /// bounded by [`MAX_DEPTH`], which fits a 2 MiB thread stack (tested).
    fn value(&mut self, depth: u32) -> Result<Value, ScanError> {
        if depth > MAX_DEPTH {
            return Err(syntax("nesting deeper than 4,096 levels", self.i));
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

/// Full mode's payload text of a chunk, which `scan_line_prefix_into` writes as it
/// validates.
///
/// `buf[..mark]` is the committed text (valid UTF-8, whole rows' payloads); the current
/// line's tentative payload is `buf[mark..w]`, and only [`Out::commit`] (when the scan
/// proved it exact, see [`Out::done`]) or [`Out::commit_text`] makes it part of the text.
#[derive(Debug, Default)]
pub struct Out {
    buf: Vec<u8>,
    mark: usize,
    w: usize,
    /// The line's (last) `payload` value was a string, and `buf[mark..w]` is its unescaped
    /// text exactly as [`unescape`] makes it, which is valid UTF-8.
    done: bool,
}

/// Asks the kernel to back the 2 MiB-aligned part of a big fresh buffer with transparent
/// huge pages: writing hundreds of MB of payload text then takes a few hundred page faults
/// instead of one per 4 KiB page.
#[cfg(target_os = "linux")]
fn advise_huge_pages(buf: &[u8]) {
    const HUGE: usize = 2 << 20;
    let start = buf.as_ptr() as usize;
    let first = start.next_multiple_of(HUGE);
    let end = (start + buf.len()) / HUGE * HUGE;
    if end > first {
        // SAFETY: `first..end` lies inside `buf`'s allocation and is page-aligned;
        // MADV_HUGEPAGE is only advice about how to back the range, it changes neither its
        // contents nor its validity. Failure (no THP support) changes nothing either.
        unsafe {
            libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_buf: &[u8]) {}

/// Spare bytes `Out` keeps past `w` while a block is copied (fixed-size copies overshoot).
const OUT_SLACK: usize = 128;

impl Out {
    /// Room for about `n` payload bytes (no page is touched before it is written).
    pub fn with_capacity(n: usize) -> Self {
        let buf = vec![0; n + OUT_SLACK];
        advise_huge_pages(&buf);
        Out {
            buf,
            mark: 0,
            w: 0,
            done: false,
        }
    }

    /// Length of the committed text.
    pub fn len(&self) -> usize {
        self.mark
    }

    pub fn is_empty(&self) -> bool {
        self.mark == 0
    }

    /// Whether the last scan left this line's payload text ready for [`Out::commit`].
    pub fn done(&self) -> bool {
        self.done
    }

    /// Drops the current line's tentative text.
    pub fn rollback(&mut self) {
        self.w = self.mark;
        self.done = false;
    }

    /// Keeps the current line's text if the scan finished it (else drops it); returns
    /// whether it was kept.
    pub fn commit(&mut self) -> bool {
        let kept = self.done;
        if kept {
            self.mark = self.w;
        }
        self.rollback();
        kept
    }

    /// Replaces the current line's text by `text` and keeps it.
    pub fn commit_text(&mut self, text: &str) {
        self.rollback();
        self.push(text.as_bytes());
        self.mark = self.w;
    }

    #[inline]
    fn room(&mut self, n: usize) {
        if self.w + n > self.buf.len() {
            let len = (self.buf.len() * 2).max(self.w + n);
            self.buf.resize(len, 0);
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.room(bytes.len());
        self.buf[self.w..self.w + bytes.len()].copy_from_slice(bytes);
        self.w += bytes.len();
    }

    /// Appends `src[..n]` (`n <= 64`) less the bytes whose bits are set in `drop`.
    #[inline]
    fn push_without(&mut self, src: &[u8], n: usize, mut drop: u64) {
        self.room(OUT_SLACK);
        let mut from = 0;
        loop {
            let to = if drop == 0 {
                n
            } else {
                drop.trailing_zeros() as usize
            };
            let len = to - from;
            let seg = &src[from..];
            // Fixed-size copies (a segment is at most 64 bytes); what they write past the
            // segment lies in the slack and is overwritten or cut off later.
            if seg.len() >= 64 {
                let dst = &mut self.buf[self.w..self.w + 64];
                dst[..32].copy_from_slice(&seg[..32]);
                if len > 32 {
                    dst[32..].copy_from_slice(&seg[32..64]);
                }
            } else {
                self.buf[self.w..self.w + len].copy_from_slice(&seg[..len]);
            }
            self.w += len;
            if drop == 0 {
                return;
            }
            from = to + 1;
            drop &= drop - 1;
        }
    }

    /// The committed text.
    pub fn into_string(mut self) -> String {
        self.buf.truncate(self.mark);
        self.buf.shrink_to_fit();
        // SAFETY: `buf[..mark]` only ever grows by `commit_text` (bytes of a `&str`) or by
        // `commit` of a text the scan marked `done`: `string_into` sets `done` only when the
        // string's raw bytes are valid UTF-8 (pure ASCII, or checked with `from_utf8`) and
        // the text is those bytes less some ASCII backslashes, which is still valid UTF-8.
        // Whole valid pieces concatenate to valid UTF-8.
        unsafe { String::from_utf8_unchecked(self.buf) }
    }
}

/// Scans one line (without its newline). Validates all of it; records the known fields.
pub fn scan_line(line: &[u8]) -> Result<Fields, ScanError> {
    let mut s = Scanner::<false> { b: line, i: 0 };
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
    let f = s.object(None)?;
    s.ws();
    if s.i != line.len() {
        return Err(syntax("extra data", s.i));
    }
    Ok(f)
}

/// Scans the line at the start of `buf`, which runs on past it, without looking for its end
/// first. Succeeds only for the common case, a valid object line: returns its fields and the
/// offset of the newline ending it (or `buf.len()`). Then `scan_line` on `buf[..end]` (less
/// a trailing `\r`) gives the same fields. `None` for anything else (the caller cuts the
/// line and calls `scan_line` for the exact error).
pub fn scan_line_prefix(buf: &[u8]) -> Option<(Fields, usize)> {
    scan_prefix(buf, None)
}

/// As [`scan_line_prefix`], also unescaping the payload into `out` (see [`Out::done`]).
pub fn scan_line_prefix_into(buf: &[u8], out: &mut Out) -> Option<(Fields, usize)> {
    scan_prefix(buf, Some(out))
}

#[inline]
fn scan_prefix(buf: &[u8], mut out: Option<&mut Out>) -> Option<(Fields, usize)> {
    if let Some(o) = out.as_deref_mut() {
        o.rollback();
    }
    let mut s = Scanner::<true> { b: buf, i: 0 };
    s.ws();
    let scanned = if s.peek() == Some(b'{') {
        s.object(out.as_deref_mut()).ok()
    } else {
        None
    };
    let ended = scanned.is_some() && {
        s.ws();
        matches!(s.peek(), None | Some(b'\n'))
    };
    match scanned {
        Some(f) if ended => Some((f, s.i)),
        _ => {
            if let Some(o) = out {
                o.rollback();
            }
            None
        }
    }
}

impl<const NL: bool> Scanner<'_, NL> {
    /// The top-level object (cursor on its `{`); records the known fields. With `out`, a
    /// string payload is unescaped into it as it is scanned.
    #[inline]
    fn object(&mut self, mut out: Option<&mut Out>) -> Result<Fields, ScanError> {
        let s = self;
        s.i += 1;
        let mut f = Fields::default();
        s.ws();
        if s.peek() == Some(b'}') {
            s.i += 1;
            return Ok(f);
        }
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
            let raw_key = &s.b[kstart..kend];
            let owned;
            let key: &[u8] = if kesc {
                owned = unescape(raw_key);
                owned.as_bytes()
            } else {
                raw_key
            };
            // A later `payload` replaces an earlier one.
            let mut sink = None;
            if key == b"payload" {
                if let Some(o) = out.as_deref_mut() {
                    o.rollback();
                    sink = Some(o);
                }
            }
            // Strings (most values) directly; `value` would do the same.
            let v = if s.peek() == Some(b'"') {
                s.i += 1;
                let start = s.i;
                let (end, escaped) = match sink {
                    Some(o) => s.string_into(o)?,
                    None => s.string()?,
                };
                Value {
                    kind: Kind::Str { escaped },
                    start,
                    end,
                }
            } else {
                s.value(1)?
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
                    return Ok(f);
                }
                _ => return Err(syntax("expected ',' or '}'", s.i)),
            }
        }
    }
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
    fn block_masks_agree_with_a_byte_loop() {
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
            let bits = |f: &dyn Fn(u8) -> bool| {
                block
                    .iter()
                    .enumerate()
                    .filter(|(_, &c)| f(c))
                    .fold(0u64, |m, (k, _)| m | 1 << k)
            };
            let naive = Masks {
                quote: bits(&|c| c == b'"'),
                slash: bits(&|c| c == b'\\'),
                ctl: bits(&|c| c < 0x20),
                high: bits(&|c| c >= 0x80),
            };
            assert_eq!(masks64(&block), naive, "{block:?}");
        }
    }

    #[test]
    fn escaped_mask_agrees_with_a_byte_loop() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for round in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Dense and sparse backslash patterns, long runs included.
            let slash = match round % 3 {
                0 => x,
                1 => x & x.rotate_left(7),
                _ => x | x.rotate_left(3),
            };
            let (mut escaped, mut carry) = (0u64, false);
            let mut k = 0;
            while k < 64 {
                if slash >> k & 1 == 1 {
                    if k == 63 {
                        carry = true;
                    } else {
                        escaped |= 1 << (k + 1);
                    }
                    k += 2;
                } else {
                    k += 1;
                }
            }
            assert_eq!(escaped_mask(slash), (escaped, carry), "{slash:064b}");
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
                        let mut s = Scanner::<false> { b, i };
                        s.escape()?;
                        i = s.i;
                    }
                    Some(0..=0x1f) => return Err(syntax("control character in string", i)),
                    Some(_) => i += 1,
                }
            }
        }
        let pieces: [&[u8]; 11] = [
            b"abcdefg",
            b"\\",
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
        let mut long_ok = 0;
        for _ in 0..50_000 {
            let mut line = Vec::new();
            while line.len() < 300 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let k = (x % 64) as usize;
                // Mostly plain text and good escapes; rarely an error or a quote.
                let piece = if k < 40 {
                    0
                } else if k < 60 {
                    2 + k % 3
                } else {
                    1 + k % 10
                };
                line.extend_from_slice(pieces[piece]);
            }
            let cut = (x % 300) as usize;
            let b = &line[..cut];
            let mut s = Scanner::<false> { b, i: 0 };
            let expect = reference(b);
            assert_eq!(s.string(), expect, "{b:?}");
            long_ok += usize::from(matches!(expect, Ok((end, _)) if end >= 128));
        }
        // The block path really ran on long, well-formed strings.
        assert!(long_ok > 200, "{long_ok}");
    }

    #[test]
    fn prefix_scan_agrees_with_the_line_scan() {
        let templates: [&[u8]; 6] = [
            br#"{"topic":"a/b","payload":"{\"x\":[1,2,{\"y\":\"\\\\z\"}]}","timestamp":"2026-01-15T09:00:00.000Z","qos":0,"retain":false}"#,
            br#" { "topic" : "t" , "payload" : null , "qos" : 1.5e3 , "x" : [ true , false , null , NaN , -Infinity ] } "#,
            br#"{"_kind":"session_meta","session_name":"s","n":{"a":{"b":[]}}}"#,
            br#"{"t\u006fpic":"x","payload":"\ud83d\ude00","retain":1,"payloadEncoding":"base64"}"#,
            b"{}",
            b"[1, 2]",
        ];
        let pool = [
            b'\n', b'\r', b' ', b'"', b'\\', b'{', b'}', b',', b':', b'x', b'1', 0x01, 0xff, b'\t',
        ];
        let tails: [&[u8]; 5] = [b"", b"\n", b"\r\n{\"a\":1}\n", b"\n\n", b" x\n"];
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut agreed_ok = 0;
        for round in 0..60_000 {
            let mut line = templates[round % templates.len()].to_vec();
            for _ in 0..(next() % 3) {
                let at = (next() as usize) % (line.len() + 1);
                match next() % 3 {
                    0 => line.insert(at, pool[(next() as usize) % pool.len()]),
                    1 if at < line.len() => {
                        line.remove(at);
                    }
                    _ => line.truncate(at),
                }
            }
            line.extend_from_slice(tails[(next() as usize) % tails.len()]);
            let nl = line.iter().position(|&c| c == b'\n').unwrap_or(line.len());
            let mut exact = &line[..nl];
            if let [rest @ .., b'\r'] = exact {
                exact = rest;
            }
            let want = scan_line(exact);
            match scan_line_prefix(&line) {
                Some((f, end)) => {
                    assert_eq!(end, nl, "{line:?}");
                    assert_eq!(want, Ok(f), "{line:?}");
                    agreed_ok += 1;
                }
                None => assert!(want.is_err(), "{line:?}"),
            }
        }
        assert!(agreed_ok > 10_000, "{agreed_ok}");
    }

    #[test]
    fn payload_text_of_the_scan_agrees_with_unescape() {
        let pieces: [&[u8]; 12] = [
            b"abcdefghijklmnopqrstuvwxyz",
            b"\\\"",
            b"\\\\",
            b"\\n",
            b"\\/",
            b"\\u00e9",
            b"\\ud83d\\ude00",
            b"\xc3\xa9",
            b"\xe2\x82\xac",
            b"\xff",
            b"\xe2\x82",
            b"0123456789",
        ];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut out = Out::with_capacity(0);
        let mut expect = String::new();
        let (mut fast, mut slow) = (0, 0);
        for round in 0..20_000 {
            let mut raw = Vec::new();
            let len = (next() % 400) as usize;
            while raw.len() < len {
                let k = (next() % 64) as usize;
                // Mostly ASCII with `\"` and `\\`; sometimes anything else.
                let piece = if k < 30 {
                    0
                } else if k < 50 {
                    1 + k % 2
                } else if k < 54 {
                    11
                } else {
                    k % 12
                };
                raw.extend_from_slice(pieces[piece]);
            }
            let mut line = b"{\"topic\":\"t\",\"payload\":\"".to_vec();
            line.extend_from_slice(&raw);
            line.extend_from_slice(b"\",\"qos\":0}");
            if round % 2 == 0 {
                line.extend_from_slice(b"\n{\"next\":1}");
            }
            let (f, _) = scan_line_prefix_into(&line, &mut out).expect("valid line");
            let p = f.payload.unwrap();
            assert_eq!(&line[p.start..p.end], &raw[..]);
            let text = unescape(&raw);
            if out.commit() {
                fast += 1;
            } else {
                slow += 1;
                out.commit_text(&text);
            }
            expect.push_str(&text);
            if round % 3 == 0 {
                // A line that makes no row leaves nothing behind.
                assert!(scan_line_prefix_into(&line, &mut out).is_some());
                out.rollback();
            }
        }
        assert!(fast > 1_000 && slow > 1_000, "{fast} {slow}");
        assert_eq!(out.into_string(), expect);
    }

    #[test]
    fn unescapes_surrogates() {
        assert_eq!(unescape(br"\ud83d\ude00"), "\u{1F600}");
        assert_eq!(unescape(br"\ud83dA"), "\u{FFFD}A");
        assert_eq!(unescape(br"\ude00\u0041"), "\u{FFFD}A");
        assert_eq!(unescape(br"\ud83d\u0041"), "\u{FFFD}A");
    }
}

#[cfg(test)]
mod depth_tests {
    use super::*;

    fn nested(depth: usize) -> Vec<u8> {
        let mut s = b"{\"topic\":\"t\",\"payload\":\"x\",\"meta\":".to_vec();
        s.extend(std::iter::repeat_n(b'[', depth));
        s.extend(std::iter::repeat_n(b']', depth));
        s.push(b'}');
        s
    }

    #[test]
    fn deep_lines_that_python_reads_are_kept() {
        // Reported: lines nested 513-900 deep were skipped though Python's json reads them.
        // Run where the scanner runs: a 2 MiB thread stack (rayon's and Rust's default).
        let ok = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                for d in [513, 900, 2000, MAX_DEPTH as usize - 1] {
                    assert!(scan_line(&nested(d)).is_ok(), "depth {d}");
                }
                match scan_line(&nested(MAX_DEPTH as usize + 5)) {
                    Err(ScanError::Syntax(e)) => e.to_string(),
                    _ => String::from("accepted"),
                }
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(ok.contains("nesting deeper than 4,096 levels"), "{ok}");
    }
}
