//! `mqtt_replay._core`: the thin binding over `mqtt-replay-core`.
//!
//! It converts types, releases the GIL around every long call and maps the core's one error
//! type onto the Python hierarchy defined in `mqtt_replay/errors.py`. No logic lives here.

// PyO3 extracts arguments as owned values, so pass-by-value is the binding's normal shape.
#![allow(clippy::needless_pass_by_value)]

use std::ffi::CString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{RecordBatch, RecordBatchIterator};
use mqtt_replay_core as core;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

mod agg;
mod matching;
mod probe;
mod recorder;
mod replay;
mod search;

/// Raises the Python exception class `name` from `mqtt_replay.errors`.
pub(crate) fn raise(
    py: Python<'_>,
    name: &str,
    msg: String,
    extra: Option<(&PathBuf, u64, &str)>,
) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let module = py.import("mqtt_replay.errors")?;
        let cls = module.getattr(name)?;
        let exc = match extra {
            Some((path, line, reason)) => cls.call1((
                msg.clone(),
                path.to_string_lossy().into_owned(),
                line,
                reason,
            ))?,
            None => cls.call1((msg.clone(),))?,
        };
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|e| e)
}

pub(crate) fn to_py_err(py: Python<'_>, err: core::Error) -> PyErr {
    let msg = err.to_string();
    match &err {
        core::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            raise(py, "SessionNotFoundError", msg, None)
        }
        core::Error::Io { .. } => raise(py, "SessionIOError", msg, None),
        core::Error::BadLine { path, line, reason } => raise(
            py,
            "SessionParseError",
            msg.clone(),
            Some((path, *line, reason)),
        ),
        core::Error::Format { .. } => raise(py, "SessionFormatError", msg, None),
        core::Error::Invalid(_) => raise(py, "InvalidOptionError", msg, None),
        core::Error::Broker(_) => raise(py, "BrokerError", msg, None),
        core::Error::Internal(_) => raise(py, "MqttReplayError", msg, None),
    }
}

/// Runs `f` without the GIL and turns a panic into [`core::Error::Internal`], so that no
/// input can make a `PanicException` (a `BaseException`) reach the caller.
pub(crate) fn detached<T: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> core::Result<T> + Send,
) -> core::Result<T> {
    py.detach(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(core::Error::Internal(what))
        })
    })
}

/// A byte counter that Python can poll from another thread while a long call runs.
#[pyclass(frozen, module = "mqtt_replay._core")]
struct Progress {
    done: Arc<AtomicU64>,
}

#[pymethods]
impl Progress {
    #[new]
    fn new() -> Self {
        Progress {
            done: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Bytes processed so far.
    #[getter]
    fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
}

/// A parsed session: record batches in file order, exported through the Arrow C stream.
#[pyclass(frozen, module = "mqtt_replay._core")]
struct Session {
    inner: core::Session,
}

#[pymethods]
impl Session {
    #[getter]
    fn path(&self) -> String {
        self.inner.path.to_string_lossy().into_owned()
    }
    #[getter]
    fn container(&self) -> &'static str {
        self.inner.container.name()
    }
    #[getter]
    fn mode(&self) -> &'static str {
        match self.inner.mode {
            core::Mode::Full => "full",
            core::Mode::Index => "index",
        }
    }
    /// The header line's JSON text, if the file has one.
    #[getter]
    fn header_json(&self) -> Option<String> {
        self.inner.header.clone()
    }
    /// `(line, reason, text)` of every line that did not become a message.
    #[getter]
    fn skipped(&self) -> Vec<(u64, String, String)> {
        self.inner
            .skipped
            .iter()
            .map(|s| (s.line, s.reason.clone(), s.text.clone()))
            .collect()
    }
    #[getter]
    fn metadata_lines(&self) -> Vec<u64> {
        self.inner.metadata_lines.clone()
    }
    #[getter]
    fn lines(&self) -> u64 {
        self.inner.lines
    }
    #[getter]
    fn rows(&self) -> u64 {
        self.inner.rows
    }
    #[getter]
    fn bytes(&self) -> u64 {
        self.inner.bytes
    }

