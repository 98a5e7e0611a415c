//! The MQTT packet codec: encoding of CONNECT, PUBLISH and SUBSCRIBE, a framer that keeps
//! partial packets across read timeouts, and decoding of what a broker sends. Every length is
//! checked against the protocol's limits: an oversized field is an error, never a wrapped
//! length on the wire.

use std::io::Read;

use super::url::BrokerConfig;

/// Longest UTF-8 string field (topic, client id, user name): a 16-bit length.
pub const MAX_STRING: usize = u16::MAX as usize;
/// Largest remaining length a fixed header can carry (four 7-bit bytes).
pub const MAX_REMAINING: usize = 268_435_455;

/// Why a packet cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// A string field is longer than 65,535 bytes.
    StringTooLong { field: &'static str, len: usize },
    /// The packet is larger than MQTT's 256 MiB limit.
    PacketTooLarge { len: usize },
}

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EncodeError::StringTooLong { field, len } => {
                write!(
                    f,
                    "{field} is {len} bytes; MQTT allows at most {MAX_STRING}"
                )
            }
            EncodeError::PacketTooLarge { len } => write!(
                f,
                "packet of {len} bytes exceeds MQTT's limit of {MAX_REMAINING} bytes"
            ),
        }
    }
}

/// Why a topic name cannot be used in a PUBLISH (MQTT 3.1.1 §4.7, §1.5.3), or None.
pub fn topic_name_problem(topic: &[u8]) -> Option<String> {
    if topic.is_empty() {
        return Some("empty topic".into());
    }
    if topic.len() > MAX_STRING {
        return Some(format!(
            "topic is {} bytes; MQTT allows at most {MAX_STRING}",
            topic.len()
        ));
    }
    let Ok(text) = std::str::from_utf8(topic) else {
        return Some("topic is not valid UTF-8".into());
    };
    if text.contains('\0') {
        return Some("topic contains U+0000".into());
    }
    if text.contains(['+', '#']) {
        return Some("topic contains a wildcard (+ or #), which MQTT forbids in a PUBLISH".into());
    }
    None
}

fn put_len(out: &mut Vec<u8>, mut n: usize) -> Result<(), EncodeError> {
    if n > MAX_REMAINING {
        return Err(EncodeError::PacketTooLarge { len: n });
    }
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if n == 0 {
            return Ok(());
        }
    }
}

