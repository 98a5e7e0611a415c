//! The recorder: subscribe to a broker and append an L5 session file as messages arrive.
//!
//! File layout: line 1 is the `session_meta` header, padded with spaces so that it can be
//! rewritten in place with the final end time and counts on a clean stop; then one JSON line
//! per message (`topic, payload, timestamp` UTC ms `Z`, `qos, retain, receivedNs`). Payloads
//! that are not UTF-8 are written as base64 with `"payloadEncoding":"base64"`. A broker loss
//! becomes a `{"_kind":"gap",…}` marker line. The buffer is flushed at least every
//! `flush_interval`, so a crash loses at most that much and leaves a readable file.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::mqtt::{now_ns, subscribe, BrokerConfig, SubEvent};
use crate::replay::rewrite::iso_ms;

/// How long `Recorder::start` waits for the broker to acknowledge the subscription.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Header padding reserved for the final rewrite.
const HEADER_RESERVE: usize = 2048;

#[derive(Clone, Debug)]
pub struct RecorderConfig {
    pub broker: BrokerConfig,
    /// Subscription filters and their QoS.
    pub topics: Vec<(String, u8)>,
    /// MQTT filters of topics not to write.
    pub exclude: Vec<String>,
    pub directory: PathBuf,
    pub name: String,
    /// Zone for the local times in the file name and header.
    pub tz: String,
    /// Static header fields (description, outcome, preset, …).
    pub header: Map<String, Value>,
    pub flush_interval: Duration,
    pub keep_retained: bool,
    pub rotate_bytes: Option<u64>,
    pub rotate_after: Option<Duration>,
}

#[derive(Clone, Debug, Default)]
pub struct RecorderStatus {
    pub state: &'static str,
    pub messages: u64,
    pub bytes: u64,
    pub dropped_retained: u64,
    pub excluded: u64,
    pub reconnects: u64,
    pub file: Option<PathBuf>,
    pub files: Vec<PathBuf>,
    pub started_ns: i64,
    pub error: Option<String>,
    /// The broker acknowledged the subscription (at least once).
    pub subscribed: bool,
    /// Why the connection was lost last (a refused subscription, a broker restart, …).
    pub last_gap: Option<String>,
    /// Messages received but lost because they could not be written (e.g. a full disk).
    pub lost: u64,
}

/// Matches an MQTT topic filter (`+`, `#`).
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) | (None, None) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

fn local_parts(ns: i64, tz: &jiff::tz::TimeZone) -> (String, String) {
    let ts =
        jiff::Timestamp::from_nanosecond(i128::from(ns)).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let z = ts.to_zoned(tz.clone());
    (
        z.strftime("%Y%m%d_%H%M%S").to_string(),
        z.strftime("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
    )
}

/// One file of a recording. Lines collect in `buf` and reach the file on flush; only then
/// do they count, so the counters always describe what the file holds (a full disk loses the
/// buffer, never the agreement between counters, header and file).
struct Part {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    buf_messages: u64,
    buf_message_bytes: u64,
    header_len: usize,
    started_ns: i64,
    opened: Instant,
    /// Messages and bytes in the file.
    messages: u64,
    bytes: u64,
    index: u32,
}

/// Buffered bytes that trigger a write before the flush interval.
const PART_BUF: usize = 1 << 20;

struct Writer {
    cfg: RecorderConfig,
    tz: jiff::tz::TimeZone,
    part: Option<Part>,
    status: Arc<Mutex<RecorderStatus>>,
    line: Vec<u8>,
    part_no: u32,
    /// Since the last (re)subscription, until the first non-retained message: the broker's
    /// retained dump is arriving.
    dump_since: Option<Instant>,
}

/// How long after a subscription retained messages still count as the broker's dump.
const DUMP_WINDOW: Duration = Duration::from_secs(2);

fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        s.push(T[(n >> 18) as usize & 63] as char);
        s.push(T[(n >> 12) as usize & 63] as char);
        s.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        s.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    s
}

