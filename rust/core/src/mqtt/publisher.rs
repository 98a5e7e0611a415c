//! A publishing connection: a bounded QoS 1 in-flight window, resend after reconnect,
//! keepalive with a deadline on every answer, and reconnects that back off and give up.
//!
//! Liveness: a PINGREQ goes out when nothing came from the broker for half the keepalive;
//! when it stays unanswered for another half (or a write blocks for a whole keepalive) the
//! connection counts as lost — a silent broker is found within one keepalive and handled like
//! a dropped one. Progress is any packet from the broker after CONNACK (PUBACK, PINGRESP, …);
//! without progress for `give_up`, reconnecting stops with an error instead of looping.
//!
//! QoS 0 accounting: a message counts as sent once its bytes were written to the socket
//! (there is no acknowledgement); messages still buffered when the connection breaks are
//! counted as lost.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::codec::{encode_publish, read_packet, Incoming};
use super::connect;
use super::url::BrokerConfig;
use crate::error::{Error, Result};
use crate::transport::Conn;

/// What a published message is, for the counters of QoS 0 messages lost in the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A message of the replay (counted as sent).
    Message,
    /// A priming message (counted as primed).
    Primed,
    /// The replay's own status (not counted).
    Control,
}

struct InflightMsg {
    topic: Vec<u8>,
    payload: Vec<u8>,
    retain: bool,
}

struct Window {
    /// Unacknowledged QoS 1 messages by send serial, oldest first.
    pending: BTreeMap<u64, (u16, InflightMsg)>,
    by_pid: HashMap<u16, u64>,
    broken: Option<String>,
    generation: u64,
    /// Last packet from the broker on the current connection.
    last_rx: Instant,
    /// Last packet from the broker after a CONNACK: the broker is doing its job.
    last_progress: Instant,
    /// An unanswered PINGREQ and when it went out.
    ping_sent: Option<Instant>,
    /// The publisher waits until at most this many messages are pending: the reader wakes
    /// it once, when the count gets there (not at every PUBACK, which would cost a thread
    /// switch and a one-message write per acknowledgement).
    wake_at: Option<usize>,
}