fn put_str(out: &mut Vec<u8>, field: &'static str, s: &[u8]) -> Result<(), EncodeError> {
    let len = u16::try_from(s.len()).map_err(|_| EncodeError::StringTooLong {
        field,
        len: s.len(),
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s);
    Ok(())
}

pub(crate) fn connect_packet(cfg: &BrokerConfig) -> Result<Vec<u8>, EncodeError> {
    let mut body = Vec::new();
    put_str(&mut body, "protocol name", b"MQTT")?;
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
    put_str(&mut body, "client id", cfg.client_id.as_bytes())?;
    if let Some(u) = &cfg.username {
        put_str(&mut body, "user name", u.as_bytes())?;
    }
    if let Some(p) = &cfg.password {
        put_str(&mut body, "password", p.as_bytes())?;
    }
    let mut out = vec![0x10];
    put_len(&mut out, body.len())?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Appends a PUBLISH packet to `out`; on an error `out` is left as it was.
pub fn encode_publish(
    out: &mut Vec<u8>,
    topic: &[u8],
    payload: &[u8],
    qos: u8,
    retain: bool,
    dup: bool,
    pid: u16,
) -> Result<(), EncodeError> {
    let mut header = 0x30 | (qos.min(1) << 1);
    if retain {
        header |= 0x01;
    }
    if dup && qos > 0 {
        header |= 0x08;
    }
    let len = 2 + topic.len() + if qos > 0 { 2 } else { 0 } + payload.len();
    if topic.len() > MAX_STRING {
        return Err(EncodeError::StringTooLong {
            field: "topic",
            len: topic.len(),
        });
    }
    if len > MAX_REMAINING {
        return Err(EncodeError::PacketTooLarge { len });
    }
    out.push(header);
    put_len(out, len)?;
    put_str(out, "topic", topic)?;
    if qos > 0 {
        out.extend_from_slice(&pid.to_be_bytes());
    }
    out.extend_from_slice(payload);
    Ok(())
}

pub(crate) fn subscribe_packet(
    pid: u16,
    filters: &[(String, u8)],
    v5: bool,
) -> Result<Vec<u8>, EncodeError> {
    let mut body = pid.to_be_bytes().to_vec();
    if v5 {
        body.push(0); // no properties
    }
    for (f, q) in filters {
        put_str(&mut body, "topic filter", f.as_bytes())?;
        // MQTT 5: "retain as published" (0x08), so the recorded flag is the publisher's.
        body.push(if v5 { *q | 0x08 } else { *q });
    }
    let mut out = vec![0x82];
    put_len(&mut out, body.len())?;
    out.extend_from_slice(&body);
    Ok(out)
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

fn bad_length() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "malformed remaining length (more than four bytes)",
    )
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
    for i in 0..4 {
        let mut b = [0u8; 1];
        r.read_exact(&mut b)?;
        len += usize::from(b[0] & 0x7f) * mult;
        if b[0] & 0x80 == 0 {
            break;
        }
        if i == 3 {
            return Err(bad_length());
        }
        mult *= 128;
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    parse_body(first[0], &body, v5).map(Some)
}

/// Splits one complete packet off the front of `buf` without copying: its first byte, its
/// body and the bytes it used; `None` when `buf` does not hold a whole packet yet.
pub(crate) fn frame(buf: &[u8]) -> std::io::Result<Option<(u8, &[u8], usize)>> {
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
            return Err(bad_length());
        }
    }
    Ok(buf.get(at..at + len).map(|body| (first, body, at + len)))
}

/// The parts of a PUBLISH packet, borrowed from its body.
pub(crate) struct PublishParts<'a> {
    pub topic: &'a [u8],
    pub payload: &'a [u8],
    pub qos: u8,
    pub dup: bool,
    pub pid: u16,
}

/// Splits a PUBLISH body into its parts without copying.
pub(crate) fn publish_parts(first: u8, body: &[u8], v5: bool) -> std::io::Result<PublishParts<'_>> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed PUBLISH");
    let qos = (first >> 1) & 0x03;
    let tl = usize::from(u16::from_be_bytes([
        *body.first().ok_or_else(bad)?,
        *body.get(1).ok_or_else(bad)?,
    ]));
    let topic = body.get(2..2 + tl).ok_or_else(bad)?;
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
    let payload = body.get(at..).ok_or_else(bad)?;
    Ok(PublishParts {
        topic,
        payload,
        qos,
        dup: first & 0x08 != 0,
        pid,
    })
}

/// Decodes one complete packet from the front of `buf`: the packet and the bytes it used,
/// or `None` when `buf` does not hold a whole packet yet.
pub(crate) fn decode(buf: &[u8], v5: bool) -> std::io::Result<Option<(Incoming, usize)>> {
    match frame(buf)? {
        Some((first, body, used)) => Ok(Some((parse_body(first, body, v5)?, used))),
        None => Ok(None),
    }
}

/// Keeps partial packets across read timeouts (a subscriber wakes up to check for stop).
#[derive(Default)]
pub(crate) struct Framer {
    buf: Vec<u8>,
    start: usize,
}

impl Framer {
    /// The next packet; `Ok(None)` at EOF; a timeout error when no whole packet arrived.
    pub(crate) fn next(&mut self, r: &mut dyn Read, v5: bool) -> std::io::Result<Option<Incoming>> {
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
            let p = publish_parts(first, body, v5)?;
            Incoming::Publish {
                topic: p.topic.to_vec(),
                payload: p.payload.to_vec(),
                qos: p.qos,
                retain: first & 1 == 1,
                dup: p.dup,
                pid: p.pid,
            }
        }
        13 => Incoming::PingResp,
        k => Incoming::Other(k),
    })
}

