//! Text search over payloads: which messages mention a text?
//!
//! One rule for every caller: a payload matches when its decoded text contains the needle;
//! case-insensitive search compares the Unicode lowercase of both (`str::to_lowercase`, as
//! Python's `str.lower`). An empty needle matches everything.
//!
//! In index mode a payload is the raw contents of a JSON string in the mapped file. Decoding
//! every payload would cost more than the search, so a span is searched raw when that is exact:
//! the needle is escaped the way JSON writers escape (`"` → `\"`, `\` → `\\`, control
//! characters → `\n` …), and a span whose raw bytes contain no `\u` and no `\/` has exactly one
//! raw form for every character of such a needle, so the decoded text contains the needle only
//! if the raw bytes contain the escaped needle at a character boundary (an even number of
//! backslashes before it). Spans with `\u` or `\/`, and case-insensitive search in non-ASCII
//! spans (where Unicode lowercasing can produce ASCII), are decoded and searched as text. The
//! per-span facts this needs ([`raw_flags`]) are computed once per index ([`span_flags`]).

use memchr::memmem;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::scan::unescape_into;

/// Bytes that can follow a backslash in a JSON string: a raw match starting on one of them
/// may start inside an escape sequence.
const ESCAPE_LETTERS: &[u8] = b"\"\\/bfnrtu";

/// Span flag: the raw string holds a `\u` or `\/` escape (or something that looks like one).
pub const ODD_ESCAPES: u8 = 1;
/// Span flag: the raw string holds a non-ASCII byte.
pub const NON_ASCII: u8 = 2;

/// What [`TextQuery::matches_raw`] needs to know about a raw string before searching it.
pub fn raw_flags(raw: &[u8]) -> u8 {
    let odd = memmem::find(raw, b"\\u").is_some() || memmem::find(raw, b"\\/").is_some();
    (u8::from(odd) * ODD_ESCAPES) | (u8::from(!raw.is_ascii()) * NON_ASCII)
}

/// A compiled search for one needle.
#[derive(Debug, Clone)]
pub struct TextQuery {
    /// The needle, lowercased when the search ignores case.
    needle: String,
    ignore_case: bool,
    /// The needle as a JSON writer escapes it (lowercased when the search ignores case).
    escaped: Vec<u8>,
    /// A raw hit cannot start inside an escape sequence (`escaped` holds no backslash and
    /// does not start with a byte that can follow one), so hits need no boundary check.
    raw_exact: bool,
    /// Raw search is allowed at all: the needle holds no control character (those have two
    /// raw forms, literal and escaped) and, ignoring case, is ASCII.
    raw_ok: bool,
    /// Ignoring case: the longest run of `escaped` without ASCII letters (`start`, `len`),
    /// searched case-sensitively to find candidates without lowercasing the haystack.
    anchor: Option<(usize, usize)>,
    /// Searchers for `escaped` and the anchor, built once (not once per span).
    finder: memmem::Finder<'static>,
    anchor_finder: Option<memmem::Finder<'static>>,
}

/// Per-thread buffers of a search.
#[derive(Debug, Default)]
pub struct Scratch {
    bytes: Vec<u8>,
    text: String,
}

fn escape_json(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out
}

impl TextQuery {
    pub fn new(needle: &str, ignore_case: bool) -> Self {
        let needle = if ignore_case {
            needle.to_lowercase()
        } else {
            needle.to_owned()
        };
        let escaped = escape_json(&needle);
        let raw_ok = !needle.chars().any(char::is_control) && (!ignore_case || needle.is_ascii());
        let raw_exact = raw_ok
            && !escaped.contains(&b'\\')
            && escaped.first().is_some_and(|b| !ESCAPE_LETTERS.contains(b));
        let mut anchor: Option<(usize, usize)> = None;
        let mut run_start = 0;
        // Letters vary with case; quotes and backslashes are everywhere in escaped JSON.
        let breaks = |b: &u8| b.is_ascii_alphabetic() || *b == b'"' || *b == b'\\';
        for (i, b) in escaped.iter().enumerate().chain([(escaped.len(), &b'a')]) {
            if breaks(b) {
                let run = &escaped[run_start..i];
                let useful =
                    run.len() >= 3 || (run.len() == 2 && run.iter().any(u8::is_ascii_digit));
                if useful && anchor.is_none_or(|(_, n)| run.len() > n) {
                    anchor = Some((run_start, run.len()));
                }
                run_start = i + 1;
            }
        }
        let finder = memmem::Finder::new(&escaped).into_owned();
        let anchor_finder = anchor
            .map(|(start, len)| memmem::Finder::new(&escaped[start..start + len]).into_owned());
        TextQuery {
            needle,
            ignore_case,
            escaped,
            raw_exact,
            raw_ok,
            anchor,
            finder,
            anchor_finder,
        }
    }

