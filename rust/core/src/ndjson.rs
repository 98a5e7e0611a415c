//! NDJSON session logs (variants L1–L5, S1, F0) into columns, in parallel chunks.
//!
//! The buffer is cut into line-aligned chunks; each chunk is parsed on the rayon pool into
//! its own columns with a local topic interner; the chunks are then stitched in file order
//! (line numbers, seq and topic ids fixed up). Nothing is sorted: `seq` is file order.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::scan::{
    scan_line, scan_line_prefix, scan_line_prefix_into, unescape_into, Fields, Kind, Out,
    ScanError, Value,
};
use crate::time::{self, Zone};

/// Whether payloads are copied into the table or only located in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Full,
    Index,
}

/// A line the reader did not turn into a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub line: u64,
    pub reason: String,
    pub text: String,
}

/// Payload storage of a chunk.
#[derive(Debug, Default)]
pub struct Payloads {
    /// Full mode: unescaped text and i32 offsets (`offsets.len() == rows + 1`).
    pub data: String,
    pub offsets: Vec<i32>,
    /// Index mode: byte span of the raw (escaped) string content in the source buffer.
    pub span_offset: Vec<u64>,
    pub span_length: Vec<u32>,
}

/// Columns of the messages of one chunk (or, after stitching, of a whole batch).
#[derive(Debug, Default)]
pub struct Columns {
    pub seq_start: u64,
    pub timestamp: Vec<i64>,
    pub timestamp_valid: Vec<bool>,
    pub has_null_timestamp: bool,
    pub topic: Vec<i32>,
    pub payload: Payloads,
    pub qos: Vec<u8>,
    pub retain: Vec<bool>,
    /// The payload text is base64 of a binary body (`"payloadEncoding":"base64"`).
    pub binary: Vec<bool>,
    pub line: Vec<u64>,
}

impl Columns {
    pub fn len(&self) -> usize {
        self.topic.len()
    }

    pub fn is_empty(&self) -> bool {
        self.topic.is_empty()
    }
}

/// The result of parsing a whole buffer.
#[derive(Debug, Default)]
pub struct Parsed {
    pub batches: Vec<Columns>,
    pub topics: Vec<String>,
    pub skipped: Vec<Skipped>,
    pub metadata_lines: Vec<u64>,
    /// Line number and JSON text of the header line.
    pub header: Option<(u64, String)>,
    pub lines: u64,
}

struct ChunkOut {
    cols: Columns,
    topics: Vec<String>,
    skipped: Vec<Skipped>,
    metadata: Vec<u64>,
    header_candidates: Vec<(u64, String)>,
    lines: u64,
}

const EXCERPT_CHARS: usize = 120;

fn excerpt(line: &[u8]) -> String {
    String::from_utf8_lossy(line)
        .chars()
        .take(EXCERPT_CHARS)
        .collect()
}

/// A fast non-cryptographic hasher (FxHash's mixing) for the per-chunk topic interner; the
/// keys come from the file, but a chunk holds at most a few million of them, so worst-case
/// collisions cost time only, never correctness.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl std::hash::Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxBuild = std::hash::BuildHasherDefault<FxHasher>;

fn parse_int(b: &[u8]) -> Option<i64> {
    std::str::from_utf8(b).ok()?.parse::<i64>().ok()
}

struct ChunkParser<'a> {
    base: usize,
    mode: Mode,
    zone: Zone,
    interner: HashMap<Vec<u8>, i32, FxBuild>,
    out: ChunkOut,
    scratch: String,
    progress: Option<&'a AtomicU64>,
    /// Full mode: the chunk's payload text (`cols.payload.data` once the chunk is done).
    text: Out,
}

enum LineError {
    Skip(String),
}