pub(crate) fn connack_reason(code: u8) -> &'static str {
    match code {
        1 => "unacceptable protocol version",
        2 => "client identifier rejected",
        3 => "server unavailable",
        4 => "bad user name or password",
        5 => "not authorised",
        _ => "refused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_publish_roundtrip() {
        let mut b = Vec::new();
        let payload = vec![7u8; 300];
        encode_publish(&mut b, b"a/b", &payload, 1, true, false, 42).unwrap();
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

    #[test]
    fn oversized_fields_are_errors_not_wrapped_lengths() {
        // Reported: a 70,000-byte topic went out with its length truncated to 16 bits.
        let mut b = vec![1, 2, 3];
        let topic = vec![b'a'; 70_000];
        let e = encode_publish(&mut b, &topic, b"x", 0, false, false, 0).unwrap_err();
        assert_eq!(
            e,
            EncodeError::StringTooLong {
                field: "topic",
                len: 70_000
            }
        );
        assert_eq!(b, vec![1, 2, 3], "nothing appended on error");
        let topic = vec![b'a'; MAX_STRING];
        encode_publish(&mut b, &topic, b"x", 0, false, false, 0).unwrap();
        let big = vec![0u8; MAX_REMAINING];
        let e = encode_publish(&mut Vec::new(), b"t", &big, 0, false, false, 0).unwrap_err();
        assert!(matches!(e, EncodeError::PacketTooLarge { .. }));
        let mut cfg = BrokerConfig::parse("mqtt://127.0.0.1", "id").unwrap();
        cfg.client_id = "c".repeat(70_000);
        assert!(connect_packet(&cfg).is_err());
        assert!(subscribe_packet(1, &[("f".repeat(70_000), 0)], false).is_err());
    }

    #[test]
    fn topic_names_mqtt_forbids_in_publish() {
        for (t, ok) in [
            (&b"a/b"[..], true),
            (b"/j1/txt/1/i/cam", true),
            (b"", false),
            (b"a/+/b", false),
            (b"a/#", false),
            (b"a\0b", false),
            (b"\xff\xfe", false),
        ] {
            assert_eq!(topic_name_problem(t).is_none(), ok, "{t:?}");
        }
        assert!(topic_name_problem(&vec![b'a'; MAX_STRING]).is_none());
        assert!(topic_name_problem(&vec![b'a'; MAX_STRING + 1]).is_some());
    }

    #[test]
    fn malformed_packets_are_errors() {
        // A fifth length byte.
        let b = [0x30, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert!(read_packet(&mut &b[..]).is_err());
        assert!(decode(&b, false).is_err());
        // A PUBLISH whose topic length runs past the body.
        let b = [0x30, 0x03, 0x00, 0x09, b'a'];
        assert!(read_packet(&mut &b[..]).is_err());
        // Truncated: EOF inside the body is an error, an incomplete buffer is "not yet".
        let b = [0x30, 0x05, 0x00, 0x01];
        assert!(read_packet(&mut &b[..]).is_err());
        assert!(decode(&b, false).unwrap().is_none());
        // CONNACK, PUBACK and SUBACK without their bytes.
        for b in [
            &[0x20u8, 0x00][..],
            &[0x40, 0x01, 0x00],
            &[0x90, 0x01, 0x00],
        ] {
            assert!(read_packet(&mut &b[..]).is_err(), "{b:?}");
        }
    }

    #[test]
    fn any_bytes_decode_to_a_packet_an_error_or_not_yet() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..50_000 {
            let n = (rnd() % 40) as usize;
            let mut buf: Vec<u8> = (0..n).map(|_| rnd() as u8).collect();
            if let Some(first) = buf.first_mut() {
                // Mostly packet types we parse.
                *first =
                    [0x20, 0x30, 0x32, 0x35, 0x40, 0x90, 0xD0, rnd() as u8][(rnd() % 8) as usize];
            }
            for v5 in [false, true] {
                let _ = decode(&buf, v5);
                let _ = read_packet_v(&mut &buf[..], v5);
            }
        }
    }
}
