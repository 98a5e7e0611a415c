//! The one error type of the core. The binding maps each variant to one Python exception.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read at all.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A line (or row) is not a valid message and the reader is strict.
    #[error("{path}:{line}: {reason}")]
    BadLine {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    /// The container is not something we can read (unknown ZIP layout, SQLite schema, …).
    #[error("{path}: {reason}")]
    Format { path: PathBuf, reason: String },
    /// A caller passed an invalid option (unknown time zone, bad row number, …).
    #[error("{0}")]
    Invalid(String),
    /// The MQTT broker refused or dropped us.
    #[error("{0}")]
    Broker(String),
    /// A bug: a panic caught at the binding's edge (never a panic in the caller's face).
    #[error("internal error (please report it): {0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, Error>;