impl ChunkParser<'_> {
    fn intern(&mut self, key: &[u8]) -> i32 {
        if let Some(&id) = self.interner.get(key) {
            return id;
        }
        let id = self.out.topics.len() as i32;
        self.out
            .topics
            .push(String::from_utf8_lossy(key).into_owned());
        self.interner.insert(key.to_vec(), id);
        id
    }

    /// Parses one line (no newline, no trailing CR). `abs` is the line's offset in the buffer
    /// (meaningful only when `line` is the buffer's own bytes, i.e. valid UTF-8). `scanned`:
    /// the line's fields when `scan_line_prefix` already scanned it.
    fn line(
        &mut self,
        lineno: u64,
        line: &[u8],
        abs: usize,
        scanned: Option<Fields>,
    ) -> Result<(), LineError> {
        let fields = match scanned {
            Some(f) => f,
            None => {
                if line.iter().all(|&c| c == b' ' || c == b'\t') {
                    return Ok(());
                }
                match scan_line(line) {
                    Ok(f) => f,
                    Err(ScanError::Syntax(msg)) => {
                        return Err(LineError::Skip(format!("invalid JSON: {msg}")))
                    }
                    Err(ScanError::NotObject) => {
                        return Err(LineError::Skip("not a JSON object".into()))
                    }
                }
            }
        };
        let Some(topic) = fields.topic else {
            let is_header = fields.has_session_name
                || fields.kind.is_some_and(|v| {
                    matches!(v.kind, Kind::Str { .. })
                        && crate::scan::unescape(&line[v.start..v.end]) == "session_meta"
                });
            if is_header {
                let text = String::from_utf8_lossy(line).into_owned();
                self.out.header_candidates.push((lineno, text));
            } else {
                self.out.metadata.push(lineno);
            }
            return Ok(());
        };
        let topic_id = match topic.kind {
            Kind::Str { escaped } if topic.end > topic.start => {
                let raw = &line[topic.start..topic.end];
                if escaped {
                    let t = crate::scan::unescape(raw);
                    if t.is_empty() {
                        return Err(LineError::Skip("bad topic: empty".into()));
                    }
                    self.intern(t.as_bytes())
                } else {
                    self.intern(raw)
                }
            }
            Kind::Str { .. } => return Err(LineError::Skip("bad topic: empty".into())),
            _ => return Err(LineError::Skip("bad topic: not a string".into())),
        };
        let payload: Option<Value> = match fields.payload {
            None => return Err(LineError::Skip("bad payload: missing".into())),
            Some(
                v @ Value {
                    kind: Kind::Str { .. },
                    ..
                },
            ) => Some(v),
            Some(Value {
                kind: Kind::Null, ..
            }) => None,
            Some(_) => return Err(LineError::Skip("bad payload: not a string".into())),
        };
        let ts = match fields.timestamp {
            None
            | Some(Value {
                kind: Kind::Null, ..
            }) => None,
            Some(
                v @ Value {
                    kind: Kind::Str { escaped },
                    ..
                },
            ) => {
                let raw = &line[v.start..v.end];
                let text;
                let bytes: &[u8] = if escaped {
                    text = crate::scan::unescape(raw);
                    text.as_bytes()
                } else {
                    raw
                };
                let parsed = time::parse(bytes).and_then(|p| time::resolve(p, &self.zone));
                match parsed {
                    Some(us) if time::in_range(us) => Some(us),
                    Some(_) => {
                        return Err(LineError::Skip(format!(
                            "bad timestamp: {:?} lies outside years 1-9999 (UTC)",
                            String::from_utf8_lossy(bytes)
                        )))
                    }
                    None => {
                        return Err(LineError::Skip(format!(
                            "bad timestamp: {:?} is not YYYY-MM-DDTHH:MM:SS[.f][Z|±HH:MM]",
                            String::from_utf8_lossy(bytes)
                        )))
                    }
                }
            }
            Some(_) => return Err(LineError::Skip("bad timestamp: not a string".into())),
        };
        let qos = match fields.qos {
            None
            | Some(Value {
                kind: Kind::Null, ..
            }) => 0,
            Some(
                v @ Value {
                    kind: Kind::Int, ..
                },
            ) => match parse_int(&line[v.start..v.end]) {
                Some(q @ 0..=2) => q as u8,
                _ => return Err(LineError::Skip("bad qos: not 0, 1 or 2".into())),
            },
            Some(_) => return Err(LineError::Skip("bad qos: not 0, 1 or 2".into())),
        };
        let retain = match fields.retain {
            None
            | Some(Value {
                kind: Kind::Null, ..
            }) => false,
            Some(Value {
                kind: Kind::Bool(b),
                ..
            }) => b,
            Some(
                v @ Value {
                    kind: Kind::Int, ..
                },
            ) => match parse_int(&line[v.start..v.end]) {
                Some(0) => false,
                Some(1) => true,
                _ => return Err(LineError::Skip("bad retain: not a boolean".into())),
            },
            Some(_) => return Err(LineError::Skip("bad retain: not a boolean".into())),
        };

        let binary = fields.encoding.is_some_and(|v| {
            matches!(v.kind, Kind::Str { escaped: false }) && &line[v.start..v.end] == b"base64"
        });
        if let Some(v) = payload {
            // Arrow string offsets are 32-bit (full mode) and index spans store a u32 length:
            // a larger payload is reported, never truncated.
            if v.end - v.start > MAX_PAYLOAD_BYTES {
                return Err(LineError::Skip(format!(
                    "payload of {} bytes exceeds the reader's limit of {MAX_PAYLOAD_BYTES} bytes",
                    v.end - v.start
                )));
            }
        }
        let c = &mut self.out.cols;
        c.timestamp.push(ts.unwrap_or(0));
        c.timestamp_valid.push(ts.is_some());
        c.has_null_timestamp |= ts.is_none();
        c.topic.push(topic_id);
        c.qos.push(qos);
        c.retain.push(retain);
        c.binary.push(binary);
        c.line.push(lineno);
        match self.mode {
            Mode::Full => {
                match payload {
                    Some(v) => {
                        // Usually the scan already unescaped it.
                        if !self.text.commit() {
                            self.scratch.clear();
                            unescape_into(&line[v.start..v.end], &mut self.scratch);
                            self.text.commit_text(&self.scratch);
                        }
                    }
                    None => self.text.rollback(),
                }
                c.payload.offsets.push(self.text.len() as i32);
            }
            Mode::Index => {
                let (o, l) = payload.map_or((abs as u64, 0), |v| {
                    ((self.base + abs + v.start) as u64, (v.end - v.start) as u32)
                });
                c.payload.span_offset.push(o);
                c.payload.span_length.push(l);
            }
        }
        Ok(())
    }
}

