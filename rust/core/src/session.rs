//! Opening a session file of any supported container into Arrow record batches.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use arrow_array::{RecordBatch, StringArray};
use arrow_schema::SchemaRef;

use crate::error::{Error, Result};
use crate::ndjson::{self, Columns, Mode, Parsed, Skipped};
use crate::table;
use crate::time::{self, Zone};

/// How to read a session.
#[derive(Clone, Debug)]
pub struct Options {
    pub strict: bool,
    pub tz: String,
    pub mode: Mode,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            strict: false,
            tz: "Europe/Berlin".into(),
            mode: Mode::Full,
        }
    }
}

/// Which container the messages came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    Ndjson,
    Zip,
    Sqlite,
}

impl Container {
    pub fn name(self) -> &'static str {
        match self {
            Container::Ndjson => "ndjson",
            Container::Zip => "zip",
            Container::Sqlite => "sqlite",
        }
    }
}

/// A read session: batches in file order plus what the reader noticed.
#[derive(Debug)]
pub struct Session {
    pub path: PathBuf,
    pub container: Container,
    /// `Mode::Index` only when payload spans point into `path` (plain NDJSON files).
    pub mode: Mode,
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub skipped: Vec<Skipped>,
    pub metadata_lines: Vec<u64>,
    pub header: Option<String>,
    pub lines: u64,
    pub rows: u64,
    pub bytes: u64,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn container_of(path: &Path) -> Container {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "zip" => Container::Zip,
        "db" | "sqlite" | "sqlite3" => Container::Sqlite,
        _ => Container::Ndjson,
    }
}

/// Refuses anything but a regular file (after following symlinks) before a single byte is
/// read: a FIFO would block forever, a device never ends, a directory is not a session.
pub fn check_regular_file(path: &Path) -> Result<u64> {
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(path).map_err(io_err(path))?;
    let ft = meta.file_type();
    let what = if ft.is_file() {
        return Ok(meta.len());
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    };
    Err(Error::Format {
        path: path.to_path_buf(),
        reason: format!("is {what}, not a session file"),
    })
}

/// Opens and parses a session. Releases nothing itself; callers decide about threads.
pub fn open(path: &Path, opts: &Options, progress: Option<&AtomicU64>) -> Result<Session> {
    Zone::new(&opts.tz).map_err(Error::Invalid)?;
    check_regular_file(path)?;
    let container = container_of(path);
    let (parsed, mode, bytes) = match container {
        Container::Ndjson => {
            let file = File::open(path).map_err(io_err(path))?;
            let len = file.metadata().map_err(io_err(path))?.len();
            if len == 0 {
                (
                    ndjson::parse_buffer(b"", opts.mode, &opts.tz, progress),
                    opts.mode,
                    0,
                )
            } else {
                // SAFETY: the map is read-only and dropped before we return. A writer that
                // truncates the file meanwhile could fault us; sessions being recorded are
                // appended to, never truncated.
                let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io_err(path))?;
                let release = |start: usize, end: usize| drop_pages(&map, start, end);
                let parsed = ndjson::parse_buffer_releasing(
                    &map,
                    opts.mode,
                    &opts.tz,
                    progress,
                    Some(&release),
                );
                (parsed, opts.mode, len)
            }
        }
        Container::Zip => {
            let buf = read_zip_member(path)?;
            let n = buf.len() as u64;
            (
                ndjson::parse_buffer(&buf, Mode::Full, &opts.tz, progress),
                Mode::Full,
                n,
            )
        }
        Container::Sqlite => {
            let n = std::fs::metadata(path).map_err(io_err(path))?.len();
            (read_sqlite(path, &opts.tz), Mode::Full, n)
        }
    };
    let parsed = parsed.map_err(|reason| Error::Format {
        path: path.to_path_buf(),
        reason,
    })?;
    finish(path, container, mode, parsed, opts.strict, bytes)
}

