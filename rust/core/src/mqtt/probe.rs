//! The probe: a native subscriber that stamps every arrival, for measuring a replay end to end
//! (loss, duplicates, order and latency per topic) without touching the payloads.
//!
//! Built for rate, not convenience: one thread reads big chunks, splits packets in place
//! (no copy of topic or payload), interns topics, stamps every packet of a read with the
//! time of that read, and answers all QoS 1 packets of a read with one write of PUBACKs.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::codec::{frame, publish_parts, subscribe_packet};
use super::url::BrokerConfig;
use super::{connect, now_ns};
use crate::error::{Error, Result};
use crate::transport::Conn;

/// Everything a probe saw, one entry per arrival in arrival order.
#[derive(Debug, Default, Clone)]
pub struct Arrivals {
    /// Distinct topics in first-arrival order.
    pub topics: Vec<String>,
    pub topic_index: Vec<u32>,
    /// Wall clock (ns since the Unix epoch) when the packet was read.
    pub arrival_ns: Vec<i64>,
    pub size: Vec<u32>,
    pub dup: Vec<u8>,
    /// CPU time (ns) the probe's thread used, all of it: reading, acknowledging, stamping.
    pub thread_cpu_ns: u64,
    /// Reads from the socket that brought data (under a stream, far fewer than packets).
    pub reads: u64,
}

/// CPU time of the calling thread (ns).
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid, exclusively borrowed `ts`.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    if rc != 0 {
        return 0;
    }
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap_or(0)
}

/// Live counters of a probe.
#[derive(Debug, Default)]
pub struct ProbeCounters {
    pub received: AtomicU64,
    pub disconnects: AtomicU64,
    pub connected: AtomicBool,
}

/// A running probe; [`Probe::stop`] ends it and returns the arrivals.
pub struct Probe {
    stop: Arc<AtomicBool>,
    pub counters: Arc<ProbeCounters>,
    thread: Option<JoinHandle<Arrivals>>,
}

/// How long a probe waits for its SUBACK.
const SUBACK_TIMEOUT: Duration = Duration::from_secs(10);
const READ_CHUNK: usize = 256 * 1024;
/// Under a stream of messages the probe naps before its next read. A subscriber that keeps
/// up sleeps in `read` after every packet, and the broker then pays a wake-up (an
/// inter-processor interrupt) for each message it forwards: on a 2-core VM that took a
/// fifth of Mosquitto's time and capped a 10-plant fleet at 0.8x of `mosquitto_pub`'s rate
/// (`benchmarks/bench_fleet.py`). Napping while the data comes in lets the packets queue in
/// the socket without a wake-up. A read that returned data within `NAP` of being called
/// marks a stream, whatever the rate (a byte threshold per read never tripped on a slower
/// machine, where message-by-message reads kept the broker too slow to fill one); a flow
/// sparser than one message per `NAP` blocks longer in `read` and is never delayed.
/// Arrivals during a nap are stamped with the time of the read that takes them, at most a
/// nap late.
///
/// At QoS 1 the probe acknowledges a read's messages before it naps, and the broker's
/// in-flight limit towards the probe (Mosquitto's `max_inflight_messages`, 20 by default)
/// caps what arrives during a nap: the nap is `NAP_QOS1`, short enough that 20 per nap is
/// above any broker's rate, and `NAP` once a read carried `NAP_ACKS` messages, which shows
/// a window at least that large.
const NAP: Duration = Duration::from_micros(200);
const NAP_QOS1: Duration = Duration::from_micros(40);
const NAP_ACKS: usize = 64;

