//! Binding of the recorder: `_core.Recorder`.

use std::path::PathBuf;
use std::time::Duration;

use mqtt_replay_core::mqtt::BrokerConfig;
use mqtt_replay_core::recorder::{self, RecorderConfig, RecorderStatus};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::{raise, to_py_err};

#[pyclass(module = "mqtt_replay._core")]
pub struct Recorder {
    inner: Option<recorder::Recorder>,
    last: RecorderStatus,
}

fn status_dict<'py>(py: Python<'py>, s: &RecorderStatus) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("state", s.state)?;
    d.set_item("messages", s.messages)?;
    d.set_item("bytes", s.bytes)?;
    d.set_item("dropped_retained", s.dropped_retained)?;
    d.set_item("excluded", s.excluded)?;
    d.set_item("reconnects", s.reconnects)?;
    d.set_item(
        "file",
        s.file.as_ref().map(|p| p.to_string_lossy().into_owned()),
    )?;
    let files: Vec<String> = s
        .files
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    d.set_item("files", files)?;
    d.set_item("started_ns", s.started_ns)?;
    d.set_item("error", s.error.clone())?;
    d.set_item("subscribed", s.subscribed)?;
    d.set_item("last_gap", s.last_gap.clone())?;
    d.set_item("lost", s.lost)?;
    Ok(d)
}

#[pymethods]
impl Recorder {
    #[new]
    #[pyo3(signature = (
        broker_url, directory, name, *, client_id, topics, exclude, tz, header_json,
        flush_interval_s = 1.0, keep_retained = true, rotate_bytes = None, rotate_seconds = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        broker_url: &str,
        directory: PathBuf,
        name: String,
        client_id: &str,
        topics: Vec<(String, u8)>,
        exclude: Vec<String>,
        tz: String,
        header_json: &str,
        flush_interval_s: f64,
        keep_retained: bool,
        rotate_bytes: Option<u64>,
        rotate_seconds: Option<f64>,
    ) -> PyResult<Self> {
        let broker = BrokerConfig::parse(broker_url, client_id).map_err(|e| to_py_err(py, e))?;
        let Ok(serde_json::Value::Object(header)) = serde_json::from_str(header_json) else {
            let msg = "header must be a JSON object".to_string();
            return Err(raise(py, "InvalidOptionError", msg, None));
        };
        if !(flush_interval_s > 0.0 && flush_interval_s <= 60.0) {
            return Err(raise(
                py,
                "InvalidOptionError",
                "flush interval must be in (0, 60] s".into(),
                None,
            ));
        }
        let cfg = RecorderConfig {
            broker,
            topics,
            exclude,
            directory,
            name,
            tz,
            header,
            flush_interval: Duration::from_secs_f64(flush_interval_s),
            keep_retained,
            rotate_bytes,
            rotate_after: rotate_seconds.map(Duration::from_secs_f64),
        };
        let inner = py
            .detach(move || recorder::Recorder::start(cfg))
            .map_err(|e| to_py_err(py, e))?;
        Ok(Recorder {
            inner: Some(inner),
            last: RecorderStatus::default(),
        })
    }

    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        match self.inner.as_ref() {
            Some(r) => status_dict(py, &r.status()),
            None => status_dict(py, &self.last),
        }
    }

    /// Stops, finalises the header and returns the final status (GIL released meanwhile).
    fn stop<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        if let Some(mut r) = self.inner.take() {
            self.last = py.detach(move || r.stop());
        }
        status_dict(py, &self.last)
    }
}