/// Largest payload (escaped bytes in the file) one message may carry: 1 GiB.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 30;

fn parse_chunk(
    buf: &[u8],
    start: usize,
    end: usize,
    first_line_of_file: bool,
    mode: Mode,
    zone_name: &str,
    progress: Option<&AtomicU64>,
) -> Result<ChunkOut, String> {
    let chunk = &buf[start..end];
    let mut p = ChunkParser {
        base: start,
        mode,
        zone: Zone::new(zone_name)?,
        interner: HashMap::default(),
        out: ChunkOut {
            cols: Columns::default(),
            topics: Vec::new(),
            skipped: Vec::new(),
            metadata: Vec::new(),
            header_candidates: Vec::new(),
            lines: 0,
        },
        scratch: String::new(),
        progress,
        // Payload text is at most as long as the chunk (unescaping only shrinks valid UTF-8).
        text: if mode == Mode::Full {
            Out::with_capacity(chunk.len())
        } else {
            Out::default()
        },
    };
    if mode == Mode::Full {
        p.out.cols.payload.offsets.push(0);
    }
    let mut pos = 0usize;
    let mut lineno = 0u64; // local, 1-based after increment
    let mut reported = 0usize;
    while pos < chunk.len() {
        lineno += 1;
        let first = first_line_of_file && lineno == 1;
        // The usual valid line is scanned in one pass that also finds its end; anything
        // else is cut at the next newline and scanned on its own (exact error reports).
        let fast = if first {
            None
        } else if mode == Mode::Full {
            scan_line_prefix_into(&chunk[pos..], &mut p.text)
        } else {
            scan_line_prefix(&chunk[pos..])
        };
        let (nl, scanned) = match fast {
            Some((fields, len)) => (pos + len, Some(fields)),
            None => (
                memchr::memchr(b'\n', &chunk[pos..]).map_or(chunk.len(), |i| pos + i),
                None,
            ),
        };
        let mut line = &chunk[pos..nl];
        let mut line_start = pos;
        if first && line.starts_with(b"\xEF\xBB\xBF") {
            line = &line[3..];
            line_start += 3;
        }
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        // Invalid UTF-8 needs no special path: the scanner only reads ASCII structure, and
        // every string taken from the line is decoded with replacement characters.
        let result = p.line(lineno, line, line_start, scanned);
        // A line that made no row leaves no payload text.
        p.text.rollback();
        if let Err(LineError::Skip(reason)) = result {
            p.out.skipped.push(Skipped {
                line: lineno,
                reason,
                text: excerpt(line),
            });
        }
        pos = nl + 1;
        if let Some(counter) = p.progress {
            if pos - reported >= 1 << 20 {
                counter.fetch_add((pos - reported) as u64, Ordering::Relaxed);
                reported = pos;
            }
        }
    }
    if let Some(counter) = p.progress {
        counter.fetch_add(
            (chunk.len().saturating_sub(reported)) as u64,
            Ordering::Relaxed,
        );
    }
    p.out.lines = lineno;
    if mode == Mode::Full {
        p.out.cols.payload.data = std::mem::take(&mut p.text).into_string();
    }
    Ok(p.out)
}