impl Probe {
    /// Connects, subscribes and returns once the broker acknowledged the subscription.
    /// With `record` false the probe only counts (and acknowledges) arrivals: no stamps, no
    /// per-arrival entries; this is how the cost of the latency measurement itself is
    /// measured.
    pub fn start(cfg: BrokerConfig, filters: Vec<(String, u8)>, record: bool) -> Result<Self> {
        if filters.is_empty() {
            return Err(Error::Invalid(
                "a probe needs at least one topic filter".into(),
            ));
        }
        subscribe_packet(1, &filters, cfg.protocol >= 5)
            .map_err(|e| Error::Invalid(format!("probe: {e}")))?;
        let conn = connect(&cfg, Duration::from_secs(5))?;
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(ProbeCounters::default());
        let (ready_tx, ready_rx) = mpsc::channel::<std::result::Result<(), String>>();
        let (s, c) = (Arc::clone(&stop), Arc::clone(&counters));
        let thread = std::thread::Builder::new()
            .name("mqtt-probe".into())
            .spawn(move || run(&cfg, &filters, conn, &s, &c, &ready_tx, record))
            .map_err(|e| Error::Broker(e.to_string()))?;
        let mut probe = Probe {
            stop,
            counters,
            thread: Some(thread),
        };
        match ready_rx.recv_timeout(SUBACK_TIMEOUT) {
            Ok(Ok(())) => Ok(probe),
            Ok(Err(why)) => {
                probe.stop();
                Err(Error::Broker(format!("probe: {why}")))
            }
            Err(_) => {
                probe.stop();
                Err(Error::Broker(
                    "probe: no SUBACK from the broker within 10 s".into(),
                ))
            }
        }
    }

    /// Disconnects and returns every arrival.
    pub fn stop(&mut self) -> Arrivals {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Collector<'a> {
    out: Arrivals,
    ids: HashMap<Vec<u8>, u32>,
    counters: &'a ProbeCounters,
    acks: Vec<u8>,
    record: bool,
    /// Arrivals so far (also when not recording).
    count: u64,
}

impl Collector<'_> {
    fn publish(&mut self, topic: &[u8], size: usize, qos: u8, dup: bool, pid: u16, at: i64) {
        self.count += 1;
        if qos > 0 {
            self.acks.extend_from_slice(&[0x40, 0x02]);
            self.acks.extend_from_slice(&pid.to_be_bytes());
        }
        if !self.record {
            return;
        }
        let id = if let Some(&id) = self.ids.get(topic) {
            id
        } else {
            let id = self.ids.len() as u32;
            self.ids.insert(topic.to_vec(), id);
            self.out
                .topics
                .push(String::from_utf8_lossy(topic).into_owned());
            id
        };
        self.out.topic_index.push(id);
        self.out.arrival_ns.push(at);
        self.out.size.push(u32::try_from(size).unwrap_or(u32::MAX));
        self.out.dup.push(u8::from(dup));
    }
}

/// The probe thread: subscribe, read until stopped, reconnect (with backoff) after a loss.
fn run(
    cfg: &BrokerConfig,
    filters: &[(String, u8)],
    first: Conn,
    stop: &AtomicBool,
    counters: &ProbeCounters,
    ready: &mpsc::Sender<std::result::Result<(), String>>,
    record: bool,
) -> Arrivals {
    let mut col = Collector {
        out: Arrivals::default(),
        ids: HashMap::new(),
        counters,
        acks: Vec::with_capacity(4096),
        record,
        count: 0,
    };
    let mut conn = Some(first);
    let mut delay = Duration::from_millis(50);
    let mut subscribed_once = false;
    while !stop.load(Ordering::Relaxed) {
        let c = match conn.take() {
            Some(c) => c,
            None => match connect(cfg, Duration::from_secs(2)) {
                Ok(c) => {
                    delay = Duration::from_millis(50);
                    c
                }
                Err(_) => {
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(1));
                    continue;
                }
            },
        };
        let why = session(cfg, filters, &c, stop, &mut col, &mut |ok| {
            if !subscribed_once {
                subscribed_once = true;
                let _ = ready.send(ok);
            }
        });
        c.shutdown();
        counters.connected.store(false, Ordering::Relaxed);
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if !subscribed_once {
            let _ = ready.send(Err(why));
            break;
        }
        counters.disconnects.fetch_add(1, Ordering::Relaxed);
    }
    col.out.thread_cpu_ns = thread_cpu_ns();
    col.out
}

