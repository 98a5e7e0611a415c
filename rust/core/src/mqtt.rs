//! A small MQTT 3.1.1 client over a blocking TCP socket, written for replay and recording.
//!
//! Why our own: the replay thread must own the socket write (no async runtime, no extra
//! thread hop per message, TCP_NODELAY on), QoS 1 needs a bounded in-flight window so the
//! 16-bit packet id never wraps onto unacknowledged messages, and after a broker restart
//! every unacknowledged message is sent again in order. The protocol subset is small:
//! CONNECT/CONNACK, PUBLISH (QoS 0/1, both directions), PUBACK, SUBSCRIBE/SUBACK,
//! PINGREQ/PINGRESP, DISCONNECT.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufWriter, Read, Write};
use std::net::{IpAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::transport::{Conn, TlsOptions};

/// Where to connect and as whom. Built from a URL by [`BrokerConfig::parse`].
#[derive(Clone)]
pub struct BrokerConfig {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub client_id: String,
    pub keep_alive_s: u16,
    /// 4 = MQTT 3.1.1 (publishing), 5 = MQTT 5 (recording, for "retain as published").
    pub protocol: u8,
    /// `mqtts://`: TLS with these options.
    pub tls: Option<TlsOptions>,
}

impl std::fmt::Debug for BrokerConfig {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls.is_some() { "mqtts" } else { "mqtt" };
        write!(
            f,
            "{scheme}://{}:{} (client id {})",
            self.host, self.port, self.client_id
        )
    }
}

impl BrokerConfig {
    /// Parses `mqtt://[user[:password]@]host[:port]` (port 1883 by default) or
    /// `mqtts://…` (TLS, port 8883 by default; `?ca=/path/ca.pem` adds a trusted CA).
    pub fn parse(url: &str, client_id: &str) -> Result<Self> {
        let invalid = |why: &str| Error::Invalid(format!("broker URL {:?}: {why}", redact(url)));
        let (rest, secure) = if let Some(r) = url
            .strip_prefix("mqtt://")
            .or_else(|| url.strip_prefix("tcp://"))
        {
            (r, false)
        } else if let Some(r) = url
            .strip_prefix("mqtts://")
            .or_else(|| url.strip_prefix("ssl://"))
        {
            (r, true)
        } else if url.contains("://") {
            return Err(invalid("scheme must be mqtt:// or mqtts://"));
        } else {
            (url, false)
        };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut tls = secure.then(TlsOptions::default);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("ca", path)) if secure => {
                    let path = std::path::PathBuf::from(pct_decode(path));
                    if !path.is_file() {
                        return Err(invalid(&format!("CA file {} not found", path.display())));
                    }
                    if let Some(t) = tls.as_mut() {
                        t.ca_file = Some(path);
                    }
                }
                _ => return Err(invalid(&format!("unknown URL option {pair:?}"))),
            }
        }
        let rest = rest.trim_end_matches('/');
        let (auth, hostport) = match rest.rsplit_once('@') {
            Some((a, h)) => (Some(a), h),
            None => (None, rest),
        };
        let (username, password) = match auth {
            None => (None, None),
            Some(a) => match a.split_once(':') {
                Some((u, p)) => (Some(pct_decode(u)), Some(pct_decode(p))),
                None => (Some(pct_decode(a)), None),
            },
        };
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, p) = h.split_once(']').ok_or_else(|| invalid("unclosed '['"))?;
            (h.to_string(), p.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let port = match port {
            None | Some("") if secure => 8883,
            None | Some("") => 1883,
            Some(p) => p.parse().map_err(|_| invalid("bad port"))?,
        };
        Ok(BrokerConfig {
            host,
            port,
            username,
            password,
            client_id: client_id.to_string(),
            keep_alive_s: 30,
            protocol: 4,
            tls,
        })
    }

    /// True when every address the host resolves to is a loopback address.
    pub fn is_loopback(&self) -> bool {
        if self.host.eq_ignore_ascii_case("localhost") {
            return true;
        }
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return ip.is_loopback();
        }
        match (self.host.as_str(), self.port).to_socket_addrs() {
            Ok(addrs) => {
                let addrs: Vec<_> = addrs.collect();
                !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
            }
            Err(_) => false,
        }
    }

    pub fn display(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// The URL with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((auth, host)) = rest.rsplit_once('@') {
            let user = auth.split_once(':').map_or(auth, |(u, _)| u);
            return format!("{scheme}://{user}:***@{host}");
        }
    }
    url.to_string()
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---- packet encoding -----------------------------------------------------------------

