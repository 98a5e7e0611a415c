//! Broker URLs: `mqtt://[user[:password]@]host[:port]`, `mqtts://…?ca=…`, and the one
//! loopback rule (every address the host resolves to is a loopback address).

use std::net::{IpAddr, ToSocketAddrs};

use crate::error::{Error, Result};
use crate::transport::TlsOptions;

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

/// Decodes `%XX` escapes; anything that is not a complete escape of two hex digits stays as
/// it is (byte-wise, so multi-byte characters next to a `%` never split a character).
fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let (Some(hi), Some(lo)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
    fn percent_escapes_never_split_characters() {
        // Reported: `%a` followed by a multi-byte character panicked (byte-index slicing).
        assert_eq!(pct_decode("p%a\u{e9}"), "p%a\u{e9}");
        assert_eq!(pct_decode("%"), "%");
        assert_eq!(pct_decode("%4"), "%4");
        assert_eq!(pct_decode("%41%zz\u{e9}%"), "A%zz\u{e9}%");
        let c = BrokerConfig::parse("mqtt://u:p%a\u{e9}@127.0.0.1", "id").unwrap();
        assert_eq!(c.password.as_deref(), Some("p%a\u{e9}"));
    }

    #[test]
    fn any_url_is_a_value_or_an_error() {
        // Deterministic pseudo-random URLs over a hostile alphabet: never a panic.
        let alphabet: Vec<char> = "mqt:/s@%[]?=&ca1.é€\u{0}:aA9#+ ".chars().collect();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..20_000 {
            let mut url = String::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = (x % 24) as usize;
            for k in 0..n {
                url.push(alphabet[((x >> (k % 50)) as usize + k * 7) % alphabet.len()]);
            }
            let _ = BrokerConfig::parse(&url, "id");
            let _ = BrokerConfig::parse(&format!("mqtt://{url}"), "id");
            let _ = redact(&url);
        }
    }
}