/// Splits `buf` into line-aligned chunks of about `target` bytes.
fn chunk_bounds(buf: &[u8], target: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < buf.len() {
        let want = (start + target).min(buf.len());
        let end = if want >= buf.len() {
            buf.len()
        } else {
            memchr::memchr(b'\n', &buf[want..]).map_or(buf.len(), |i| want + i + 1)
        };
        out.push((start, end));
        start = end;
    }
    out
}

/// Called with each chunk's byte range once it is parsed (the bytes are not needed again).
pub type Release<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// Parses a whole NDJSON buffer. `zone` names the zone of naive timestamps.
pub fn parse_buffer(
    buf: &[u8],
    mode: Mode,
    zone: &str,
    progress: Option<&AtomicU64>,
) -> Result<Parsed, String> {
    parse_buffer_releasing(buf, mode, zone, progress, None)
}

/// As [`parse_buffer`]; `release(start, end)` lets a memory-mapped caller drop parsed pages.
pub fn parse_buffer_releasing(
    buf: &[u8],
    mode: Mode,
    zone: &str,
    progress: Option<&AtomicU64>,
    release: Option<Release<'_>>,
) -> Result<Parsed, String> {
    Zone::new(zone)?; // fail early on a bad zone name
    let threads = rayon::current_num_threads().max(1);
    // Small chunks keep the resident part of a mapped file small (about two per thread).
    let target = (buf.len() / (threads * 8)).clamp(4 << 20, 16 << 20);
    let bounds = chunk_bounds(buf, target);
    let one = |&(s, e): &(usize, usize)| {
        let out = parse_chunk(buf, s, e, s == 0, mode, zone, progress);
        if let Some(r) = release {
            r(s, e);
        }
        out
    };
    let outs: Vec<Result<ChunkOut, String>> = if bounds.len() > 1 {
        bounds.par_iter().map(one).collect()
    } else {
        bounds.iter().map(one).collect()
    };
    stitch(outs.into_iter().collect::<Result<Vec<_>, _>>()?)
}

