//! The byte stream under the MQTT client: plain TCP, or TLS (rustls) over TCP.
//!
//! The client reads on one thread and writes on another. For TLS both share one rustls
//! session behind a mutex; the lock is never held while blocking on the socket, so a
//! reader waiting for data does not stall the writer.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use crate::error::{Error, Result};

/// TLS settings of a broker URL (`mqtts://…?ca=/path/ca.pem`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Extra trusted CA certificates (PEM); the Mozilla roots are always trusted.
    pub ca_file: Option<PathBuf>,
}

/// A connected stream that can be split into a reader and a writer.
pub struct Conn {
    sock: TcpStream,
    tls: Option<Arc<Mutex<ClientConnection>>>,
}

fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &opts.ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect)
            .map_err(|e| Error::Invalid(format!("CA file {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(Error::Invalid(format!(
                "CA file {} holds no certificate",
                path.display()
            )));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| Error::Invalid(format!("CA file {}: {e}", path.display())))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Invalid(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

impl Conn {
    pub fn plain(sock: TcpStream) -> Self {
        Conn { sock, tls: None }
    }

    /// Completes a TLS handshake with `host` over `sock`.
    pub fn tls(mut sock: TcpStream, host: &str, opts: &TlsOptions) -> Result<Self> {
        let config = client_config(opts)?;
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| Error::Invalid(format!("TLS server name {host:?}: {e}")))?;
        let mut conn =
            ClientConnection::new(config, name).map_err(|e| Error::Broker(format!("TLS: {e}")))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)
                .map_err(|e| Error::Broker(format!("TLS handshake with {host}: {e}")))?;
        }
        Ok(Conn {
            sock,
            tls: Some(Arc::new(Mutex::new(conn))),
        })
    }

    pub fn socket(&self) -> &TcpStream {
        &self.sock
    }

    pub fn writer(&self) -> io::Result<Box<dyn Write + Send>> {
        let sock = self.sock.try_clone()?;
        Ok(match &self.tls {
            None => Box::new(sock),
            Some(conn) => Box::new(TlsWriter {
                conn: Arc::clone(conn),
                sock,
            }),
        })
    }

    pub fn reader(&self) -> io::Result<Box<dyn Read + Send>> {
        let sock = self.sock.try_clone()?;
        Ok(match &self.tls {
            None => Box::new(sock),
            Some(conn) => Box::new(TlsReader {
                conn: Arc::clone(conn),
                sock,
                raw: vec![0; 16 * 1024],
            }),
        })
    }

    pub fn shutdown(&self) {
        let _ = self.sock.shutdown(Shutdown::Both);
    }
}

struct TlsWriter {
    conn: Arc<Mutex<ClientConnection>>,
    sock: TcpStream,
}

impl Write for TlsWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| io::Error::other("TLS state poisoned"))?;
        let n = conn.writer().write(buf)?;
        while conn.wants_write() {
            conn.write_tls(&mut self.sock)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| io::Error::other("TLS state poisoned"))?;
        while conn.wants_write() {
            conn.write_tls(&mut self.sock)?;
        }
        self.sock.flush()
    }
}

struct TlsReader {
    conn: Arc<Mutex<ClientConnection>>,
    sock: TcpStream,
    raw: Vec<u8>,
}

impl Read for TlsReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let mut conn = self
                    .conn
                    .lock()
                    .map_err(|_| io::Error::other("TLS state poisoned"))?;
                match conn.reader().read(out) {
                    Ok(n) => return Ok(n), // 0 = clean close_notify
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            // Block on the socket without the lock; read timeouts surface to the caller.
            let n = self.sock.read(&mut self.raw)?;
            if n == 0 {
                return Ok(0);
            }
            let mut conn = self
                .conn
                .lock()
                .map_err(|_| io::Error::other("TLS state poisoned"))?;
            let mut data = &self.raw[..n];
            while !data.is_empty() {
                conn.read_tls(&mut data)?;
                conn.process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            }
            // Answers the session may owe the peer (key updates, alerts).
            while conn.wants_write() {
                conn.write_tls(&mut self.sock)?;
            }
        }
    }
}
