//! The replay engine: a Rust thread that publishes a session's messages at absolute
//! deadlines through [`crate::mqtt::PublishConn`], controlled through a [`Replayer`] handle.

pub mod player;
pub mod rewrite;
pub mod stats;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampMicrosecondType, UInt8Type};
use arrow_array::{Array, RecordBatch, StringArray};
use arrow_schema::DataType;

use crate::error::{Error, Result};
use crate::mqtt::{now_ns, topic_name_problem, BrokerConfig, Kind, PublishConn};
pub use player::{Player, Position, Prime, Schedule, Step};
use stats::Histogram;

/// The messages of a session, borrowed from Arrow batches (payloads are not copied).
pub struct Messages {
    pub topics: Vec<String>,
    pub topic: Vec<u32>,
    pub ts_us: Vec<Option<i64>>,
    pub qos: Vec<u8>,
    pub retain: Vec<bool>,
    /// Payload text is base64 of a binary body: publish the decoded bytes.
    pub binary: Vec<bool>,
    payloads: Vec<StringArray>,
    locs: Vec<(u32, u32)>,
}

impl Messages {
    /// Reads `timestamp`, `topic` (dictionary<int32, utf8>), `payload` (utf8), `qos`, `retain`.
    pub fn from_batches(batches: &[RecordBatch]) -> Result<Self> {
        let bad = |why: String| Error::Invalid(format!("replay input: {why}"));
        let mut m = Messages {
            topics: Vec::new(),
            topic: Vec::new(),
            ts_us: Vec::new(),
            qos: Vec::new(),
            retain: Vec::new(),
            binary: Vec::new(),
            payloads: Vec::new(),
            locs: Vec::new(),
        };
        let mut ids: HashMap<String, u32> = HashMap::new();
        for (b, batch) in batches.iter().enumerate() {
            let col = |name: &str| {
                batch
                    .column_by_name(name)
                    .ok_or_else(|| bad(format!("no column {name:?}")))
            };
            let ts = col("timestamp")?;
            let ts = match ts.data_type() {
                DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, _) => {
                    ts.as_primitive::<TimestampMicrosecondType>()
                }
                other => return Err(bad(format!("timestamp must be timestamp[us], not {other}"))),
            };
            let topic = col("topic")?;
            let topic = topic
                .as_dictionary_opt::<Int32Type>()
                .ok_or_else(|| bad("topic must be dictionary<int32, string>".into()))?;
            let values = topic
                .values()
                .as_string_opt::<i32>()
                .ok_or_else(|| bad("topic dictionary values must be strings".into()))?;
            let remap: Vec<u32> = (0..values.len())
                .map(|i| {
                    let t = values.value(i);
                    if let Some(&id) = ids.get(t) {
                        id
                    } else {
                        let id = m.topics.len() as u32;
                        m.topics.push(t.to_string());
                        ids.insert(t.to_string(), id);
                        id
                    }
                })
                .collect();
            let payload = col("payload")?
                .as_string_opt::<i32>()
                .ok_or_else(|| bad("payload must be a string column".into()))?
                .clone();
            let qos = col("qos")?
                .as_primitive_opt::<UInt8Type>()
                .ok_or_else(|| bad("qos must be uint8".into()))?;
            let retain = col("retain")?
                .as_boolean_opt()
                .ok_or_else(|| bad("retain must be bool".into()))?;
            let binary = batch
                .column_by_name("binary")
                .and_then(|c| c.as_boolean_opt().cloned());
            for r in 0..batch.num_rows() {
                m.binary.push(binary.as_ref().is_some_and(|b| b.value(r)));
                m.ts_us.push(ts.is_valid(r).then(|| ts.value(r)));
                let key = topic.keys().value(r);
                m.topic.push(
                    remap[usize::try_from(key).map_err(|_| bad("negative topic key".into()))?],
                );
                m.qos.push(qos.value(r));
                m.retain.push(retain.value(r));
                m.locs.push((b as u32, r as u32));
            }
            m.payloads.push(payload);
        }
        Ok(m)
    }

    pub fn len(&self) -> usize {
        self.topic.len()
    }

    pub fn is_empty(&self) -> bool {
        self.topic.is_empty()
    }

    pub fn payload(&self, i: usize) -> &[u8] {
        let (b, r) = self.locs[i];
        self.payloads[b as usize].value(r as usize).as_bytes()
    }
}