fn put_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if n == 0 {
            break;
        }
    }
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

fn connect_packet(cfg: &BrokerConfig) -> Vec<u8> {
    let mut body = Vec::new();
    put_str(&mut body, b"MQTT");
    body.push(cfg.protocol);
    let mut flags = 0x02u8; // clean session
    if cfg.username.is_some() {
        flags |= 0x80;
    }
    if cfg.password.is_some() {
        flags |= 0x40;
    }
    body.push(flags);
    body.extend_from_slice(&cfg.keep_alive_s.to_be_bytes());
    if cfg.protocol >= 5 {
        body.push(0); // no properties
    }
    put_str(&mut body, cfg.client_id.as_bytes());
    if let Some(u) = &cfg.username {
        put_str(&mut body, u.as_bytes());
    }
    if let Some(p) = &cfg.password {
        put_str(&mut body, p.as_bytes());
    }
    let mut out = vec![0x10];
    put_len(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

/// Appends a PUBLISH packet to `out`.
pub fn encode_publish(
    out: &mut Vec<u8>,
    topic: &[u8],
    payload: &[u8],
    qos: u8,
    retain: bool,
    dup: bool,
    pid: u16,
) {
    let mut header = 0x30 | (qos.min(1) << 1);
    if retain {
        header |= 0x01;
    }
    if dup && qos > 0 {
        header |= 0x08;
    }
    out.push(header);
    let len = 2 + topic.len() + if qos > 0 { 2 } else { 0 } + payload.len();
    put_len(out, len);
    put_str(out, topic);
    if qos > 0 {
        out.extend_from_slice(&pid.to_be_bytes());
    }
    out.extend_from_slice(payload);
}

fn subscribe_packet(pid: u16, filters: &[(String, u8)], v5: bool) -> Vec<u8> {
    let mut body = pid.to_be_bytes().to_vec();
    if v5 {
        body.push(0); // no properties
    }
    for (f, q) in filters {
        put_str(&mut body, f.as_bytes());
        // MQTT 5: "retain as published" (0x08), so the recorded flag is the publisher's.
        body.push(if v5 { *q | 0x08 } else { *q });
    }
    let mut out = vec![0x82];
    put_len(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

/// A packet read from the broker.
#[derive(Debug)]
pub enum Incoming {
    ConnAck {
        code: u8,
    },
    PubAck {
        pid: u16,
    },
    SubAck {
        pid: u16,
        codes: Vec<u8>,
    },
    Publish {
        topic: Vec<u8>,
        payload: Vec<u8>,
        qos: u8,
        retain: bool,
        dup: bool,
        pid: u16,
    },
    PingResp,
    Other(u8),
}

fn get_varint(b: &[u8], at: &mut usize) -> Option<usize> {
    let mut v = 0usize;
    let mut mult = 1usize;
    for _ in 0..4 {
        let c = *b.get(*at)?;
        *at += 1;
        v += usize::from(c & 0x7f) * mult;
        if c & 0x80 == 0 {
            return Some(v);
        }
        mult *= 128;
    }
    None
}

/// Reads one packet; `Ok(None)` on a clean EOF.
pub fn read_packet(r: &mut impl Read) -> std::io::Result<Option<Incoming>> {
    read_packet_v(r, false)
}

/// Reads one packet of protocol 3.1.1 or (`v5`) 5; `Ok(None)` on a clean EOF.
pub fn read_packet_v(r: &mut impl Read, v5: bool) -> std::io::Result<Option<Incoming>> {
    let mut first = [0u8; 1];
    if r.read(&mut first)? == 0 {
        return Ok(None);
    }
    let mut len = 0usize;
    let mut mult = 1usize;
    for _ in 0..4 {
        let mut b = [0u8; 1];
        r.read_exact(&mut b)?;
        len += usize::from(b[0] & 0x7f) * mult;
        if b[0] & 0x80 == 0 {
            break;
        }
        mult *= 128;
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    parse_body(first[0], &body, v5).map(Some)
}

/// Decodes one complete packet from the front of `buf`: the packet and the bytes it used,
/// or `None` when `buf` does not hold a whole packet yet.
fn decode(buf: &[u8], v5: bool) -> std::io::Result<Option<(Incoming, usize)>> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let mut len = 0usize;
    let mut mult = 1usize;
    let mut at = 1;
    loop {
        let Some(&b) = buf.get(at) else {
            return Ok(None);
        };
        at += 1;
        len += usize::from(b & 0x7f) * mult;
        if b & 0x80 == 0 {
            break;
        }
        mult *= 128;
        if at > 4 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "bad length",
            ));
        }
    }
    let Some(body) = buf.get(at..at + len) else {
        return Ok(None);
    };
    Ok(Some((parse_body(first, body, v5)?, at + len)))
}

/// Keeps partial packets across read timeouts (a subscriber wakes up to check for stop).
#[derive(Default)]
struct Framer {
    buf: Vec<u8>,
    start: usize,
}

impl Framer {
    /// The next packet; `Ok(None)` at EOF; a timeout error when no whole packet arrived.
    fn next(&mut self, r: &mut dyn Read, v5: bool) -> std::io::Result<Option<Incoming>> {
        loop {
            if let Some((pkt, used)) = decode(&self.buf[self.start..], v5)? {
                self.start += used;
                if self.start == self.buf.len() {
                    self.buf.clear();
                    self.start = 0;
                }
                return Ok(Some(pkt));
            }
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            let old = self.buf.len();
            self.buf.resize(old + 64 * 1024, 0);
            match r.read(&mut self.buf[old..]) {
                Ok(0) => {
                    self.buf.truncate(old);
                    return Ok(None);
                }
                Ok(n) => self.buf.truncate(old + n),
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(e);
                }
            }
        }
    }
}