    /// Does `raw` (a string without `\\u` and `\\/` escapes) hold `escaped` at a character
    /// boundary (ignoring ASCII case if the query does)? Every escape in such a string is two
    /// bytes, so a position is a boundary when an even number of backslashes precede it; from a
    /// boundary the raw bytes and `escaped` split into the same characters, so this is exact.
    fn raw_find(&self, raw: &[u8], scratch: &mut Scratch) -> bool {
        let boundary = |p: usize| {
            self.raw_exact || raw[..p].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 0
        };
        if !self.ignore_case {
            return self.finder.find_iter(raw).any(boundary);
        }
        let width = self.escaped.len();
        if let (Some((start, _)), Some(anchor)) = (self.anchor, &self.anchor_finder) {
            return anchor.find_iter(raw).any(|p| {
                p >= start
                    && p - start + width <= raw.len()
                    && raw[p - start..p - start + width].eq_ignore_ascii_case(&self.escaped)
                    && boundary(p - start)
            });
        }
        scratch.bytes.clear();
        scratch.bytes.extend_from_slice(raw);
        scratch.bytes.make_ascii_lowercase();
        self.finder.find_iter(&scratch.bytes).any(boundary)
    }

    /// Does the decoded `text` match?
    pub fn matches_text(&self, text: &str, scratch: &mut Scratch) -> bool {
        if self.needle.is_empty() {
            return true;
        }
        if !self.ignore_case {
            return memmem::find(text.as_bytes(), self.needle.as_bytes()).is_some();
        }
        if text.is_ascii() && self.needle.is_ascii() {
            scratch.bytes.clear();
            scratch
                .bytes
                .extend(text.bytes().map(|b| b.to_ascii_lowercase()));
            return memmem::find(&scratch.bytes, self.needle.as_bytes()).is_some();
        }
        text.to_lowercase().contains(&self.needle)
    }

    /// Does the JSON string whose raw contents (between the quotes) are `raw` match?
    pub fn matches_raw(&self, raw: &[u8], scratch: &mut Scratch) -> bool {
        self.matches_raw_flagged(raw, raw_flags(raw), scratch)
    }

    /// [`Self::matches_raw`] with the span's [`raw_flags`] known.
    pub fn matches_raw_flagged(&self, raw: &[u8], flags: u8, scratch: &mut Scratch) -> bool {
        if self.needle.is_empty() {
            return true;
        }
        let plain_escapes = flags & ODD_ESCAPES == 0;
        let ascii = flags & NON_ASCII == 0;
        if plain_escapes && ascii && !self.needle.is_ascii() {
            return false; // an ASCII text (and its lowercase) holds no other character
        }
        if self.raw_ok && plain_escapes && (ascii || !self.ignore_case) {
            return self.raw_find(raw, scratch);
        }
        let mut text = std::mem::take(&mut scratch.text);
        text.clear();
        unescape_into(raw, &mut text);
        let hit = self.matches_text(&text, scratch);
        scratch.text = text;
        hit
    }
}

/// One flag per span: does the JSON string at `map[offset..offset + length]` match `query`?
/// Spans are checked against the map's length first (a file that shrank since it was
/// indexed is an error, never a panic). Runs on all cores.
/// `flags`, when given, holds each span's [`raw_flags`] (see [`span_flags`]).
pub fn search_spans(
    map: &[u8],
    offsets: &[u64],
    lengths: &[u32],
    flags: Option<&[u8]>,
    query: &TextQuery,
) -> Result<Vec<bool>> {
    check_spans(map, offsets, lengths)?;
    if let Some(f) = flags.filter(|f| f.len() != offsets.len()) {
        return Err(Error::Invalid(format!(
            "{} flags for {} spans",
            f.len(),
            offsets.len()
        )));
    }
    let raw = |i: usize| &map[offsets[i] as usize..offsets[i] as usize + lengths[i] as usize];
    Ok((0..offsets.len())
        .into_par_iter()
        .with_min_len(1024)
        .map_init(Scratch::default, |scratch, i| match flags {
            Some(f) => query.matches_raw_flagged(raw(i), f[i], scratch),
            None => query.matches_raw(raw(i), scratch),
        })
        .collect())
}

/// Each span's [`raw_flags`], computed once per index so that every later search skips them.
pub fn span_flags(map: &[u8], offsets: &[u64], lengths: &[u32]) -> Result<Vec<u8>> {
    check_spans(map, offsets, lengths)?;
    Ok(offsets
        .par_iter()
        .zip(lengths.par_iter())
        .with_min_len(1024)
        .map(|(&off, &n)| raw_flags(&map[off as usize..off as usize + n as usize]))
        .collect())
}

fn check_spans(map: &[u8], offsets: &[u64], lengths: &[u32]) -> Result<()> {
    if offsets.len() != lengths.len() {
        return Err(Error::Invalid(format!(
            "{} offsets but {} lengths",
            offsets.len(),
            lengths.len()
        )));
    }
    let len = map.len() as u64;
    if let Some((&off, &n)) = offsets
        .iter()
        .zip(lengths)
        .find(|&(&off, &n)| off.checked_add(u64::from(n)).is_none_or(|end| end > len))
    {
        return Err(Error::Invalid(format!(
            "payload span {off}+{n} lies outside the file ({len} bytes); the file changed \
             since it was indexed"
        )));
    }
    Ok(())
}