/// Everything a replay can be asked to do.
#[derive(Clone, Debug)]
#[allow(clippy::struct_excessive_bools)]
pub struct ReplayConfig {
    pub broker: BrokerConfig,
    pub allow_remote: bool,
    /// Speed factor; 0 = as fast as possible.
    pub speed: f64,
    pub looping: bool,
    /// Window in µs from the session start.
    pub from_us: Option<i64>,
    pub to_us: Option<i64>,
    /// Per topic id: included? (None = all).
    pub allowed: Option<Vec<bool>>,
    /// Per topic id: outgoing topic (None = as recorded).
    pub rename: Option<Vec<String>>,
    pub qos: Option<u8>,
    pub retain: Option<bool>,
    pub prime: Prime,
    pub compress_gap_us: Option<i64>,
    pub rewrite_time: bool,
    pub status_topic: Option<String>,
    pub session_name: String,
    pub inflight: usize,
    pub start_paused: bool,
    /// Refuse the whole replay when a message's topic cannot be published (instead of
    /// counting each such message as failed).
    pub strict: bool,
    /// Without progress from the broker for this long, the replay ends with an error.
    pub give_up: Duration,
    /// How long before a deadline the thread stops sleeping and spins (µs-level lateness at
    /// the cost of CPU). 0 sleeps to the deadline (about 60 µs late with 1 ns timer slack):
    /// what a fleet of many engines on few cores wants.
    pub spin_ns: u64,
}

/// Control messages to the replay thread.
#[derive(Debug, Clone, Copy)]
pub enum Command {
    Pause,
    Resume,
    Stop,
    Speed(f64),
    SeekUs(i64),
    SeekIndex(usize),
    Step,
    Loop(bool),
}

/// A snapshot of a running replay.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub state: &'static str,
    pub position_us: i64,
    pub duration_us: i64,
    pub index: usize,
    pub total: usize,
    pub speed: f64,
    pub looping: bool,
    pub loops: u64,
    pub sent: u64,
    pub primed: u64,
    pub failed: u64,
    pub resent: u64,
    pub reconnects: u64,
    /// Times the engine blocked on a full QoS 1 in-flight window.
    pub window_waits: u64,
    /// Socket reads that brought the broker's packets (PUBACKs) to the engine.
    pub ack_reads: u64,
    pub connected: bool,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    pub mean_us: f64,
    /// Lateness of the last message sent: with absolute deadlines, the drift so far.
    pub last_us: f64,
    pub elapsed_s: f64,
    pub rate: f64,
    /// Wall clock (µs since the Unix epoch) at which the window's first message is due under
    /// the current speed (None while paused or as fast as possible): message k is due
    /// `offset_k / speed` later. Lets a subscriber measure lateness end to end.
    pub origin_unix_us: Option<f64>,
    pub error: Option<String>,
    /// QoS 1 messages the broker acknowledged (QoS 0 "sent" means written to the socket).
    pub acked: u64,
    /// Why messages failed, with counts (e.g. an invalid topic, a connection loss).
    pub failures: Vec<(String, u64)>,
}

struct Shared {
    status: Mutex<Status>,
}