/// One connection's life; returns why it ended.
fn session(
    cfg: &BrokerConfig,
    filters: &[(String, u8)],
    c: &Conn,
    stop: &AtomicBool,
    col: &mut Collector<'_>,
    on_subscribed: &mut dyn FnMut(std::result::Result<(), String>),
) -> String {
    let v5 = cfg.protocol >= 5;
    let (Ok(mut w), Ok(mut r)) = (c.writer(), c.reader()) else {
        return "socket clone failed".into();
    };
    let Ok(packet) = subscribe_packet(1, filters, v5) else {
        return "cannot encode SUBSCRIBE".into();
    };
    if w.write_all(&packet).and_then(|()| w.flush()).is_err() {
        return "subscribe failed".into();
    }
    c.socket()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .ok();
    let half = Duration::from_secs(u64::from(cfg.keep_alive_s.max(1))) / 2;
    let (mut last_ping, mut last_rx) = (Instant::now(), Instant::now());
    let mut buf = vec![0u8; READ_CHUNK];
    let (mut start, mut end) = (0usize, 0usize);
    let mut nap: Option<Duration> = None; // see NAP
                                          // sleeps of tens of µs: the default slack (50 µs) would double them
                                          // SAFETY: prctl with PR_SET_TIMERSLACK only changes this thread's timer slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1_000, 0, 0, 0);
    }
    loop {
        if stop.load(Ordering::Relaxed) {
            let _ = w.write_all(&[0xE0, 0x00]);
            return "stopped".into();
        }
        if last_rx.elapsed() >= half * 2 && last_ping.elapsed() >= half {
            return "the broker stopped answering".into();
        }
        if last_ping.elapsed() >= half {
            if w.write_all(&[0xC0, 0x00]).is_err() {
                return "ping failed".into();
            }
            last_ping = Instant::now();
        }
        if start > 0 && (end == buf.len() || start == end) {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
        }
        if end == buf.len() {
            buf.resize(buf.len() * 2, 0); // one packet larger than the buffer
        }
        if let Some(d) = nap.take() {
            std::thread::sleep(d);
        }
        let called = Instant::now();
        let n = match r.read(&mut buf[end..]) {
            Ok(0) => return "the broker closed the connection".into(),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => return format!("connection lost: {e}"),
        };
        col.out.reads += 1;
        let at = if col.record { now_ns() } else { 0 };
        last_rx = Instant::now();
        end += n;
        loop {
            let (first, body, used) = match frame(&buf[start..end]) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return format!("bad packet from the broker: {e}"),
            };
            match first >> 4 {
                3 => match publish_parts(first, body, v5) {
                    Ok(p) => col.publish(p.topic, p.payload.len(), p.qos, p.dup, p.pid, at),
                    Err(e) => return format!("bad packet from the broker: {e}"),
                },
                9 => {
                    // SUBACK: a refused filter has a code of 0x80 or more.
                    if body.iter().skip(2 + usize::from(v5)).any(|&b| b >= 0x80) {
                        on_subscribed(Err("subscription refused".into()));
                        return "subscription refused".into();
                    }
                    col.counters.connected.store(true, Ordering::Relaxed);
                    on_subscribed(Ok(()));
                }
                _ => {}
            }
            start += used;
        }
        col.counters.received.store(col.count, Ordering::Relaxed);
        if last_rx.duration_since(called) < NAP {
            let acks = col.acks.len() / 4;
            nap = Some(if acks == 0 || acks >= NAP_ACKS {
                NAP
            } else {
                NAP_QOS1
            });
        }
        if !col.acks.is_empty() {
            // Every QoS 1 packet of this read acknowledged with one write.
            let ok = w.write_all(&col.acks).is_ok();
            col.acks.clear();
            if !ok {
                return "ack failed".into();
            }
        }
    }
}