/// One flag per text of an Arrow-style string column (`data` with `offsets`, one more than
/// texts): does it match `query`? Invalid UTF-8 is read lossily.
pub fn search_texts<O>(data: &[u8], offsets: &[O], query: &TextQuery) -> Result<Vec<bool>>
where
    O: Copy + Sync + TryInto<usize>,
{
    let bounds: Vec<usize> = offsets
        .iter()
        .map(|&o| o.try_into().ok())
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| Error::Invalid("a negative string offset".into()))?;
    if bounds.windows(2).any(|w| w[0] > w[1]) || bounds.last().is_some_and(|&e| e > data.len()) {
        return Err(Error::Invalid(
            "string offsets are not ascending within the data".into(),
        ));
    }
    Ok(bounds
        .par_windows(2)
        .with_min_len(1024)
        .map_init(Scratch::default, |scratch, w| {
            let bytes = &data[w[0]..w[1]];
            match std::str::from_utf8(bytes) {
                Ok(text) => query.matches_text(text, scratch),
                Err(_) => query.matches_text(&String::from_utf8_lossy(bytes), scratch),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slow rule: decode, lowercase both when ignoring case, look for the needle.
    fn reference(raw: &[u8], needle: &str, ignore_case: bool) -> bool {
        let text = crate::scan::unescape(raw);
        if ignore_case {
            text.to_lowercase().contains(&needle.to_lowercase())
        } else {
            text.contains(needle)
        }
    }

    fn json_raw(text: &str, style: u64) -> Vec<u8> {
        // Three writers: minimal escapes, \u for everything non-ASCII, \/ for slashes.
        let mut out = Vec::new();
        for c in text.chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '/' if style == 2 => out.extend_from_slice(b"\\/"),
                c if (c as u32) < 0x20 || (style == 1 && !c.is_ascii()) => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        out.extend_from_slice(format!("\\u{u:04x}").as_bytes());
                    }
                }
                c => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        out
    }

    #[test]
    fn raw_search_agrees_with_decoding_first() {
        let pieces = [
            "a", "B", "n", "\"", "\\", "/", "\n", "\t", "é", "É", "ß", "Σ", "K", "İ", "u", "x1",
            "{\"k\":", "ORD-7", "ord-7", " ", "€", "😀",
        ];
        let needles = [
            "", "a", "n", "ord-7", "ORD-7", "\"k\"", "k\":", "\\", "/", "é", "É", "\n", "nt", "σ",
            "k", "i", "x1b", "😀", "\"", "u", "a/b", "d-7", "7", "-7\"", "x1\"{",
        ];
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut scratch = Scratch::default();
        let mut checked = 0;
        for _ in 0..4000 {
            let mut text = String::new();
            for _ in 0..(x % 9) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                text.push_str(pieces[(x % pieces.len() as u64) as usize]);
            }
            for style in 0..3 {
                let raw = json_raw(&text, style);
                assert_eq!(crate::scan::unescape(&raw), text);
                for needle in needles {
                    for ignore_case in [false, true] {
                        let q = TextQuery::new(needle, ignore_case);
                        assert_eq!(
                            q.matches_raw(&raw, &mut scratch),
                            reference(&raw, needle, ignore_case),
                            "text {text:?} raw {:?} needle {needle:?} ignore_case {ignore_case}",
                            String::from_utf8_lossy(&raw)
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 100_000);
    }

    #[test]
    fn spans_are_checked_and_searched() {
        let file = b"xx\"abc\"yy\"A\\\"B\"";
        let q = TextQuery::new("a\"b", true);
        let hits = search_spans(file, &[3, 10], &[3, 4], None, &q).unwrap();
        assert_eq!(hits, vec![false, true]);
        let flags = span_flags(file, &[3, 10], &[3, 4]).unwrap();
        assert_eq!(flags, vec![0, 0]);
        let flagged = search_spans(file, &[3, 10], &[3, 4], Some(&flags), &q).unwrap();
        assert_eq!(flagged, hits);
        assert!(search_spans(file, &[3], &[3], Some(&flags), &q).is_err());
        let err = search_spans(file, &[10], &[100], None, &q).unwrap_err();
        assert!(
            err.to_string().contains("changed since it was indexed"),
            "{err}"
        );
        assert!(search_spans(file, &[1], &[], None, &q).is_err());
        assert!(search_spans(file, &[u64::MAX], &[1], None, &q).is_err());
        assert_eq!(raw_flags(b"a\\u00e9"), ODD_ESCAPES);
        assert_eq!(raw_flags("é\\/".as_bytes()), ODD_ESCAPES | NON_ASCII);
    }

    #[test]
    fn texts_follow_offsets() {
        let data = "alphaBETAgamma".as_bytes();
        let q = TextQuery::new("beta", true);
        assert_eq!(
            search_texts(data, &[0i32, 5, 9, 14], &q).unwrap(),
            vec![false, true, false]
        );
        assert!(search_texts(data, &[0i32, 9, 5], &q).is_err());
        assert!(search_texts(data, &[0i64, 99], &q).is_err());
        assert!(search_texts(data, &[-1i32, 3], &q).is_err());
    }
}