/// Handle of a replay thread. Dropping it stops the replay.
pub struct Replayer {
    tx: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Replayer {
    /// Connects (so that a refused broker is reported here) and starts the replay thread.
    pub fn start(messages: Messages, cfg: ReplayConfig) -> Result<Self> {
        if !cfg.allow_remote && !cfg.broker.is_loopback() {
            return Err(Error::Broker(format!(
                "refusing to replay to {}: not a loopback address (a replay must never reach a \
                 plant by accident; pass allow_remote to override)",
                cfg.broker.display()
            )));
        }
        if !(cfg.speed == 0.0 || (0.01..=10_000.0).contains(&cfg.speed)) {
            return Err(Error::Invalid(format!(
                "speed {} is out of range",
                cfg.speed
            )));
        }
        let invalid = outgoing_topic_problems(&messages, &cfg)?;
        let allowed = cfg.allowed.clone();
        let allow = move |t: u32| {
            allowed
                .as_ref()
                .is_none_or(|a| a.get(t as usize).copied().unwrap_or(false))
        };
        let sched = Schedule::build(
            &messages.ts_us,
            &messages.topic,
            &messages.retain,
            &allow,
            cfg.compress_gap_us,
        );
        if cfg.strict {
            if let Some((t, why)) = sched
                .topic
                .iter()
                .find_map(|&t| invalid[t as usize].as_ref().map(|why| (t, why)))
            {
                let n = sched
                    .topic
                    .iter()
                    .filter(|&&u| invalid[u as usize].is_some())
                    .count();
                return Err(Error::Invalid(format!(
                    "{n} message(s) cannot be published (strict): topic {}: {why}",
                    ellipsize(&messages.topics[t as usize], 80)
                )));
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let conn = PublishConn::open(
            cfg.broker.clone(),
            cfg.inflight,
            Arc::clone(&stop),
            cfg.give_up,
        )?;
        let player = Player::new(sched, cfg.from_us, cfg.to_us, cfg.prime);
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            status: Mutex::new(Status {
                state: "starting",
                ..Status::default()
            }),
        });
        let engine = Engine {
            msgs: messages,
            cfg,
            player,
            conn: Some(conn),
            rx,
            shared: Arc::clone(&shared),
            hist: Histogram::default(),
            sent: 0,
            primed: 0,
            failed: 0,
            last_late_ns: 0,
            clock: Instant::now(),
            started_wall: Instant::now(),
            paused_total: Duration::ZERO,
            paused_since: None,
            last_status_pub: Instant::now(),
            last_status: Instant::now(),
            finished_state: "finished",
            error: None,
            topic_buf: Vec::new(),
            invalid,
            failures: std::collections::BTreeMap::new(),
        };
        let thread = std::thread::Builder::new()
            .name("mqtt-replay".into())
            .spawn(move || engine.run())
            .map_err(|e| Error::Broker(e.to_string()))?;
        Ok(Replayer {
            tx,
            shared,
            stop,
            thread: Some(thread),
        })
    }

    pub fn send(&self, cmd: Command) {
        if matches!(cmd, Command::Stop) {
            self.stop.store(true, Ordering::Relaxed);
        }
        let _ = self.tx.send(cmd);
    }

    pub fn status(&self) -> Status {
        self.shared.status.lock().unwrap().clone()
    }

    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits up to `timeout` for the thread to end; true when it has.
    pub fn wait(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.is_finished() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        self.join();
        true
    }

    /// Joins the thread; a panic in it becomes the status's error (never lost, never raised).
    fn join(&mut self) {
        let Some(t) = self.thread.take() else {
            return;
        };
        if let Err(panic) = t.join() {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            let mut st = self
                .shared
                .status
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            st.state = "failed";
            st.error = Some(format!("internal error in the replay thread: {what}"));
        }
    }
}

impl Drop for Replayer {
    fn drop(&mut self) {
        self.send(Command::Stop);
        self.join();
    }
}

/// Per topic id: why its outgoing name (after rename/prefix) cannot be published, if so.
fn outgoing_topic_problems(messages: &Messages, cfg: &ReplayConfig) -> Result<Vec<Option<String>>> {
    if let Some(r) = &cfg.rename {
        if r.len() != messages.topics.len() {
            return Err(Error::Invalid(format!(
                "rename has {} entries for {} topics",
                r.len(),
                messages.topics.len()
            )));
        }
    }
    if let Some(t) = &cfg.status_topic {
        if let Some(why) = topic_name_problem(t.as_bytes()) {
            return Err(Error::Invalid(format!("status topic {t:?}: {why}")));
        }
    }
    Ok((0..messages.topics.len())
        .map(|t| {
            let out = cfg.rename.as_ref().map_or(&messages.topics[t], |r| &r[t]);
            topic_name_problem(out.as_bytes())
        })
        .collect())
}

/// `s` cut to about `max` characters in the middle, for messages about long topics.
fn ellipsize(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return format!("{s:?}");
    }
    let head: String = s.chars().take(max / 2).collect();
    let tail: String = s.chars().skip(n - max / 2).collect();
    format!("{head:?}…{tail:?} ({} bytes)", s.len())
}

