//! A subscribing connection on a background thread: the recorder's and the probe's.
//! It reconnects and resubscribes after a broker loss, and a broker that stops answering
//! its PINGREQs within the keepalive counts as lost.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::codec::{subscribe_packet, Framer, Incoming};
use super::url::BrokerConfig;
use super::{connect, now_ns};
use crate::error::{Error, Result};
use crate::transport::Conn;

// ---- subscribing connection ----------------------------------------------------------

/// A received message with its arrival time.
#[derive(Debug, Clone)]
pub struct Received {
    pub topic: Vec<u8>,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    /// The broker's DUP flag (a QoS 1 redelivery).
    pub dup: bool,
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
    let packet = match subscribe_packet(1, filters, v5) {
        Ok(p) => p,
        Err(e) => return format!("cannot subscribe: {e}"),
    };
    if w.write_all(&packet).is_err() {
        return "subscribe failed".into();
    }
    // A read timeout lets the loop check `stop` and send pings; the framer keeps partial
    // packets across timeouts.
    s.socket()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .ok();
    let mut framer = Framer::default();
    let half = Duration::from_secs(u64::from(cfg.keep_alive_s.max(1))) / 2;
    let mut last_ping = Instant::now();
    let mut last_rx = Instant::now();
    let mut acks: VecDeque<u16> = VecDeque::new();
    loop {
        if stop.load(Ordering::Relaxed) {
            let _ = w.write_all(&[0xE0, 0x00]);
            return "stopped".into();
        }
        // Keepalive: a PINGREQ every half keepalive; nothing at all from the broker for a
        // whole keepalive (a ping was out for half of it) means it stopped answering.
        if last_rx.elapsed() >= half * 2 && last_ping.elapsed() >= half {
            return format!(
                "the broker stopped answering (nothing for {:.1} s)",
                last_rx.elapsed().as_secs_f64()
            );
        }
        if last_ping.elapsed() >= half {
            if w.write_all(&[0xC0, 0x00]).is_err() {
                return "ping failed".into();
            }
            last_ping = Instant::now();
        }
        let packet = framer.next(&mut rd, v5);
        if matches!(packet, Ok(Some(_))) {
            last_rx = Instant::now();
        }
        match packet {
            Ok(Some(Incoming::Publish {
                topic,
                payload,
                qos,
                retain,
                pid,
                dup,
            })) => {
                if qos > 0 {
                    acks.push_back(pid);
                }
                let msg = Received {
                    topic,
                    payload,
                    qos,
                    retain,
                    dup,
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