fn parse_body(first: u8, body: &[u8], v5: bool) -> std::io::Result<Incoming> {
    let kind = first >> 4;
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed packet");
    Ok(match kind {
        2 => Incoming::ConnAck {
            code: *body.get(1).ok_or_else(bad)?,
        },
        4 => Incoming::PubAck {
            pid: u16::from_be_bytes([
                *body.first().ok_or_else(bad)?,
                *body.get(1).ok_or_else(bad)?,
            ]),
        },
        9 => {
            let pid = u16::from_be_bytes([
                *body.first().ok_or_else(bad)?,
                *body.get(1).ok_or_else(bad)?,
            ]);
            let mut at = 2;
            if v5 {
                let n = get_varint(body, &mut at).ok_or_else(bad)?;
                at += n;
            }
            Incoming::SubAck {
                pid,
                codes: body.get(at..).ok_or_else(bad)?.to_vec(),
            }
        }
        3 => {
            let qos = (first >> 1) & 0x03;
            let tl = usize::from(u16::from_be_bytes([
                *body.first().ok_or_else(bad)?,
                *body.get(1).ok_or_else(bad)?,
            ]));
            let topic = body.get(2..2 + tl).ok_or_else(bad)?.to_vec();
            let mut at = 2 + tl;
            let pid = if qos > 0 {
                let p = u16::from_be_bytes([
                    *body.get(at).ok_or_else(bad)?,
                    *body.get(at + 1).ok_or_else(bad)?,
                ]);
                at += 2;
                p
            } else {
                0
            };
            if v5 {
                let n = get_varint(body, &mut at).ok_or_else(bad)?;
                at += n;
            }
            Incoming::Publish {
                topic,
                payload: body.get(at..).ok_or_else(bad)?.to_vec(),
                qos,
                retain: first & 1 == 1,
                dup: first & 0x08 != 0,
                pid,
            }
        }
        13 => Incoming::PingResp,
        k => Incoming::Other(k),
    })
}