/// Tells the kernel we no longer need the parsed pages of a read-only file mapping, so that
/// a big session does not stay resident twice (the page cache keeps it; our RSS does not).
fn drop_pages(map: &memmap2::Mmap, start: usize, end: usize) {
    const PAGE: usize = 4096;
    let first = start.div_ceil(PAGE) * PAGE;
    let last = end / PAGE * PAGE;
    if last > first {
        // SAFETY: the mapping is read-only and file-backed: dropped pages are read back from
        // the file if touched again, so no data can change under us.
        unsafe {
            let _ =
                map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, first, last - first);
        }
    }
}

fn finish(
    path: &Path,
    container: Container,
    mode: Mode,
    parsed: Parsed,
    strict: bool,
    bytes: u64,
) -> Result<Session> {
    if strict {
        if let Some(first) = parsed.skipped.first() {
            return Err(Error::BadLine {
                path: path.to_path_buf(),
                line: first.line,
                reason: first.reason.clone(),
            });
        }
    }
    let schema = table::schema(mode);
    let topics = Arc::new(StringArray::from(parsed.topics));
    let mut rows = 0u64;
    let mut batches = Vec::with_capacity(parsed.batches.len());
    for cols in parsed.batches {
        rows += cols.len() as u64;
        let batch = table::to_batch(cols, &topics, mode, &schema).map_err(|e| Error::Format {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        batches.push(batch);
    }
    Ok(Session {
        path: path.to_path_buf(),
        container,
        mode,
        schema,
        batches,
        skipped: parsed.skipped,
        metadata_lines: parsed.metadata_lines,
        header: parsed.header.map(|(_, text)| text),
        lines: parsed.lines,
        rows,
        bytes,
    })
}

/// Largest decompressed session a ZIP may yield, and the largest expansion ratio: a small
/// archive must not become gigabytes in memory (a "zip bomb").
pub const ZIP_MAX_BYTES: u64 = 4 << 30;
pub const ZIP_MAX_RATIO: u64 = 100;

/// Names a ZIP member may have to count as the session log.
fn is_session_log_name(base: &str) -> bool {
    let lower = base.to_ascii_lowercase();
    [".log", ".ndjson", ".jsonl", ".json"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

fn read_zip_member(path: &Path) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(io_err(path))?;
    let archive_len = file.metadata().map_err(io_err(path))?.len();
    let fmt = |reason: String| Error::Format {
        path: path.to_path_buf(),
        reason,
    };
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| fmt(format!("not a ZIP file: {e}")))?;
    let mut candidates = Vec::new();
    let mut others = Vec::new();
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(|e| fmt(e.to_string()))?;
        let name = entry.name().to_string();
        let base = name.rsplit('/').next().unwrap_or("");
        if entry.is_dir() || name.starts_with("__MACOSX/") || base.starts_with("._") {
            continue;
        }
        if is_session_log_name(base) {
            candidates.push((i, name));
        } else {
            others.push(name);
        }
    }
    let (index, name) = match candidates.len() {
        1 => candidates.swap_remove(0),
        0 => {
            let found = if others.is_empty() {
                "it is empty".to_string()
            } else {
                format!("it holds {}", others.join(", "))
            };
            return Err(fmt(format!(
                "no session log (.log, .ndjson, .jsonl or .json) in this ZIP: {found}"
            )));
        }
        n => {
            let names: Vec<&str> = candidates.iter().map(|(_, n)| n.as_str()).collect();
            return Err(fmt(format!(
                "expected one session log in the ZIP, found {n}: {}",
                names.join(", ")
            )));
        }
    };
    let limit = ZIP_MAX_BYTES.min(archive_len.max(1 << 20).saturating_mul(ZIP_MAX_RATIO));
    let entry = archive.by_index(index).map_err(|e| fmt(e.to_string()))?;
    let too_big = |size: u64| {
        fmt(format!(
            "ZIP member {name} decompresses to {size} bytes or more, beyond the limit of {limit} \
             bytes ({ZIP_MAX_RATIO}x the archive, at most {ZIP_MAX_BYTES}); unpack it \
             yourself and open the .log"
        ))
    };
    if entry.size() > limit {
        return Err(too_big(entry.size()));
    }
    let mut buf = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
    // The declared size may lie: read at most one byte past the limit.
    entry
        .take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(io_err(path))?;
    if buf.len() as u64 > limit {
        return Err(too_big(buf.len() as u64));
    }
    Ok(buf)
}

/// Payload bytes per batch from SQLite (Arrow string offsets are 32-bit).
const SQLITE_BATCH_BYTES: usize = 512 << 20;

/// Reads the `mqtt_messages` table (narrow or legacy wide schema) in `id` order.
fn read_sqlite(path: &Path, tz: &str) -> std::result::Result<Parsed, String> {
    use rusqlite::types::ValueRef;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("not a SQLite database: {e}"))?;
    let cols: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('mqtt_messages')")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| format!("cannot read the schema: {e}"))?;
    if cols.is_empty() {
        return Err("no table mqtt_messages".into());
    }
    for needed in ["id", "topic", "payload", "timestamp"] {
        if !cols.iter().any(|c| c == needed) {
            return Err(format!("table mqtt_messages has no column {needed}"));
        }
    }
    let has = |c: &str| cols.iter().any(|x| x == c);
    let sql = format!(
        "SELECT id, topic, payload, timestamp, {}, {} FROM mqtt_messages ORDER BY id",
        if has("qos") { "qos" } else { "0" },
        if has("retain") { "retain" } else { "0" },
    );
    let zone = Zone::new(tz)?;
    let mut stmt = conn.prepare(&sql).map_err(|e| e.to_string())?;
    let mut rows = stmt.query([]).map_err(|e| e.to_string())?;
    let mut parsed = Parsed::default();
    let mut cols = Columns::default();
    cols.payload.offsets.push(0);
    let mut interner = std::collections::HashMap::<String, i32>::new();
    let text = |v: ValueRef<'_>| -> Option<String> {
        match v {
            ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Null => None,
            ValueRef::Integer(i) => Some(i.to_string()),
            ValueRef::Real(f) => Some(f.to_string()),
        }
    };
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let id: i64 = row.get(0).map_err(|e| e.to_string())?;
        parsed.lines += 1;
        let line = u64::try_from(id).unwrap_or(0);
        let skip = |parsed: &mut Parsed, reason: &str, topic: &str| {
            parsed.skipped.push(Skipped {
                line,
                reason: reason.to_string(),
                text: format!("row id {id}: {topic}"),
            });
        };
        let topic = row.get_ref(1).ok().and_then(text).unwrap_or_default();
        if topic.is_empty() {
            skip(&mut parsed, "bad topic: empty", "");
            continue;
        }
        let payload = row.get_ref(2).ok().and_then(text).unwrap_or_default();
        let ts_text = row.get_ref(3).ok().and_then(text);
        let ts = match ts_text {
            None => None,
            Some(t) => match time::parse(t.as_bytes()).and_then(|p| time::resolve(p, &zone)) {
                Some(us) if time::in_range(us) => Some(us),
                Some(_) => {
                    let why = format!("bad timestamp: {t:?} lies outside years 1-9999 (UTC)");
                    skip(&mut parsed, &why, &topic);
                    continue;
                }
                None => {
                    skip(&mut parsed, &format!("bad timestamp: {t:?}"), &topic);
                    continue;
                }
            },
        };
        let qos: i64 = row.get::<_, Option<i64>>(4).ok().flatten().unwrap_or(0);
        let retain: i64 = row.get::<_, Option<i64>>(5).ok().flatten().unwrap_or(0);
        let next = interner.len() as i32;
        let topic_id = *interner.entry(topic.clone()).or_insert_with(|| {
            parsed.topics.push(topic);
            next
        });
        cols.timestamp.push(ts.unwrap_or(0));
        cols.timestamp_valid.push(ts.is_some());
        cols.has_null_timestamp |= ts.is_none();
        cols.topic.push(topic_id);
        cols.payload.data.push_str(&payload);
        cols.payload.offsets.push(cols.payload.data.len() as i32);
        cols.qos.push(u8::try_from(qos.clamp(0, 2)).unwrap_or(0));
        cols.retain.push(retain != 0);
        cols.binary.push(false);
        cols.line.push(line);
        if cols.payload.data.len() >= SQLITE_BATCH_BYTES {
            // 32-bit offsets: one batch must stay below 2 GiB of payload text.
            parsed.batches.push(std::mem::take(&mut cols));
            cols.payload.offsets.push(0);
        }
    }
    if !cols.is_empty() {
        parsed.batches.push(cols);
    }
    Ok(parsed)
}

