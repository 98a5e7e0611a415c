//! A small MQTT client over a blocking TCP (or TLS) socket, written for replay and recording.
//!
//! Why our own: the replay thread must own the socket write (no async runtime, no extra
//! thread hop per message, TCP_NODELAY on), QoS 1 needs a bounded in-flight window so the
//! 16-bit packet id never wraps onto unacknowledged messages, and after a broker restart
//! every unacknowledged message is sent again in order. The protocol subset is small:
//! CONNECT/CONNACK, PUBLISH (QoS 0/1, both directions), PUBACK, SUBSCRIBE/SUBACK,
//! PINGREQ/PINGRESP, DISCONNECT.
//!
//! One job per module: [`url`] (broker URLs and the loopback rule), [`codec`] (packets),
//! [`publisher`] (the replay's connection), [`subscriber`] (the recorder's and the probe's).

pub mod codec;
pub mod probe;
pub mod publisher;
pub mod subscriber;
pub mod url;

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

pub use codec::{encode_publish, read_packet, read_packet_v, topic_name_problem, Incoming};
pub use publisher::{Kind, PubCounters, PublishConn};
pub use subscriber::{subscribe, Received, SubEvent};
pub use url::{redact, BrokerConfig};

use crate::error::{Error, Result};
use crate::transport::Conn;
use codec::{connack_reason, connect_packet};

/// Nanoseconds since the Unix epoch (the wall clock).
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
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
                let packet =
                    connect_packet(cfg).map_err(|e| Error::Invalid(format!("CONNECT: {e}")))?;
                conn.writer()
                    .and_then(|mut w| w.write_all(&packet).and_then(|()| w.flush()))
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