/// Default time before a deadline at which the thread stops sleeping and spins.
pub const SPIN_NS: u64 = 150_000;

struct Engine {
    msgs: Messages,
    cfg: ReplayConfig,
    player: Player,
    conn: Option<PublishConn>,
    rx: mpsc::Receiver<Command>,
    shared: Arc<Shared>,
    hist: Histogram,
    sent: u64,
    primed: u64,
    failed: u64,
    last_late_ns: u64,
    clock: Instant,
    started_wall: Instant,
    paused_total: Duration,
    paused_since: Option<Instant>,
    last_status_pub: Instant,
    last_status: Instant,
    finished_state: &'static str,
    error: Option<String>,
    topic_buf: Vec<u8>,
    /// Per topic id: why it cannot be published (see [`outgoing_topic_problems`]).
    invalid: Vec<Option<String>>,
    failures: std::collections::BTreeMap<String, u64>,
}

fn set_timer_slack() {
    // 1 ns timer slack for this thread: sleeps wake close to their deadline (default 50 µs).
    // SAFETY: prctl with PR_SET_TIMERSLACK only changes this thread's timer slack.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1, 0, 0, 0);
    }
}

impl Engine {
    fn now(&self) -> u64 {
        self.clock.elapsed().as_nanos() as u64
    }

    /// Ends the replay with an error (no progress, stopped while reconnecting, …).
    fn fail(&mut self, e: &Error) {
        if self.finished_state != "stopped" {
            self.finished_state = "failed";
            self.error.get_or_insert_with(|| e.to_string());
        }
        self.player.stop();
    }