/// One flag per payload span of an NDJSON file: does the payload mention `query`'s text?
/// `flags` are the spans' [`crate::search::span_flags`] when known (see [`crate::search`]);
/// all cores, the file mapped, nothing decoded that need not be.
pub fn search_payloads(
    path: &Path,
    offsets: &[u64],
    lengths: &[u32],
    flags: Option<&[u8]>,
    query: &crate::search::TextQuery,
) -> Result<Vec<bool>> {
    if let Some(f) = flags.filter(|f| f.len() != offsets.len()) {
        return Err(Error::Invalid(format!(
            "{}: {} flags for {} spans",
            path.display(),
            f.len(),
            offsets.len()
        )));
    }
    in_windows(path, offsets, lengths, |map, range| {
        crate::search::search_spans(
            map,
            &offsets[range.clone()],
            &lengths[range.clone()],
            flags.map(|f| &f[range]),
            query,
        )
    })
}

/// [`crate::search::span_flags`] of the payload spans of an NDJSON file.
pub fn payload_flags(path: &Path, offsets: &[u64], lengths: &[u32]) -> Result<Vec<u8>> {
    in_windows(path, offsets, lengths, |map, range| {
        crate::search::span_flags(map, &offsets[range.clone()], &lengths[range])
    })
}

/// Bytes of the file a pass over spans reads before it releases them.
const WINDOW_BYTES: u64 = 256 << 20;