fn stitch(outs: Vec<ChunkOut>) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let mut global: HashMap<String, i32> = HashMap::new();
    let mut seq = 0u64;
    let mut header_candidates = Vec::new();
    for mut out in outs {
        let line_base = parsed.lines;
        let remap: Vec<i32> = out
            .topics
            .drain(..)
            .map(|t| {
                if let Some(&id) = global.get(&t) {
                    id
                } else {
                    let id = parsed.topics.len() as i32;
                    parsed.topics.push(t.clone());
                    global.insert(t, id);
                    id
                }
            })
            .collect();
        for id in &mut out.cols.topic {
            *id = remap[*id as usize];
        }
        for l in &mut out.cols.line {
            *l += line_base;
        }
        out.cols.seq_start = seq;
        seq += out.cols.len() as u64;
        parsed.skipped.extend(out.skipped.into_iter().map(|mut s| {
            s.line += line_base;
            s
        }));
        parsed
            .metadata_lines
            .extend(out.metadata.iter().map(|l| l + line_base));
        header_candidates.extend(
            out.header_candidates
                .into_iter()
                .map(|(l, t)| (l + line_base, t)),
        );
        parsed.lines += out.lines;
        if !out.cols.is_empty() {
            parsed.batches.push(out.cols);
        }
    }
    let mut candidates = header_candidates.into_iter();
    parsed.header = candidates.next();
    let extra: Vec<u64> = candidates.map(|(l, _)| l).collect();
    if !extra.is_empty() {
        parsed.metadata_lines.extend(extra);
        parsed.metadata_lines.sort_unstable();
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    #[test]
    fn parses_lines_and_reports_bad_ones() {
        let data = "\u{FEFF}{\"_kind\":\"session_meta\",\"sessionName\":\"x\"}\r\n\
            {\"topic\":\"a\",\"payload\":\"{\\\"v\\\":1}\",\"timestamp\":\"2026-01-01T00:00:00.5Z\",\"qos\":1,\"retain\":true}\n\
            \n\
            {\"topic\":\"b\",\"payload\":\"x\",\"timestamp\":12}\n\
            {\"topic\":\"a\",\"payload\":null}\n\
            {\"topic\":\"a\",\"payl";
        let p = parse_buffer(data.as_bytes(), Mode::Full, "Europe/Berlin", None).unwrap();
        assert_eq!(p.lines, 6);
        assert_eq!(p.header.as_ref().unwrap().0, 1);
        assert_eq!(p.batches.len(), 1);
        let b = &p.batches[0];
        assert_eq!(b.line, vec![2, 5]);
        assert_eq!(b.qos, vec![1, 0]);
        assert_eq!(b.retain, vec![true, false]);
        assert_eq!(b.timestamp_valid, vec![true, false]);
        assert_eq!(&b.payload.data, "{\"v\":1}");
        assert_eq!(b.payload.offsets, vec![0, 7, 7]);
        let lines: Vec<u64> = p.skipped.iter().map(|s| s.line).collect();
        assert_eq!(lines, vec![4, 6]);
        assert!(p.skipped[0].reason.starts_with("bad timestamp"));
        assert!(p.skipped[1].reason.starts_with("invalid JSON"));
    }

    #[test]
    fn payload_text_follows_the_last_key_and_accepted_rows_only() {
        let long = "\\\"k\\\":".repeat(40);
        let data = format!(
            "{{\"topic\":\"a\",\"payload\":\"{long}1\",\"payload\":null}}\n\
             {{\"topic\":\"a\",\"payload\":null,\"payload\":\"{long}2\"}}\n\
             {{\"topic\":\"a\",\"payload\":\"{long}3\",\"timestamp\":\"bad\"}}\n\
             {{\"topic\":\"a\",\"payload\":\"{long}4\",\"x\":tru}}\n\
             {{\"payload\":\"{long}5\"}}\n\
             {{\"topic\":\"a\",\"payload\":\"{long}\\u00e96\"}}\n\
             {{\"topic\":\"a\",\"payload\":\"{long}7\"}}"
        );
        let p = parse_buffer(data.as_bytes(), Mode::Full, "UTC", None).unwrap();
        let b = &p.batches[0];
        assert_eq!(b.line, vec![1, 2, 6, 7]);
        let k = "\"k\":".repeat(40);
        let want = [
            String::new(),
            format!("{k}2"),
            format!("{k}\u{e9}6"),
            format!("{k}7"),
        ];
        let offs = &b.payload.offsets;
        let got: Vec<&str> = (0..4)
            .map(|r| &b.payload.data[offs[r] as usize..offs[r + 1] as usize])
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn chunks_stitch_in_order() {
        let mut data = String::new();
        for i in 0..20_000 {
            let t = i % 7;
            writeln!(
                data,
                "{{\"topic\":\"t/{t}\",\"payload\":\"{i}\",\"timestamp\":\"2026-01-01T00:00:00Z\"}}"
            )
            .unwrap();
        }
        let big = data.repeat(8);
        let p = parse_buffer(big.as_bytes(), Mode::Index, "UTC", None).unwrap();
        let n: usize = p.batches.iter().map(Columns::len).sum();
        assert_eq!(n, 160_000);
        assert_eq!(p.topics.len(), 7);
        let mut expect = 1;
        for b in &p.batches {
            for &l in &b.line {
                assert_eq!(l, expect);
                expect += 1;
            }
        }
    }
}