fn connack_reason(code: u8) -> &'static str {
    match code {
        1 => "unacceptable protocol version",
        2 => "client identifier rejected",
        3 => "server unavailable",
        4 => "bad user name or password",
        5 => "not authorised",
        _ => "refused",
    }
}

/// Opens a TCP (or TLS) connection and completes CONNECT/CONNACK.
pub fn connect(cfg: &BrokerConfig, timeout: Duration) -> Result<Conn> {
    let broker = |why: String| Error::Broker(format!("broker {}: {why}", cfg.display()));
    let addrs: Vec<_> = (cfg.host.as_str(), cfg.port)
        .to_socket_addrs()
        .map_err(|e| broker(format!("cannot resolve: {e}")))?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                s.set_nodelay(true).ok();
                s.set_read_timeout(Some(timeout)).ok();
                s.set_write_timeout(Some(timeout)).ok();
                let conn = match &cfg.tls {
                    None => Conn::plain(s),
                    Some(opts) => Conn::tls(s, &cfg.host, opts)?,
                };
                let io = |e: std::io::Error| broker(e.to_string());
                conn.writer()
                    .and_then(|mut w| w.write_all(&connect_packet(cfg)).and_then(|()| w.flush()))
                    .map_err(io)?;
                let mut r = conn.reader().map_err(io)?;
                return match read_packet_v(&mut r, cfg.protocol >= 5) {
                    Ok(Some(Incoming::ConnAck { code: 0 })) => {
                        conn.socket().set_read_timeout(None).ok();
                        conn.socket().set_write_timeout(None).ok();
                        Ok(conn)
                    }
                    Ok(Some(Incoming::ConnAck { code })) => Err(broker(format!(
                        "connection refused: {}",
                        connack_reason(code)
                    ))),
                    Ok(_) => Err(broker("unexpected answer to CONNECT".into())),
                    Err(e) => Err(broker(format!("no CONNACK: {e}"))),
                };
            }
            Err(e) => last = Some(e),
        }
    }
    Err(broker(
        last.map_or_else(|| "no address".into(), |e| e.to_string()),
    ))
}

// ---- publishing connection with a bounded in-flight window -------------------------

struct InflightMsg {
    topic: Vec<u8>,
    payload: Vec<u8>,
    retain: bool,
}

#[derive(Default)]
struct Window {
    /// Unacknowledged QoS 1 messages by packet id, in send order.
    pending: BTreeMap<u64, (u16, InflightMsg)>,
    by_pid: std::collections::HashMap<u16, u64>,
    broken: bool,
    generation: u64,
}

struct Shared {
    window: Mutex<Window>,
    acked: Condvar,
}

/// Counters of a publisher, readable from any thread.
#[derive(Default, Debug)]
pub struct PubCounters {
    pub reconnects: AtomicU64,
    pub resent: AtomicU64,
    pub acked: AtomicU64,
}

/// A connection that publishes, survives broker restarts and keeps at most `window`
/// QoS 1 messages unacknowledged. Used from one thread.
pub struct PublishConn {
    cfg: BrokerConfig,
    conn: Conn,
    writer: BufWriter<Box<dyn Write + Send>>,
    shared: Arc<Shared>,
    reader: Option<JoinHandle<()>>,
    window: usize,
    next_pid: u16,
    next_serial: u64,
    buf: Vec<u8>,
    last_write: Instant,
    pub counters: Arc<PubCounters>,
    pub stop: Arc<AtomicBool>,
    connected: Arc<AtomicBool>,
}