struct Shared {
    window: Mutex<Window>,
    acked: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Window> {
        // A panicking reader thread must not take the publisher down with a poisoned lock.
        self.window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Counters of a publisher, readable from any thread.
#[derive(Default, Debug)]
pub struct PubCounters {
    pub reconnects: AtomicU64,
    pub resent: AtomicU64,
    pub acked: AtomicU64,
    /// QoS 0 replay messages accepted but lost in the buffer when a connection broke.
    pub lost_messages: AtomicU64,
    /// QoS 0 priming messages lost the same way.
    pub lost_primed: AtomicU64,
    /// Connections declared dead because the broker stopped answering.
    pub silent: AtomicU64,
    /// Times the publisher blocked on a full QoS 1 window.
    pub window_waits: AtomicU64,
    /// Socket reads of the ack reader that brought data (under load, far fewer than PUBACKs).
    pub ack_reads: AtomicU64,
}

/// A connection that publishes, survives broker restarts and keeps at most `window`
/// QoS 1 messages unacknowledged. Used from one thread.
pub struct PublishConn {
    cfg: BrokerConfig,
    conn: Conn,
    writer: Box<dyn Write + Send>,
    shared: Arc<Shared>,
    reader: Option<JoinHandle<()>>,
    window: usize,
    next_pid: u16,
    next_serial: u64,
    /// Packets not yet written to the socket, and the QoS 0 messages among them.
    out: Vec<u8>,
    out_messages: u64,
    out_primed: u64,
    last_write: Instant,
    /// Bytes written to the socket on this connection, and (written, unsent) when the last
    /// PINGREQ went out or its deadline was extended: see [`Self::broker_draining`].
    written: u64,
    drain_mark: (u64, u64),
    since_check: u32,
    give_up: Duration,
    pub counters: Arc<PubCounters>,
    pub stop: Arc<AtomicBool>,
    connected: Arc<AtomicBool>,
}

/// Bytes buffered before a write to the socket.
const OUT_BUF: usize = 64 * 1024;

impl PublishConn {
    /// Connects (CONNACK within 5 s). Without progress for `give_up`, reconnecting fails.
    pub fn open(
        cfg: BrokerConfig,
        window: usize,
        stop: Arc<AtomicBool>,
        give_up: Duration,
    ) -> Result<Self> {
        let conn = connect(&cfg, Duration::from_secs(5))?;
        set_write_deadline(&conn, &cfg);
        let now = Instant::now();
        let shared = Arc::new(Shared {
            window: Mutex::new(Window {
                pending: BTreeMap::new(),
                by_pid: HashMap::new(),
                broken: None,
                generation: 0,
                last_rx: now,
                last_progress: now,
                ping_sent: None,
                wake_at: None,
            }),
            acked: Condvar::new(),
        });
        let connected = Arc::new(AtomicBool::new(true));
        let counters = Arc::new(PubCounters::default());
        let reader = spawn_ack_reader(&conn, &shared, 0, &connected, &counters, window)?;
        let writer = conn.writer().map_err(|e| Error::Broker(e.to_string()))?;
        Ok(PublishConn {
            cfg,
            conn,
            writer,
            shared,
            reader: Some(reader),
            window: window.clamp(1, 60_000),
            next_pid: 1,
            next_serial: 0,
            out: Vec::with_capacity(OUT_BUF + 4096),
            out_messages: 0,
            out_primed: 0,
            last_write: now,
            written: 0,
            drain_mark: (0, 0),
            since_check: 0,
            give_up,
            counters,
            stop,
            connected,
        })
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    fn keep_alive(&self) -> Duration {
        Duration::from_secs(u64::from(self.cfg.keep_alive_s.max(1)))
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

    fn stopped(&self) -> Result<()> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(Error::Broker("stopped".into()));
        }
        Ok(())
    }

    /// Publishes one message. The topic must be valid (see
    /// [`super::codec::topic_name_problem`]); an unencodable packet is an `Invalid` error.
    /// QoS 0: buffered, counted as lost in [`PubCounters`] if the connection breaks before
    /// the bytes reach the socket. QoS 1 blocks while the window is full. A broken connection is reconnected (every
    /// unacknowledged message resent first); `Err` means stopped, or no progress for
    /// `give_up`.
    pub fn publish(
        &mut self,
        topic: &[u8],
        payload: &[u8],
        qos: u8,
        retain: bool,
        kind: Kind,
    ) -> Result<()> {
        let qos = qos.min(1);
        self.since_check += 1;
        if self.since_check >= 1024 {
            self.since_check = 0;
            self.check_liveness();
        }
        loop {
            self.stopped()?;
            if !self.is_connected() || self.shared.lock().broken.is_some() {
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
            encode_publish(&mut self.out, topic, payload, qos, retain, false, pid)
                .map_err(|e| Error::Invalid(e.to_string()))?;
            if qos > 0 {
                let serial = self.next_serial;
                self.next_serial += 1;
                let mut w = self.shared.lock();
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
            } else {
                match kind {
                    Kind::Message => self.out_messages += 1,
                    Kind::Primed => self.out_primed += 1,
                    Kind::Control => {}
                }
            }
            if self.out.len() >= OUT_BUF {
                // On failure QoS 1 messages stay in the window and go out again after
                // reconnecting; QoS 0 messages were counted as lost by `write_out`.
                self.write_out();
            }
            return Ok(());
        }
    }

    /// Writes the buffer to the socket; false (connection marked broken) on failure.
    fn write_out(&mut self) -> bool {
        if self.out.is_empty() {
            return true;
        }
        let written = self.out.len() as u64;
        let result = self
            .writer
            .write_all(&self.out)
            .and_then(|()| self.writer.flush());
        self.out.clear();
        let (messages, primed) = (self.out_messages, self.out_primed);
        self.out_messages = 0;
        self.out_primed = 0;
        match result {
            Ok(()) => {
                self.last_write = Instant::now();
                self.written += written;
                true
            }
            Err(e) => {
                self.counters
                    .lost_messages
                    .fetch_add(messages, Ordering::Relaxed);
                self.counters
                    .lost_primed
                    .fetch_add(primed, Ordering::Relaxed);
                let why = if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) {
                    format!(
                        "the broker accepted nothing for {} s (write timed out)",
                        self.cfg.keep_alive_s
                    )
                } else {
                    format!("connection lost while writing: {e}")
                };
                self.mark_broken(why);
                false
            }
        }
    }

    /// Waits until the window has room. Returns false when the connection broke meanwhile.
    /// A full window is waited down to three quarters (hysteresis): the messages that then
    /// fit go out in one write, and the ack reader wakes this thread once per quarter window.
    fn wait_window(&mut self) -> Result<bool> {
        if self.shared.lock().pending.len() < self.window {
            return Ok(true);
        }
        if !self.write_out() {
            return Ok(false);
        }
        let resume = self.window - (self.window / 4).max(1);
        self.counters.window_waits.fetch_add(1, Ordering::Relaxed);
        self.wait_pending(resume, None)
    }

    /// Blocks until at most `target` messages are pending (true), the connection broke
    /// (false), `deadline` passed (true) or the publisher was stopped (`Err`).
    fn wait_pending(&mut self, target: usize, deadline: Option<Instant>) -> Result<bool> {
        loop {
            self.stopped()?;
            {
                let mut w = self.shared.lock();
                if w.broken.is_some() {
                    w.wake_at = None;
                    return Ok(false);
                }
                if w.pending.len() <= target || deadline.is_some_and(|d| Instant::now() >= d) {
                    w.wake_at = None;
                    return Ok(true);
                }
                w.wake_at = Some(target);
                // Bounded: liveness is checked between waits.
                let (mut w, _) = self
                    .shared
                    .acked
                    .wait_timeout(w, Duration::from_millis(20))
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                w.wake_at = None;
            }
            self.check_liveness();
        }
    }

    fn mark_broken(&self, why: String) {
        self.connected.store(false, Ordering::Relaxed);
        self.shared.lock().broken.get_or_insert(why);
    }

    /// Sends buffered packets now.
    pub fn flush(&mut self) -> Result<()> {
        if self.write_out() {
            Ok(())
        } else {
            Err(Error::Broker("connection lost while flushing".into()))
        }
    }

    /// The keepalive: a PINGREQ when the broker has been quiet for half the keepalive, and
    /// the connection declared dead when it stays unanswered for another half. Call it
    /// during waits and while publishing; it is cheap.
    pub fn check_liveness(&mut self) {
        if !self.is_connected() {
            return;
        }
        let half = self.keep_alive() / 2;
        let now = Instant::now();
        let (send_ping, dead) = {
            let w = self.shared.lock();
            match w.ping_sent {
                Some(at) => (false, now.duration_since(at) >= half),
                None => (now.duration_since(w.last_rx) >= half, false),
            }
        };
        if dead && self.broker_draining() {
            // Busy, not silent: the PINGREQ waits behind our backlog, which the broker is
            // still reading. Another half keepalive for its answer.
            self.shared.lock().ping_sent = Some(now);
            return;
        }
        if dead {
            self.counters.silent.fetch_add(1, Ordering::Relaxed);
            self.mark_broken(format!(
                "the broker stopped answering (no PINGRESP within {:.1} s)",
                half.as_secs_f64()
            ));
            return;
        }
        let idle_write = self.last_write.elapsed() >= half;
        if send_ping || idle_write {
            // Marked before the write: the PINGRESP may arrive (and clear the mark on the
            // reader thread) before the write call returns.
            self.shared.lock().ping_sent.get_or_insert(now);
            // Anything buffered goes first; the ping rides behind it.
            self.out.extend_from_slice(&[0xC0, 0x00]);
            self.write_out();
            self.mark_drain();
        }
    }

    /// Bytes written to this connection's socket that the broker's side has not taken yet
    /// (the send queue); None where the kernel does not say.
    fn unsent(&self) -> Option<u64> {
        use std::os::fd::AsRawFd;
        let mut queued: libc::c_int = 0;
        // SAFETY: TIOCOUTQ writes one int into the valid, exclusively borrowed `queued`.
        let rc = unsafe {
            libc::ioctl(
                self.conn.socket().as_raw_fd(),
                libc::TIOCOUTQ,
                &raw mut queued,
            )
        };
        (rc == 0).then(|| u64::try_from(queued).unwrap_or(0))
    }

    fn mark_drain(&mut self) {
        self.drain_mark = (self.written, self.unsent().unwrap_or(0));
    }

    /// Whether the broker kept reading since the mark although it did not answer the PINGREQ:
    /// our send queue held bytes (its receive buffer was full: it is behind, not idle) and
    /// some of them left. A flooded broker answers a PINGREQ only after the backlog ahead of
    /// it, which can take longer than half the keepalive; it used to be declared silent, and
    /// the reconnect's session takeover discarded the old connection's unread backlog (QoS 0
    /// messages already counted as sent). A stopped broker takes nothing once its buffer is
    /// full, and one idle with room in its buffer leaves our queue empty: both still count
    /// as silent.
    fn broker_draining(&mut self) -> bool {
        let Some(unsent) = self.unsent() else {
            return false;
        };
        let (written_then, unsent_then) = self.drain_mark;
        let left = (unsent_then + (self.written - written_then)).saturating_sub(unsent);
        self.drain_mark = (self.written, unsent);
        unsent_then > 0 && left > 0
    }

    fn describe_broken(&self) -> String {
        self.shared
            .lock()
            .broken
            .clone()
            .unwrap_or_else(|| "connection lost".into())
    }

    /// Reconnects with exponential backoff (50 ms doubling to 2 s) and resends the window.
    /// Fails when stopped, or when the broker made no progress for `give_up`.
    pub fn reconnect(&mut self) -> Result<()> {
        let mut delay = Duration::from_millis(50);
        let mut last_error = self.describe_broken();
        loop {
            self.stopped()?;
            let since = self.shared.lock().last_progress.elapsed();
            if since >= self.give_up {
                return Err(Error::Broker(format!(
                    "broker {}: no progress for {:.1} s, giving up ({last_error})",
                    self.cfg.display(),
                    since.as_secs_f64()
                )));
            }
            match connect(&self.cfg, Duration::from_secs(2).min(self.keep_alive())) {
                Ok(conn) => {
                    if self.adopt(conn) {
                        return Ok(());
                    }
                    last_error = self.describe_broken();
                }
                Err(e) => last_error = e.to_string(),
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    /// Switches to a new connection and resends every unacknowledged message in order.
    fn adopt(&mut self, conn: Conn) -> bool {
        set_write_deadline(&conn, &self.cfg);
        let Ok(writer) = conn.writer() else {
            return false;
        };
        // Close the old connection; its reader thread then ends.
        self.conn.shutdown();
        self.conn = conn;
        self.writer = writer;
        // Whatever was buffered for the old socket is gone (counted by write_out's caller).
        self.out.clear();
        self.out_messages = 0;
        self.out_primed = 0;
        if let Some(h) = self.reader.take() {
            h.join().ok();
        }
        let generation = {
            let mut w = self.shared.lock();
            w.broken = None;
            w.generation += 1;
            w.last_rx = Instant::now();
            w.ping_sent = None;
            w.generation
        };
        self.connected.store(true, Ordering::Relaxed);
        match spawn_ack_reader(
            &self.conn,
            &self.shared,
            generation,
            &self.connected,
            &self.counters,
            self.window,
        ) {
            Ok(h) => self.reader = Some(h),
            Err(e) => {
                self.mark_broken(e.to_string());
                return false;
            }
        }
        self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
        // Resend every unacknowledged message, oldest first, with DUP set.
        let resend = {
            let w = self.shared.lock();
            let mut b = Vec::new();
            for (pid, m) in w.pending.values() {
                // These encoded once already, so they encode again.
                let _ = encode_publish(&mut b, &m.topic, &m.payload, 1, m.retain, true, *pid);
            }
            (b, w.pending.len())
        };
        self.out = resend.0;
        // A PINGREQ right away: its answer proves the new connection makes progress (marked
        // before the write, which its answer may overtake).
        self.shared.lock().ping_sent.get_or_insert(Instant::now());
        self.out.extend_from_slice(&[0xC0, 0x00]);
        self.written = 0;
        if self.write_out() {
            self.mark_drain();
            self.counters
                .resent
                .fetch_add(resend.1 as u64, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Waits until every QoS 1 message is acknowledged (reconnecting as needed) or `timeout`.
    /// Returns the number still unacknowledged.
    pub fn drain(&mut self, timeout: Duration) -> Result<usize> {
        let deadline = Instant::now() + timeout;
        let _ = self.flush();
        loop {
            let (pending, broken) = {
                let w = self.shared.lock();
                (w.pending.len(), w.broken.is_some())
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
            if self.wait_pending(0, Some(deadline)).is_err() {
                return Ok(self.pending()); // stopped
            }
        }
    }

    pub fn pending(&self) -> usize {
        self.shared.lock().pending.len()
    }

    /// Sends DISCONNECT and closes the socket.
    ///
    /// The close is graceful: after the DISCONNECT only our sending side is shut, and we wait
    /// until the broker, having read everything before it, closes its side (while it keeps
    /// taking our bytes, and at most half a keepalive after it stops). Closing both ways at
    /// once reset the connection whenever an answer (a PINGRESP) sat unread, and the reset
    /// discarded the backlog a busy broker had not read yet: QoS 0 messages counted as sent
    /// that never arrived.
    ///
    /// `hurry` (a stop the user asked for) bounds the wait to 2 s in all: a stop must answer
    /// promptly even when the broker went silent.
    pub fn close(mut self, hurry: bool) {
        self.out.extend_from_slice(&[0xE0, 0x00]);
        if self.write_out() && self.is_connected() {
            let _ = self.conn.socket().shutdown(std::net::Shutdown::Write);
            let grace = if hurry {
                Duration::from_secs(2).min(self.keep_alive() / 2)
            } else {
                self.keep_alive() / 2
            };
            let mut deadline = Instant::now() + grace;
            self.mark_drain();
            while self.is_connected() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
                if !hurry && self.broker_draining() {
                    deadline = Instant::now() + grace;
                }
            }
        }
        self.conn.shutdown();
        if let Some(h) = self.reader.take() {
            h.join().ok();
        }
    }
}

/// A write that blocks for a whole keepalive means the broker stopped reading.
fn set_write_deadline(conn: &Conn, cfg: &BrokerConfig) {
    let ka = Duration::from_secs(u64::from(cfg.keep_alive_s.max(1)));
    conn.socket().set_write_timeout(Some(ka)).ok();
}

fn spawn_ack_reader(
    conn: &Conn,
    shared: &Arc<Shared>,
    generation: u64,
    connected: &Arc<AtomicBool>,
    counters: &Arc<PubCounters>,
    window: usize,
) -> Result<JoinHandle<()>> {
    let mut rd = conn.reader().map_err(|e| Error::Broker(e.to_string()))?;
    let shared = Arc::clone(shared);
    let connected = Arc::clone(connected);
    let counters = Arc::clone(counters);
    std::thread::Builder::new()
        .name("mqtt-acks".into())
        .spawn(move || {
            let napping = NappingReader {
                inner: &mut rd,
                nap: ack_nap(window),
                napped: true,
                reads: &counters.ack_reads,
            };
            let mut r = std::io::BufReader::with_capacity(16 * 1024, napping);
            loop {
                let packet = read_packet(&mut r);
                let mut w = shared.lock();
                let current = w.generation == generation;
                match packet {
                    Ok(Some(p)) => {
                        if current {
                            let now = Instant::now();
                            w.last_rx = now;
                            w.last_progress = now;
                            w.ping_sent = None;
                            if let Incoming::PubAck { pid } = p {
                                if let Some(serial) = w.by_pid.remove(&pid) {
                                    w.pending.remove(&serial);
                                    counters.acked.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                        // Only a waiting publisher whose target is reached is woken.
                        let wake = w.wake_at.is_some_and(|n| w.pending.len() <= n);
                        if wake {
                            w.wake_at = None;
                        }
                        drop(w);
                        if wake {
                            shared.acked.notify_all();
                        }
                    }
                    Ok(None) | Err(_) => {
                        if current {
                            let why = match packet {
                                Err(e) => format!("connection lost: {e}"),
                                _ => "the broker closed the connection".into(),
                            };
                            w.broken.get_or_insert(why);
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

/// The ack reader's nap between socket reads: 2 µs per message of the in-flight window, at
/// most 2 ms. A reader that wakes for every PUBACK makes the broker pay a wake-up (an
/// inter-processor interrupt) per acknowledgement it writes: with 100 plants at QoS 1 that was
/// 28 % of Mosquitto's time and held the fleet at 0.7x of `mosquitto_pub`'s rate. Napping
/// lets the PUBACKs of 2 ms queue up and be read at once. Proportional to the window, the nap
/// never caps an engine below 500,000 msg/s (a full window is acknowledged within one nap).
fn ack_nap(window: usize) -> Duration {
    Duration::from_micros(
        u64::try_from(window.saturating_mul(2))
            .unwrap_or(u64::MAX)
            .min(2_000),
    )
}

/// Reads the broker's packets for the ack reader, napping before every socket read that
/// follows one which brought data.
struct NappingReader<'a, R: Read> {
    inner: &'a mut R,
    nap: Duration,
    /// The last read brought nothing (or none happened yet): read at once.
    napped: bool,
    reads: &'a AtomicU64,
}

impl<R: Read> Read for NappingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.napped && !self.nap.is_zero() {
            std::thread::sleep(self.nap);
        }
        let n = self.inner.read(buf)?;
        self.napped = n == 0;
        if n > 0 {
            self.reads.fetch_add(1, Ordering::Relaxed);
        }
        Ok(n)
    }
}
