//! The probe: a native subscriber that stamps every arrival, for measuring a replay end to end
//! (loss, duplicates, order and latency per topic) without touching the payloads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::subscriber::{subscribe, SubEvent};
use super::url::BrokerConfig;
use crate::error::{Error, Result};

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
    collector: Option<JoinHandle<Arrivals>>,
    subscriber: Option<JoinHandle<()>>,
}

/// How long a probe waits for its SUBACK.
const SUBACK_TIMEOUT: Duration = Duration::from_secs(10);

impl Probe {
    /// Connects, subscribes and returns once the broker acknowledged the subscription.
    pub fn start(cfg: BrokerConfig, filters: Vec<(String, u8)>) -> Result<Self> {
        if filters.is_empty() {
            return Err(Error::Invalid(
                "a probe needs at least one topic filter".into(),
            ));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (rx, subscriber) = subscribe(cfg, filters, Arc::clone(&stop))?;
        let deadline = Instant::now() + SUBACK_TIMEOUT;
        let counters = Arc::new(ProbeCounters::default());
        let mut early = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(SubEvent::Connected { .. }) => break,
                Ok(SubEvent::Message(m)) => early.push(m),
                Ok(SubEvent::Disconnected { reason, .. }) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(Error::Broker(format!("probe: {reason}")));
                }
                Err(_) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(Error::Broker(
                        "probe: no SUBACK from the broker within 10 s".into(),
                    ));
                }
            }
        }
        counters.connected.store(true, Ordering::Relaxed);
        let c = Arc::clone(&counters);
        let collector = std::thread::Builder::new()
            .name("mqtt-probe".into())
            .spawn(move || collect(&rx, early, &c))
            .map_err(|e| Error::Broker(e.to_string()))?;
        Ok(Probe {
            stop,
            counters,
            collector: Some(collector),
            subscriber: Some(subscriber),
        })
    }

    /// Unsubscribes (disconnects) and returns every arrival.
    pub fn stop(&mut self) -> Arrivals {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.subscriber.take() {
            h.join().ok();
        }
        self.collector
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

fn collect(
    rx: &mpsc::Receiver<SubEvent>,
    early: Vec<super::subscriber::Received>,
    counters: &ProbeCounters,
) -> Arrivals {
    let mut out = Arrivals::default();
    let mut ids: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut push = |out: &mut Arrivals, m: super::subscriber::Received| {
        let next = ids.len() as u32;
        let id = *ids.entry(m.topic).or_insert_with_key(|t| {
            out.topics.push(String::from_utf8_lossy(t).into_owned());
            next
        });
        out.topic_index.push(id);
        out.arrival_ns.push(m.received_ns);
        out.size
            .push(u32::try_from(m.payload.len()).unwrap_or(u32::MAX));
        out.dup.push(u8::from(m.dup));
        counters.received.fetch_add(1, Ordering::Relaxed);
    };
    for m in early {
        push(&mut out, m);
    }
    while let Ok(ev) = rx.recv() {
        match ev {
            SubEvent::Message(m) => push(&mut out, m),
            SubEvent::Disconnected { .. } => {
                counters.connected.store(false, Ordering::Relaxed);
                counters.disconnects.fetch_add(1, Ordering::Relaxed);
            }
            SubEvent::Connected { .. } => counters.connected.store(true, Ordering::Relaxed),
        }
    }
    out
}