    /// Arrow PyCapsule interface: a fresh stream over the (shared, not copied) batches.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema; // we always export our own schema
        let batches: Vec<RecordBatch> = self.inner.batches.clone();
        let reader =
            RecordBatchIterator::new(batches.into_iter().map(Ok), self.inner.schema.clone());
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        let name = CString::new("arrow_array_stream")
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        PyCapsule::new(py, stream, Some(name))
    }
}

/// Reads a session file. Releases the GIL while parsing.
#[pyfunction]
#[pyo3(signature = (path, *, strict = false, tz = "Europe/Berlin".to_string(), mode = "full", progress = None))]
fn open_session(
    py: Python<'_>,
    path: PathBuf,
    strict: bool,
    tz: String,
    mode: &str,
    progress: Option<Py<Progress>>,
) -> PyResult<Session> {
    let mode = match mode {
        "full" => core::Mode::Full,
        "index" => core::Mode::Index,
        other => {
            return Err(raise(
                py,
                "InvalidOptionError",
                format!("unknown mode {other:?}"),
                None,
            ))
        }
    };
    let counter = progress.map(|p| Arc::clone(&p.get().done));
    let opts = core::Options { strict, tz, mode };
    let result = detached(py, || core::open(&path, &opts, counter.as_deref()));
    result
        .map(|inner| Session { inner })
        .map_err(|e| to_py_err(py, e))
}

/// Reads and unescapes payloads at raw byte spans of an NDJSON file. Releases the GIL.
#[pyfunction]
fn fetch_payloads(
    py: Python<'_>,
    path: PathBuf,
    offsets: Vec<u64>,
    lengths: Vec<u32>,
) -> PyResult<Vec<String>> {
    if offsets.len() != lengths.len() {
        return Err(raise(
            py,
            "InvalidOptionError",
            "offsets and lengths differ in length".into(),
            None,
        ));
    }
    let spans: Vec<(u64, u32)> = offsets.into_iter().zip(lengths).collect();
    detached(py, || core::fetch_payloads(&path, &spans)).map_err(|e| to_py_err(py, e))
}

/// The broker URL parser and loopback rule of the engine, for Python callers: host, port,
/// tls, username, has_password, loopback and the URL with its password redacted.
#[pyfunction]
fn parse_broker_url<'py>(py: Python<'py>, url: &str) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
    let cfg = core::mqtt::BrokerConfig::parse(url, "").map_err(|e| to_py_err(py, e))?;
    let loopback = py.detach(|| cfg.is_loopback());
    let d = pyo3::types::PyDict::new(py);
    d.set_item("host", &cfg.host)?;
    d.set_item("port", cfg.port)?;
    d.set_item("tls", cfg.tls.is_some())?;
    d.set_item("username", &cfg.username)?;
    d.set_item("has_password", cfg.password.is_some())?;
    d.set_item("loopback", loopback)?;
    d.set_item("redacted", core::mqtt::redact(url))?;
    Ok(d)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Progress>()?;
    m.add_class::<Session>()?;
    m.add_function(wrap_pyfunction!(open_session, m)?)?;
    m.add_function(wrap_pyfunction!(fetch_payloads, m)?)?;
    m.add_function(wrap_pyfunction!(agg::topic_stats, m)?)?;
    m.add_function(wrap_pyfunction!(agg::bucket_counts, m)?)?;
    m.add_function(wrap_pyfunction!(agg::sort_rows, m)?)?;
    m.add_function(wrap_pyfunction!(matching::match_arrivals, m)?)?;
    m.add_function(wrap_pyfunction!(search::search_payloads, m)?)?;
    m.add_function(wrap_pyfunction!(search::search_texts, m)?)?;
    m.add_function(wrap_pyfunction!(search::payload_flags, m)?)?;
    m.add_class::<replay::Replayer>()?;
    m.add_class::<recorder::Recorder>()?;
    m.add_class::<probe::Probe>()?;
    m.add_function(wrap_pyfunction!(parse_broker_url, m)?)?;
    Ok(())
}