    /// Runs `f` on the connection; its error ends the replay. True when it went well.
    fn with_conn(&mut self, f: impl FnOnce(&mut PublishConn) -> Result<()>) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        match f(conn) {
            Ok(()) => true,
            Err(e) => {
                if conn.stop.load(Ordering::Relaxed) {
                    self.finished_state = "stopped";
                    self.player.stop();
                } else {
                    self.fail(&e);
                }
                false
            }
        }
    }

    fn paused_for(&self) -> Duration {
        self.paused_total + self.paused_since.map_or(Duration::ZERO, |at| at.elapsed())
    }

    fn count_failure(&mut self, why: &str) {
        self.failed += 1;
        if let Some(n) = self.failures.get_mut(why) {
            *n += 1;
        } else {
            self.failures.insert(why.to_string(), 1);
        }
    }

    fn run(mut self) {
        set_timer_slack();
        let now = self.now();
        self.player.start(now, self.cfg.speed, self.cfg.looping);
        if self.cfg.start_paused {
            self.player.pause(now);
        }
        self.started_wall = Instant::now();
        if self.cfg.start_paused {
            self.paused_since = Some(self.started_wall);
        }
        self.publish_status(true);
        let mut since_status = 0u32;
        loop {
            while let Ok(cmd) = self.rx.try_recv() {
                if self.apply(cmd) {
                    return self.finish();
                }
            }
            let now = self.now();
            match self.player.next(now) {
                Step::Publish {
                    msg,
                    deadline_ns,
                    primed,
                } => {
                    self.publish(msg as usize, deadline_ns, primed);
                    self.player.published(primed);
                    since_status += 1;
                    if since_status >= 256 {
                        since_status = 0;
                        self.periodic();
                    }
                }
                Step::Wait { deadline_ns } => {
                    let flushed = self.with_conn(|c| {
                        if c.flush().is_err() {
                            c.reconnect()?;
                        }
                        Ok(())
                    });
                    if !flushed {
                        return self.finish();
                    }
                    if let Some(cmd) = self.wait_until(deadline_ns) {
                        if self.apply(cmd) {
                            return self.finish();
                        }
                    }
                }
                Step::Paused => {
                    let ok = self.with_conn(|c| {
                        if c.flush().is_err() {
                            c.reconnect()?;
                        }
                        Ok(())
                    });
                    if !ok {
                        return self.finish();
                    }
                    self.periodic();
                    match self.rx.recv_timeout(Duration::from_millis(50)) {
                        Ok(cmd) => {
                            if self.apply(cmd) {
                                return self.finish();
                            }
                        }
                        Err(RecvTimeoutError::Timeout) => {
                            self.with_conn(|c| {
                                c.check_liveness();
                                Ok(())
                            });
                        }
                        Err(RecvTimeoutError::Disconnected) => return self.finish(),
                    }
                }
                Step::Finished => return self.finish(),
            }
        }
    }

    /// Sleeps until shortly before the deadline (waking for commands), then spins.
    fn wait_until(&mut self, deadline_ns: u64) -> Option<Command> {
        loop {
            let now = self.now();
            if now >= deadline_ns {
                return None;
            }
            let remaining = deadline_ns - now;
            let spin = self.cfg.spin_ns;
            if remaining > spin {
                let nap = (remaining - spin).min(50_000_000);
                match self.rx.recv_timeout(Duration::from_nanos(nap)) {
                    Ok(cmd) => return Some(cmd),
                    Err(RecvTimeoutError::Timeout) => {
                        if nap >= 10_000_000 {
                            self.periodic();
                            self.with_conn(|c| {
                                c.check_liveness();
                                Ok(())
                            });
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => return Some(Command::Stop),
                }
            } else {
                while self.now() < deadline_ns {
                    std::hint::spin_loop();
                }
                return None;
            }
        }
    }

    /// Applies a command; true when the replay must end.
    fn apply(&mut self, cmd: Command) -> bool {
        let now = self.now();
        match cmd {
            Command::Stop => {
                self.finished_state = "stopped";
                self.player.stop();
                return true;
            }
            Command::Pause => {
                self.player.pause(now);
                self.paused_since.get_or_insert_with(Instant::now);
            }
            Command::Resume => {
                self.player.resume(now);
                if let Some(at) = self.paused_since.take() {
                    self.paused_total += at.elapsed();
                }
            }
            Command::Speed(s) => self.player.set_speed(now, s),
            Command::SeekUs(us) => self.player.seek_raw(now, us),
            Command::SeekIndex(i) => self.player.seek_index(now, i),
            Command::Loop(l) => {
                self.cfg.looping = l;
                self.player.set_loop(l);
            }
            Command::Step => {
                if let Some(msg) = self.player.step() {
                    self.publish(msg as usize, now, false);
                    self.player.published(false);
                    if let Some(c) = self.conn.as_mut() {
                        let _ = c.flush();
                    }
                }
            }
        }
        self.publish_status(true);
        false
    }

    fn publish(&mut self, i: usize, deadline_ns: u64, primed: bool) {
        let now = self.now();
        let late = now.saturating_sub(deadline_ns);
        let t = self.msgs.topic[i] as usize;
        if let Some(why) = self.invalid.get(t).and_then(Option::as_ref) {
            // Never sent, never retried: counted as failed with its reason.
            let why = format!("not sent: {why}");
            self.count_failure(&why);
            return;
        }
        self.topic_buf.clear();
        match self.cfg.rename.as_ref().and_then(|r| r.get(t)) {
            Some(r) => self.topic_buf.extend_from_slice(r.as_bytes()),
            None => self
                .topic_buf
                .extend_from_slice(self.msgs.topics[t].as_bytes()),
        }
        let qos = self.cfg.qos.unwrap_or(self.msgs.qos[i]).min(1);
        let retain = self.cfg.retain.unwrap_or(self.msgs.retain[i]);
        let decoded = if self.msgs.binary[i] {
            crate::recorder::b64_decode(self.msgs.payload(i))
        } else {
            None
        };
        let rewritten = if decoded.is_some() {
            decoded
        } else if self.cfg.rewrite_time {
            rewrite::rewrite_times(self.msgs.payload(i), &rewrite::iso_ms(now_ns()))
        } else {
            None
        };
        let payload: &[u8] = rewritten.as_deref().unwrap_or_else(|| self.msgs.payload(i));
        let topic = std::mem::take(&mut self.topic_buf);
        let kind = if primed { Kind::Primed } else { Kind::Message };
        let result = match self.conn.as_mut() {
            Some(conn) => conn.publish(&topic, payload, qos, retain, kind),
            None => Err(Error::Broker("no connection".into())),
        };
        self.topic_buf = topic;
        match result {
            Ok(()) => {
                if primed {
                    self.primed += 1;
                } else {
                    self.sent += 1;
                    if self.cfg.speed != 0.0 || self.player.speed() != 0.0 {
                        self.hist.record(late);
                        self.last_late_ns = late;
                    }
                }
            }
            // A packet that cannot be encoded (e.g. over 256 MiB): this message fails.
            Err(Error::Invalid(why)) => self.count_failure(&format!("not sent: {why}")),
            Err(e) => {
                self.count_failure("not sent: the replay ended before it");
                let stopping = self
                    .conn
                    .as_ref()
                    .is_some_and(|c| c.stop.load(Ordering::Relaxed));
                if stopping {
                    self.finished_state = "stopped";
                    self.player.stop();
                } else {
                    self.fail(&e);
                }
            }
        }
    }

    fn periodic(&mut self) {
        if self.last_status.elapsed() >= Duration::from_millis(50) {
            self.publish_status(false);
        }
    }

    fn snapshot(&self, state: &'static str) -> Status {
        let now = self.now();
        let pos = self.player.position(now);
        let (w0, w1) = self.player.window();
        let s = &self.player.sched;
        let raw = |k: usize| s.raw_us.get(k).copied().unwrap_or(0);
        let duration = if w1 > w0 { raw(w1 - 1) - raw(w0) } else { 0 };
        let elapsed = self.started_wall.elapsed().as_secs_f64();
        let counters = self.conn.as_ref().map(|c| Arc::clone(&c.counters));
        let load = |f: fn(&crate::mqtt::PubCounters) -> &std::sync::atomic::AtomicU64| {
            counters
                .as_ref()
                .map_or(0, |c| f(c).load(Ordering::Relaxed))
        };
        // QoS 0 messages still in the buffer when a connection broke never reached the socket.
        let (lost, lost_primed) = (load(|c| &c.lost_messages), load(|c| &c.lost_primed));
        let sent = self.sent.saturating_sub(lost);
        let mut failures: Vec<(String, u64)> =
            self.failures.iter().map(|(k, v)| (k.clone(), *v)).collect();
        if lost + lost_primed > 0 {
            failures.push((
                "lost: the connection broke before the bytes reached the socket (QoS 0)".into(),
                lost + lost_primed,
            ));
        }
        // The rate counts playing time only: it must not sink while paused.
        let playing = (elapsed - self.paused_for().as_secs_f64()).max(0.0);
        Status {
            state,
            position_us: (pos.raw_us - raw(w0)).clamp(0, duration.max(0)),
            duration_us: duration,
            index: pos.index,
            total: pos.total,
            speed: self.player.speed(),
            looping: self.cfg.looping,
            loops: self.player.loops,
            sent,
            primed: self.primed.saturating_sub(lost_primed),
            failed: self.failed + lost + lost_primed,
            acked: load(|c| &c.acked),
            failures,
            resent: counters
                .as_ref()
                .map_or(0, |c| c.resent.load(Ordering::Relaxed)),
            reconnects: counters
                .as_ref()
                .map_or(0, |c| c.reconnects.load(Ordering::Relaxed)),
            window_waits: counters
                .as_ref()
                .map_or(0, |c| c.window_waits.load(Ordering::Relaxed)),
            ack_reads: counters
                .as_ref()
                .map_or(0, |c| c.ack_reads.load(Ordering::Relaxed)),
            connected: self.conn.as_ref().is_some_and(PublishConn::is_connected),
            p50_us: self.hist.quantile_us(0.5),
            p99_us: self.hist.quantile_us(0.99),
            p999_us: self.hist.quantile_us(0.999),
            max_us: self.hist.max_ns as f64 / 1000.0,
            mean_us: self.hist.mean_us(),
            last_us: self.last_late_ns as f64 / 1000.0,
            elapsed_s: elapsed,
            rate: if playing > 0.0 {
                sent as f64 / playing
            } else {
                0.0
            },
            error: self.error.clone(),
            origin_unix_us: self.player.origin_due_ns().map(|due| {
                let (wall, mono) = (crate::mqtt::now_ns(), now as i64);
                (wall - (mono - due)) as f64 / 1000.0
            }),
        }
    }

    fn publish_status(&mut self, force_mqtt: bool) {
        let state = if self.player.is_paused() {
            "paused"
        } else {
            "playing"
        };
        let snap = self.snapshot(state);
        *self
            .shared
            .status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = snap.clone();
        self.last_status = Instant::now();
        if force_mqtt || self.last_status_pub.elapsed() >= Duration::from_secs(1) {
            self.last_status_pub = Instant::now();
            self.announce(&snap);
        }
    }

    /// Publishes the status as a retained message on the status topic (not counted as sent).
    fn announce(&mut self, s: &Status) {
        let Some(topic) = self.cfg.status_topic.clone() else {
            return;
        };
        let body = serde_json::json!({
            "session": self.cfg.session_name,
            "state": s.state,
            "position": s.position_us as f64 / 1e6,
            "duration": s.duration_us as f64 / 1e6,
            "index": s.index,
            "total": s.total,
            "speed": if s.speed == 0.0 { serde_json::Value::from("max") } else { serde_json::Value::from(s.speed) },
            "loop": s.looping,
            "sent": s.sent,
            "failed": s.failed,
            "updatedAt": rewrite::iso_ms(now_ns()),
        });
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        // Only on a live connection: the status must never wait for a reconnect.
        if let Some(conn) = self.conn.as_mut().filter(|c| c.is_connected()) {
            let _ = conn.publish(topic.as_bytes(), &bytes, 0, true, Kind::Control);
        }
    }

    fn finish(mut self) {
        let finished = self.finished_state == "finished";
        if let Some(conn) = self.conn.as_mut() {
            let left = if finished {
                match conn.drain(Duration::from_secs(30)) {
                    Ok(left) => left,
                    Err(e) => {
                        let left = conn.pending();
                        self.fail(&e);
                        left
                    }
                }
            } else {
                let _ = conn.flush();
                conn.pending()
            };
            // QoS 1 messages never acknowledged are failures.
            for _ in 0..left {
                self.count_failure("not acknowledged by the broker (QoS 1)");
            }
        }
        let state = self.finished_state;
        let snap = self.snapshot(state);
        // The final status must reach the broker even after a stop request.
        if let Some(conn) = self.conn.as_mut() {
            conn.stop.store(false, Ordering::Relaxed);
        }
        self.announce(&snap);
        *self
            .shared
            .status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = snap;
        if let Some(conn) = self.conn.take() {
            conn.close(!finished);
        }
    }
}