impl PublishConn {
    pub fn open(cfg: BrokerConfig, window: usize, stop: Arc<AtomicBool>) -> Result<Self> {
        let conn = connect(&cfg, Duration::from_secs(5))?;
        let shared = Arc::new(Shared {
            window: Mutex::new(Window::default()),
            acked: Condvar::new(),
        });
        let connected = Arc::new(AtomicBool::new(true));
        let reader = spawn_ack_reader(&conn, &shared, 0, &connected)?;
        let writer = conn.writer().map_err(|e| Error::Broker(e.to_string()))?;
        Ok(PublishConn {
            cfg,
            conn,
            writer: BufWriter::with_capacity(64 * 1024, writer),
            shared,
            reader: Some(reader),
            window: window.clamp(1, 60_000),
            next_pid: 1,
            next_serial: 0,
            buf: Vec::with_capacity(4096),
            last_write: Instant::now(),
            counters: Arc::new(PubCounters::default()),
            stop,
            connected,
        })
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    fn alloc_pid(&mut self) -> u16 {
        let pid = self.next_pid;
        self.next_pid = if self.next_pid == u16::MAX {
            1
        } else {
            self.next_pid + 1
        };
        pid
    }

    /// Publishes one message. QoS 1 blocks while the window is full. On a broken connection
    /// it reconnects (retrying until `stop`) and resends every unacknowledged message first.
    pub fn publish(&mut self, topic: &[u8], payload: &[u8], qos: u8, retain: bool) -> Result<()> {
        let qos = qos.min(1);
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Err(Error::Broker("stopped".into()));
            }
            if !self.is_connected() || self.shared.window.lock().unwrap().broken {
                self.reconnect()?;
            }
            let pid = if qos > 0 {
                if self.wait_window()? {
                    self.alloc_pid()
                } else {
                    continue; // the connection broke while waiting
                }
            } else {
                0
            };
            if qos > 0 {
                let serial = self.next_serial;
                self.next_serial += 1;
                let mut w = self.shared.window.lock().unwrap();
                // A pid still pending would be ambiguous: the window is far below 65535.
                w.by_pid.insert(pid, serial);
                w.pending.insert(
                    serial,
                    (
                        pid,
                        InflightMsg {
                            topic: topic.to_vec(),
                            payload: payload.to_vec(),
                            retain,
                        },
                    ),
                );
            }
            self.buf.clear();
            encode_publish(&mut self.buf, topic, payload, qos, retain, false, pid);
            match self.writer.write_all(&self.buf) {
                Ok(()) => {
                    self.last_write = Instant::now();
                    return Ok(());
                }
                Err(_) => {
                    self.mark_broken();
                    if qos > 0 {
                        // The message is in the window and goes out again after reconnecting.
                        self.reconnect()?;
                        return Ok(());
                    }
                    // QoS 0: at most once; report and let the caller count it.
                    return Err(Error::Broker("connection lost while publishing".into()));
                }
            }
        }
    }

    /// Waits until the window has room. Returns false when the connection broke meanwhile.
    fn wait_window(&mut self) -> Result<bool> {
        let mut flushed = false;
        let mut w = self.shared.window.lock().unwrap();
        while w.pending.len() >= self.window {
            if w.broken {
                return Ok(false);
            }
            if !flushed {
                drop(w);
                if self.writer.flush().is_err() {
                    self.mark_broken();
                    return Ok(false);
                }
                flushed = true;
                w = self.shared.window.lock().unwrap();
                continue;
            }
            if self.stop.load(Ordering::Relaxed) {
                return Err(Error::Broker("stopped".into()));
            }
            w = self
                .shared
                .acked
                .wait_timeout(w, Duration::from_millis(50))
                .unwrap()
                .0;
        }
        Ok(!w.broken)
    }

    fn mark_broken(&self) {
        self.connected.store(false, Ordering::Relaxed);
        self.shared.window.lock().unwrap().broken = true;
    }

    /// Sends buffered packets now.
    pub fn flush(&mut self) -> Result<()> {
        if self.writer.flush().is_err() {
            self.mark_broken();
            return Err(Error::Broker("connection lost while flushing".into()));
        }
        Ok(())
    }

    /// Keeps the connection alive during long waits.
    pub fn ping_if_idle(&mut self) {
        if self.last_write.elapsed() >= Duration::from_secs(u64::from(self.cfg.keep_alive_s) / 2) {
            if self
                .writer
                .write_all(&[0xC0, 0x00])
                .and_then(|()| self.writer.flush())
                .is_err()
            {
                self.mark_broken();
            }
            self.last_write = Instant::now();
        }
    }

    /// Reconnects with backoff until it succeeds or `stop` is set, then resends the window.
    pub fn reconnect(&mut self) -> Result<()> {
        let mut delay = Duration::from_millis(50);
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Err(Error::Broker("stopped while reconnecting".into()));
            }
            if let Ok(conn) = connect(&self.cfg, Duration::from_secs(2)) {
                let writer = conn.writer().map_err(|e| Error::Broker(e.to_string()))?;
                // Close the old connection; its reader thread then ends.
                self.conn.shutdown();
                self.conn = conn;
                self.writer = BufWriter::with_capacity(64 * 1024, writer);
                if let Some(h) = self.reader.take() {
                    h.join().ok();
                }
                let generation = {
                    let mut w = self.shared.window.lock().unwrap();
                    w.broken = false;
                    w.generation += 1;
                    w.generation
                };
                self.connected.store(true, Ordering::Relaxed);
                self.reader = Some(spawn_ack_reader(
                    &self.conn,
                    &self.shared,
                    generation,
                    &self.connected,
                )?);
                self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                // Resend every unacknowledged message, oldest first, with DUP set.
                let resend: Vec<(u16, Vec<u8>)> = {
                    let w = self.shared.window.lock().unwrap();
                    w.pending
                        .values()
                        .map(|(pid, m)| {
                            let mut b = Vec::new();
                            encode_publish(&mut b, &m.topic, &m.payload, 1, m.retain, true, *pid);
                            (*pid, b)
                        })
                        .collect()
                };
                let mut ok = true;
                for (_, bytes) in &resend {
                    if self.writer.write_all(bytes).is_err() {
                        ok = false;
                        break;
                    }
                }
                if ok && self.writer.flush().is_ok() {
                    self.counters
                        .resent
                        .fetch_add(resend.len() as u64, Ordering::Relaxed);
                    self.last_write = Instant::now();
                    return Ok(());
                }
                self.mark_broken();
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_secs(1));
        }
    }

    /// Waits until every QoS 1 message is acknowledged (reconnecting as needed) or `timeout`.
    pub fn drain(&mut self, timeout: Duration) -> Result<usize> {
        let deadline = Instant::now() + timeout;
        self.flush().ok();
        loop {
            let (pending, broken) = {
                let w = self.shared.window.lock().unwrap();
                (w.pending.len(), w.broken)
            };
            if pending == 0 {
                return Ok(0);
            }
            if Instant::now() >= deadline || self.stop.load(Ordering::Relaxed) {
                return Ok(pending);
            }
            if broken || !self.is_connected() {
                self.reconnect()?;
                continue;
            }
            let w = self.shared.window.lock().unwrap();
            drop(
                self.shared
                    .acked
                    .wait_timeout(w, Duration::from_millis(20))
                    .unwrap(),
            );
        }
    }

    pub fn pending(&self) -> usize {
        self.shared.window.lock().unwrap().pending.len()
    }

    /// Sends DISCONNECT and closes the socket.
    pub fn close(mut self) {
        let _ = self.writer.write_all(&[0xE0, 0x00]);
        let _ = self.writer.flush();
        self.conn.shutdown();
        if let Some(h) = self.reader.take() {
            h.join().ok();
        }
    }
}