/// Runs `f` over consecutive groups of spans (each group covering about [`WINDOW_BYTES`] of
/// the mapped file) and concatenates the results; after each group the pages it read are
/// released, as when the index is built ([`drop_pages`]): a pass over a 4 GB session keeps
/// a window resident, not the whole file.
fn in_windows<T: Send>(
    path: &Path,
    offsets: &[u64],
    lengths: &[u32],
    f: impl Fn(&[u8], std::ops::Range<usize>) -> Result<Vec<T>>,
) -> Result<Vec<T>> {
    in_windows_of(path, offsets, lengths, WINDOW_BYTES, f)
}

fn in_windows_of<T: Send>(
    path: &Path,
    offsets: &[u64],
    lengths: &[u32],
    window: u64,
    f: impl Fn(&[u8], std::ops::Range<usize>) -> Result<Vec<T>>,
) -> Result<Vec<T>> {
    if offsets.len() != lengths.len() {
        return Err(Error::Invalid(format!(
            "{}: {} offsets but {} lengths",
            path.display(),
            offsets.len(),
            lengths.len()
        )));
    }
    check_regular_file(path)?;
    let file = File::open(path).map_err(io_err(path))?;
    if offsets.is_empty() {
        return Ok(Vec::new());
    }
    // SAFETY: read-only map dropped before return (see `open`).
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io_err(path))?;
    let located = |e: Error| match e {
        Error::Invalid(why) => Error::Invalid(format!("{}: {why}", path.display())),
        other => other,
    };
    let mut out = Vec::with_capacity(offsets.len());
    let mut start = 0;
    while start < offsets.len() {
        let first = offsets[start];
        let mut end = start + 1;
        while end < offsets.len() && offsets[end].saturating_sub(first) < window {
            end += 1;
        }
        out.extend(f(&map, start..end).map_err(located)?);
        // the bytes this group read (spans in file order; any other order only releases less)
        let lo = offsets[start..end].iter().min().copied().unwrap_or(0);
        let hi = offsets[start..end]
            .iter()
            .zip(&lengths[start..end])
            .map(|(&o, &n)| o.saturating_add(u64::from(n)))
            .max()
            .unwrap_or(0)
            .min(map.len() as u64);
        if hi > lo {
            drop_pages(&map, lo as usize, hi as usize);
        }
        start = end;
    }
    Ok(out)
}