/// Decodes standard base64 (with or without padding); `None` if it is not base64.
pub fn b64_decode(text: &[u8]) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let body: &[u8] = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    if body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.chunks(4) {
        let mut n = 0u32;
        for (k, &c) in chunk.iter().enumerate() {
            n |= val(c)? << (18 - 6 * k);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    Some(out)
}

impl Writer {
    fn header_json(&self, part: &Part, ended_ns: Option<i64>) -> Vec<u8> {
        let mut h = Map::new();
        h.insert("_kind".into(), "session_meta".into());
        h.insert("schema".into(), 1.into());
        h.insert("sessionName".into(), self.cfg.name.clone().into());
        let file = part
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        h.insert("logFileName".into(), file.into());
        let (_, start_local) = local_parts(part.started_ns, &self.tz);
        h.insert("recordingStartedAt".into(), start_local.into());
        h.insert(
            "recordingStartedAtUtc".into(),
            iso_ms(part.started_ns).into(),
        );
        match ended_ns {
            Some(end) => {
                h.insert(
                    "recordingEndedAt".into(),
                    local_parts(end, &self.tz).1.into(),
                );
                h.insert("recordingEndedAtUtc".into(), iso_ms(end).into());
                let dur = (end - part.started_ns) as f64 / 1e9;
                h.insert(
                    "durationSec".into(),
                    ((dur * 1000.0).round() / 1000.0).into(),
                );
            }
            None => {
                h.insert("recordingEndedAt".into(), Value::Null);
                h.insert("durationSec".into(), Value::Null);
            }
        }
        h.insert("brokerHost".into(), self.cfg.broker.host.clone().into());
        h.insert("brokerPort".into(), self.cfg.broker.port.into());
        h.insert(
            "sessionRecorderVersion".into(),
            format!("mqtt-replay {}", env!("CARGO_PKG_VERSION")).into(),
        );
        h.insert("timeZone".into(), self.cfg.tz.clone().into());
        for (k, v) in &self.cfg.header {
            h.entry(k.clone()).or_insert_with(|| v.clone());
        }
        h.insert("messages".into(), part.messages.into());
        if self.cfg.rotate_bytes.is_some() || self.cfg.rotate_after.is_some() {
            h.insert("part".into(), part.index.into());
        }
        serde_json::to_vec(&Value::Object(h)).unwrap_or_default()
    }

    fn open_part(&mut self) -> Result<()> {
        let now = now_ns();
        self.part_no += 1;
        let (stamp, _) = local_parts(now, &self.tz);
        let rotating = self.cfg.rotate_bytes.is_some() || self.cfg.rotate_after.is_some();
        let base = if rotating {
            format!("{}_part{:03}_{stamp}", self.cfg.name, self.part_no)
        } else {
            format!("{}_{stamp}", self.cfg.name)
        };
        let mut path = self.cfg.directory.join(format!("{base}.log"));
        let mut n = 1;
        while path.exists() {
            n += 1;
            path = self.cfg.directory.join(format!("{base}-{n}.log"));
        }
        let io = |e: std::io::Error| Error::Io {
            path: path.clone(),
            source: e,
        };
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io)?;
        let mut part = Part {
            path: path.clone(),
            file,
            buf: Vec::with_capacity(PART_BUF + 64 * 1024),
            buf_messages: 0,
            buf_message_bytes: 0,
            header_len: 0,
            started_ns: now,
            opened: Instant::now(),
            messages: 0,
            bytes: 0,
            index: self.part_no,
        };
        let header = self.header_json(&part, None);
        let reserved = header.len() + HEADER_RESERVE;
        let mut first = header;
        first.resize(reserved, b' ');
        first.push(b'\n');
        part.file.write_all(&first).map_err(io)?;
        part.header_len = reserved;
        part.bytes = reserved as u64 + 1;
        {
            let mut st = lock(&self.status);
            st.file = Some(path.clone());
            st.files.push(path);
        }
        self.part = Some(part);
        Ok(())
    }

    /// Writes what is buffered; on failure (a full disk) the partial write is cut off again,
    /// so the file ends after its last whole line and the counters stay true.
    fn flush_part(part: &mut Part, status: &Mutex<RecorderStatus>) -> Result<()> {
        if part.buf.is_empty() {
            return Ok(());
        }
        let result = part.file.write_all(&part.buf);
        let (n, lines, line_bytes) = (
            part.buf.len() as u64,
            part.buf_messages,
            part.buf_message_bytes,
        );
        part.buf.clear();
        part.buf_messages = 0;
        part.buf_message_bytes = 0;
        match result {
            Ok(()) => {
                part.bytes += n;
                part.messages += lines;
                let mut st = lock(status);
                st.messages += lines;
                st.bytes += line_bytes;
                Ok(())
            }
            Err(e) => {
                // Cut the partial line; truncating frees space, so it works on a full disk.
                let _ = part.file.set_len(part.bytes);
                let _ = part.file.seek(SeekFrom::Start(part.bytes));
                lock(status).lost += lines;
                Err(Error::Io {
                    path: part.path.clone(),
                    source: e,
                })
            }
        }
    }

    /// Rewrites the header in place (end time, counts of what the file holds) and closes
    /// the part, also after a failed write: the header never stays unfinished.
    fn close_part(&mut self) -> Result<()> {
        let Some(mut part) = self.part.take() else {
            return Ok(());
        };
        let flushed = Self::flush_part(&mut part, &self.status);
        let path = part.path.clone();
        let io = |e: std::io::Error| Error::Io {
            path: path.clone(),
            source: e,
        };
        let header = self.header_json(&part, Some(now_ns()));
        if header.len() <= part.header_len {
            let mut line = header;
            line.resize(part.header_len, b' ');
            part.file.seek(SeekFrom::Start(0)).map_err(io)?;
            part.file.write_all(&line).map_err(io)?;
            part.file.sync_all().map_err(io)?;
        }
        flushed
    }

    /// Buffers a line (a message when `message`); writes when the buffer is full.
    fn write_line(&mut self, line: &[u8], message: bool) -> Result<()> {
        let Some(part) = self.part.as_mut() else {
            return Err(Error::Invalid("recorder: no open file".into()));
        };
        part.buf.extend_from_slice(line);
        if message {
            part.buf_messages += 1;
            part.buf_message_bytes += line.len() as u64;
        }
        if part.buf.len() >= PART_BUF {
            return Self::flush_part(part, &self.status);
        }
        Ok(())
    }

    fn message(&mut self, m: &crate::mqtt::Received) -> Result<()> {
        let topic = String::from_utf8_lossy(&m.topic);
        let in_dump = m.retain && self.dump_since.is_some_and(|t| t.elapsed() < DUMP_WINDOW);
        if !in_dump {
            self.dump_since = None;
        }
        {
            let mut st = lock(&self.status);
            if in_dump && !self.cfg.keep_retained {
                st.dropped_retained += 1;
                return Ok(());
            }
            if self.cfg.exclude.iter().any(|f| topic_matches(f, &topic)) {
                st.excluded += 1;
                return Ok(());
            }
        }
        self.rotate_if_due()?;
        self.line.clear();
        self.line.extend_from_slice(b"{\"topic\":");
        serde_json::to_writer(&mut self.line, topic.as_ref()).ok();
        self.line.extend_from_slice(b",\"payload\":");
        let binary = match std::str::from_utf8(&m.payload) {
            Ok(text) => {
                serde_json::to_writer(&mut self.line, text).ok();
                false
            }
            Err(_) => {
                serde_json::to_writer(&mut self.line, &b64(&m.payload)).ok();
                true
            }
        };
        self.line.extend_from_slice(b",\"timestamp\":\"");
        self.line
            .extend_from_slice(iso_ms(m.received_ns).as_bytes());
        self.line.extend_from_slice(b"\",\"qos\":");
        self.line.push(b'0' + m.qos.min(2));
        self.line.extend_from_slice(if m.retain {
            b",\"retain\":true"
        } else {
            b",\"retain\":false"
        });
        if binary {
            self.line
                .extend_from_slice(b",\"payloadEncoding\":\"base64\"");
        }
        if in_dump {
            self.line.extend_from_slice(b",\"retainedDump\":true");
        }
        self.line.extend_from_slice(b",\"receivedNs\":");
        self.line
            .extend_from_slice(m.received_ns.to_string().as_bytes());
        self.line.extend_from_slice(b"}\n");
        let line = std::mem::take(&mut self.line);
        let r = self.write_line(&line, true);
        self.line = line;
        r
    }

    fn rotate_if_due(&mut self) -> Result<()> {
        let Some(part) = self.part.as_ref() else {
            return self.open_part();
        };
        let by_size = self.cfg.rotate_bytes.is_some_and(|b| {
            part.bytes + part.buf.len() as u64 >= b && part.messages + part.buf_messages > 0
        });
        let by_time = self
            .cfg
            .rotate_after
            .is_some_and(|d| part.opened.elapsed() >= d);
        if by_size || by_time {
            self.close_part()?;
            self.open_part()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        match self.part.as_mut() {
            Some(part) => Self::flush_part(part, &self.status),
            None => Ok(()),
        }
    }
}

/// The status lock, also after a panic elsewhere (the counters stay readable).
fn lock(status: &Mutex<RecorderStatus>) -> std::sync::MutexGuard<'_, RecorderStatus> {
    status
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Handle of a running recorder. Dropping it stops the recording cleanly.
pub struct Recorder {
    stop: Arc<AtomicBool>,
    status: Arc<Mutex<RecorderStatus>>,
    thread: Option<JoinHandle<()>>,
}

impl Recorder {
    /// Creates the first file, connects and subscribes (errors surface here), then records
    /// on background threads.
    pub fn start(cfg: RecorderConfig) -> Result<Self> {
        let tz = jiff::tz::TimeZone::get(&cfg.tz)
            .map_err(|e| Error::Invalid(format!("unknown time zone {:?}: {e}", cfg.tz)))?;
        std::fs::create_dir_all(&cfg.directory).map_err(|e| Error::Io {
            path: cfg.directory.clone(),
            source: e,
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let status = Arc::new(Mutex::new(RecorderStatus {
            state: "recording",
            started_ns: now_ns(),
            ..RecorderStatus::default()
        }));
        let mut broker = cfg.broker.clone();
        broker.protocol = 5;
        let (rx, sub_thread) = subscribe(broker, cfg.topics.clone(), Arc::clone(&stop))?;
        let mut writer = Writer {
            cfg,
            tz,
            part: None,
            status: Arc::clone(&status),
            line: Vec::with_capacity(4096),
            part_no: 0,
            dump_since: None,
        };
        writer.open_part()?;
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("mqtt-record".into())
            .spawn(move || {
                let interval = writer.cfg.flush_interval;
                let mut last_flush = Instant::now();
                let mut connected_once = false;
                let mut result = Ok(());
                loop {
                    match rx.recv_timeout(interval.min(Duration::from_millis(100))) {
                        Ok(SubEvent::Message(m)) => result = writer.message(&m),
                        Ok(SubEvent::Disconnected { at_ns, reason }) => {
                            lock(&writer.status).last_gap = Some(reason.clone());
                            let line = serde_json::json!({
                                "_kind": "gap", "at": iso_ms(at_ns), "reason": reason,
                            });
                            let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
                            bytes.push(b'\n');
                            result = writer
                                .write_line(&bytes, false)
                                .and_then(|()| writer.flush());
                        }
                        Ok(SubEvent::Connected { .. }) => {
                            // The first one is the initial subscription; later ones reconnects.
                            if connected_once {
                                lock(&writer.status).reconnects += 1;
                            }
                            connected_once = true;
                            lock(&writer.status).subscribed = true;
                            writer.dump_since = Some(Instant::now());
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                    if result.is_ok() && last_flush.elapsed() >= interval {
                        result = writer.flush();
                        last_flush = Instant::now();
                    }
                    if let Err(e) = &result {
                        lock(&writer.status).error = Some(e.to_string());
                        break;
                    }
                }
                // After an error nobody may be calling stop(): end the subscription ourselves.
                stop2.store(true, Ordering::Relaxed);
                drop(sub_thread.join());
                let r = writer.close_part();
                let mut st = lock(&writer.status);
                if let Err(e) = r {
                    st.error.get_or_insert(e.to_string());
                }
                st.state = "stopped";
            })
            .map_err(|e| Error::Broker(e.to_string()))?;
        let mut rec = Recorder {
            stop,
            status,
            thread: Some(thread),
        };
        // Return only once the broker acknowledged the subscription, so that whatever is
        // published after `start` returns is recorded.
        let deadline = Instant::now() + SUBSCRIBE_TIMEOUT;
        loop {
            let st = rec.status();
            if st.subscribed {
                return Ok(rec);
            }
            let failed = st.error.or(st.last_gap.filter(|g| g.contains("refused")));
            if failed.is_some() || Instant::now() >= deadline {
                // Nothing was recorded: leave no empty session behind.
                for file in rec.stop().files {
                    std::fs::remove_file(file).ok();
                }
                let why = failed.unwrap_or_else(|| "no SUBACK from the broker".into());
                return Err(Error::Broker(format!("could not subscribe: {why}")));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub fn status(&self) -> RecorderStatus {
        lock(&self.status).clone()
    }

    /// Stops, writes the final header and waits for the threads.
    pub fn stop(&mut self) -> RecorderStatus {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().ok();
        }
        self.status()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_base64() {
        assert!(topic_matches("a/+/c", "a/b/c"));
        assert!(topic_matches("a/#", "a/b/c"));
        assert!(topic_matches("#", "/j1/txt"));
        assert!(topic_matches("/j1/txt/1/i/cam", "/j1/txt/1/i/cam"));
        assert!(!topic_matches("a/+", "a/b/c"));
        assert!(!topic_matches("a/b", "a"));
        assert_eq!(b64(b"hello"), "aGVsbG8=");
        assert_eq!(b64(&[0xff, 0x00]), "/wA=");
        for data in [
            &b""[..],
            b"a",
            b"ab",
            b"abc",
            b"hello",
            &[0, 255, 254, 10, 13],
        ] {
            assert_eq!(b64_decode(b64(data).as_bytes()).as_deref(), Some(data));
        }
        assert!(b64_decode(b"a").is_none());
        assert!(b64_decode(b"!!!!").is_none());
    }
}