fn spawn_ack_reader(
    conn: &Conn,
    shared: &Arc<Shared>,
    generation: u64,
    connected: &Arc<AtomicBool>,
) -> Result<JoinHandle<()>> {
    let mut rd = conn.reader().map_err(|e| Error::Broker(e.to_string()))?;
    let shared = Arc::clone(shared);
    let connected = Arc::clone(connected);
    std::thread::Builder::new()
        .name("mqtt-acks".into())
        .spawn(move || {
            let mut r = std::io::BufReader::with_capacity(16 * 1024, &mut rd);
            loop {
                match read_packet(&mut r) {
                    Ok(Some(Incoming::PubAck { pid })) => {
                        let mut w = shared.window.lock().unwrap();
                        if w.generation == generation {
                            if let Some(serial) = w.by_pid.remove(&pid) {
                                w.pending.remove(&serial);
                            }
                        }
                        drop(w);
                        shared.acked.notify_all();
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => {
                        let mut w = shared.window.lock().unwrap();
                        if w.generation == generation {
                            w.broken = true;
                            connected.store(false, Ordering::Relaxed);
                        }
                        drop(w);
                        shared.acked.notify_all();
                        return;
                    }
                }
            }
        })
        .map_err(|e| Error::Broker(e.to_string()))
}

// ---- subscribing connection ----------------------------------------------------------

/// A received message with its arrival time.
#[derive(Debug, Clone)]
pub struct Received {
    pub topic: Vec<u8>,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    /// Nanoseconds since the Unix epoch when the packet was read.
    pub received_ns: i64,
}

/// Events from a subscription.
#[derive(Debug)]
pub enum SubEvent {
    Message(Received),
    /// The connection dropped; the subscriber is reconnecting.
    Disconnected {
        at_ns: i64,
        reason: String,
    },
    /// Connected (again) and subscribed.
    Connected {
        at_ns: i64,
    },
}

pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Subscribes on a background thread and sends every event to the returned channel,
/// reconnecting and resubscribing after a broker loss until `stop` is set.
pub fn subscribe(
    cfg: BrokerConfig,
    filters: Vec<(String, u8)>,
    stop: Arc<AtomicBool>,
) -> Result<(mpsc::Receiver<SubEvent>, JoinHandle<()>)> {
    let first = connect(&cfg, Duration::from_secs(5))?;
    let (tx, rx) = mpsc::sync_channel::<SubEvent>(65_536);
    let handle = std::thread::Builder::new()
        .name("mqtt-subscribe".into())
        .spawn(move || {
            let mut stream = Some(first);
            let mut delay = Duration::from_millis(50);
            while !stop.load(Ordering::Relaxed) {
                let s = match stream.take() {
                    Some(s) => s,
                    None => match connect(&cfg, Duration::from_secs(2)) {
                        Ok(s) => {
                            delay = Duration::from_millis(50);
                            s
                        }
                        Err(_) => {
                            std::thread::sleep(delay);
                            delay = (delay * 2).min(Duration::from_secs(1));
                            continue;
                        }
                    },
                };
                let reason = run_subscription(&s, &filters, &tx, &stop, &cfg);
                s.shutdown();
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if tx
                    .send(SubEvent::Disconnected {
                        at_ns: now_ns(),
                        reason,
                    })
                    .is_err()
                {
                    break;
                }
            }
        })
        .map_err(|e| Error::Broker(e.to_string()))?;
    Ok((rx, handle))
}

fn run_subscription(
    s: &Conn,
    filters: &[(String, u8)],
    tx: &mpsc::SyncSender<SubEvent>,
    stop: &AtomicBool,
    cfg: &BrokerConfig,
) -> String {
    let (Ok(mut w), Ok(mut rd)) = (s.writer(), s.reader()) else {
        return "socket clone failed".into();
    };
    let v5 = cfg.protocol >= 5;
    if w.write_all(&subscribe_packet(1, filters, v5)).is_err() {
        return "subscribe failed".into();
    }
    // A read timeout lets the loop check `stop` and send pings; the framer keeps partial
    // packets across timeouts.
    s.socket()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .ok();
    let mut framer = Framer::default();
    let mut last_ping = Instant::now();
    let mut acks: VecDeque<u16> = VecDeque::new();
    loop {
        if stop.load(Ordering::Relaxed) {
            let _ = w.write_all(&[0xE0, 0x00]);
            return "stopped".into();
        }
        if last_ping.elapsed() >= Duration::from_secs(u64::from(cfg.keep_alive_s) / 2) {
            if w.write_all(&[0xC0, 0x00]).is_err() {
                return "ping failed".into();
            }
            last_ping = Instant::now();
        }
        match framer.next(&mut rd, v5) {
            Ok(Some(Incoming::Publish {
                topic,
                payload,
                qos,
                retain,
                pid,
                ..
            })) => {
                if qos > 0 {
                    acks.push_back(pid);
                }
                let msg = Received {
                    topic,
                    payload,
                    qos,
                    retain,
                    received_ns: now_ns(),
                };
                if tx.send(SubEvent::Message(msg)).is_err() {
                    return "receiver gone".into();
                }
                // Acknowledge after handing the message on (at-least-once into the channel).
                while let Some(pid) = acks.pop_front() {
                    let mut b = [0x40, 0x02, 0, 0];
                    b[2..].copy_from_slice(&pid.to_be_bytes());
                    if w.write_all(&b).is_err() {
                        return "ack failed".into();
                    }
                }
            }
            Ok(Some(Incoming::SubAck { codes, .. })) => {
                if codes.iter().any(|&c| c >= 0x80) {
                    return "subscription refused".into();
                }
                if tx.send(SubEvent::Connected { at_ns: now_ns() }).is_err() {
                    return "receiver gone".into();
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => return "broker closed the connection".into(),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return format!("connection lost: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let c = BrokerConfig::parse("mqtt://u:p%40ss@host:1884", "id").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("host", 1884));
        assert_eq!(c.password.as_deref(), Some("p@ss"));
        let c = BrokerConfig::parse("127.0.0.1", "id").unwrap();
        assert_eq!(c.port, 1883);
        assert!(c.is_loopback());
        assert!(BrokerConfig::parse("mqtt://[::1]:1883", "id")
            .unwrap()
            .is_loopback());
        assert!(!BrokerConfig::parse("mqtt://192.168.0.100", "id")
            .unwrap()
            .is_loopback());
        let dir = std::env::temp_dir().join("mqtt replay ca test");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.pem"), "x").unwrap();
        let url = format!("mqtts://x?ca={}", dir.join("ca.pem").display()).replace(' ', "%20");
        let t = BrokerConfig::parse(&url, "id").unwrap();
        assert_eq!(t.port, 8883);
        assert_eq!(t.tls.unwrap().ca_file.unwrap(), dir.join("ca.pem"));
        assert!(BrokerConfig::parse("mqtts://x?ca=/nonexistent.pem", "id").is_err());
        assert!(BrokerConfig::parse("mqtt://x?ca=/a", "id").is_err());
        assert!(BrokerConfig::parse("mqtts://x?bogus=1", "id").is_err());
        assert!(BrokerConfig::parse("http://x", "id").is_err());
        assert_eq!(redact("mqtt://u:secret@h:1"), "mqtt://u:***@h:1");
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn encodes_publish_roundtrip() {
        let mut b = Vec::new();
        let payload = vec![7u8; 300];
        encode_publish(&mut b, b"a/b", &payload, 1, true, false, 42);
        let p = read_packet(&mut &b[..]).unwrap().unwrap();
        match p {
            Incoming::Publish {
                topic,
                payload: got,
                qos,
                retain,
                pid,
                ..
            } => {
                assert_eq!(topic, b"a/b");
                assert_eq!(got, payload);
                assert_eq!((qos, retain, pid), (1, true, 42));
            }
            other => panic!("{other:?}"),
        }
    }
}