/// Reads the payloads at the given raw spans of an NDJSON file and unescapes them.
pub fn fetch_payloads(path: &Path, spans: &[(u64, u32)]) -> Result<Vec<String>> {
    check_regular_file(path)?;
    let file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    if spans.is_empty() {
        return Ok(Vec::new());
    }
    // SAFETY: read-only map dropped before return (see `open`).
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io_err(path))?;
    spans
        .iter()
        .map(|&(off, n)| {
            let end = off
                .checked_add(u64::from(n))
                .filter(|&e| e <= len)
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "payload span {off}+{n} lies outside {} ({len} bytes); the file changed \
                     since it was indexed",
                        path.display()
                    ))
                })?;
            Ok(crate::scan::unescape(&map[off as usize..end as usize]))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_in_windows_answer_as_one_pass() {
        // 300 payloads, windows of 1 to 10,000 bytes: the same flags and hits as one window
        let dir = std::env::temp_dir().join(format!("mqtt-replay-windows-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.log");
        let mut text = String::new();
        let (mut offsets, mut lengths) = (Vec::new(), Vec::new());
        for i in 0..300 {
            let payload = format!("order-{} \\u00e9 {}", i % 7, "x".repeat(i % 50));
            let line = format!("{{\"topic\":\"t\",\"payload\":\"{payload}\"}}\n");
            let at = text.len() + line.find(&payload).unwrap();
            offsets.push(at as u64);
            lengths.push(payload.len() as u32);
            text.push_str(&line);
        }
        std::fs::write(&path, &text).unwrap();
        let query = crate::search::TextQuery::new("ORDER-3", true);
        let whole = in_windows_of(&path, &offsets, &lengths, u64::MAX, |map, r| {
            crate::search::search_spans(map, &offsets[r.clone()], &lengths[r], None, &query)
        })
        .unwrap();
        assert_eq!(whole.iter().filter(|&&b| b).count(), 43);
        let flags = payload_flags(&path, &offsets, &lengths).unwrap();
        for window in [1, 37, 1_000, 10_000] {
            let parts = in_windows_of(&path, &offsets, &lengths, window, |map, r| {
                crate::search::search_spans(
                    map,
                    &offsets[r.clone()],
                    &lengths[r.clone()],
                    Some(&flags[r]),
                    &query,
                )
            })
            .unwrap();
            assert_eq!(parts, whole, "window {window}");
            let f = in_windows_of(&path, &offsets, &lengths, window, |map, r| {
                crate::search::span_flags(map, &offsets[r.clone()], &lengths[r])
            })
            .unwrap();
            assert_eq!(f, flags, "window {window}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_spans_are_errors_in_any_window() {
        let dir = std::env::temp_dir().join(format!("mqtt-replay-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("b.log");
        std::fs::write(&path, "0123456789".repeat(10)).unwrap();
        let query = crate::search::TextQuery::new("3", false);
        let err = |r: Result<Vec<u8>>| r.expect_err("an error, not a result").to_string();
        // lengths that do not match the offsets
        assert!(err(payload_flags(&path, &[0, 10], &[5])).contains("offsets but"));
        // a span past the end, in the last of several windows: an error naming the file
        let (offsets, lengths) = ([0u64, 20, 40, 95], [5u32, 5, 5, 10]);
        let late = in_windows_of(&path, &offsets, &lengths, 10, |map, r| {
            crate::search::span_flags(map, &offsets[r.clone()], &lengths[r])
        });
        let why = err(late);
        assert!(
            why.contains("lies outside") && why.contains("b.log"),
            "{why}"
        );
        // flags that do not match the spans
        let flags = search_payloads(&path, &[0, 10], &[5, 5], Some(&[0]), &query);
        assert!(flags
            .expect_err("an error")
            .to_string()
            .contains("flags for 2 spans"));
        // not a regular file
        assert!(payload_flags(&dir, &[0], &[1]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
