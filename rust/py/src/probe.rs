//! Binding of the probe: `_core.Probe`, a native subscriber that stamps arrivals.

use mqtt_replay_core::mqtt::probe::{self, Arrivals};
use mqtt_replay_core::mqtt::BrokerConfig;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use std::sync::atomic::Ordering;

use crate::{detached, raise, to_py_err};

#[pyclass(module = "mqtt_replay._core")]
pub struct Probe {
    inner: Option<probe::Probe>,
    received_at_stop: u64,
}

fn le_bytes<T: Copy, const N: usize>(values: &[T], to: fn(T) -> [u8; N]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * N);
    for &v in values {
        out.extend_from_slice(&to(v));
    }
    out
}

#[pymethods]
impl Probe {
    /// Connects, subscribes to `topics` and returns once the broker acknowledged (GIL
    /// released while waiting).
    #[new]
    #[pyo3(signature = (broker_url, *, client_id, topics, protocol = 4, record = true))]
    fn new(
        py: Python<'_>,
        broker_url: &str,
        client_id: &str,
        topics: Vec<(String, u8)>,
        protocol: u8,
        record: bool,
    ) -> PyResult<Self> {
        let mut cfg = BrokerConfig::parse(broker_url, client_id).map_err(|e| to_py_err(py, e))?;
        if !matches!(protocol, 4 | 5) {
            let msg = format!("protocol must be 4 (MQTT 3.1.1) or 5, not {protocol}");
            return Err(raise(py, "InvalidOptionError", msg, None));
        }
        cfg.protocol = protocol;
        let inner = detached(py, move || probe::Probe::start(cfg, topics, record))
            .map_err(|e| to_py_err(py, e))?;
        Ok(Probe {
            inner: Some(inner),
            received_at_stop: 0,
        })
    }

    /// Counters: received, connected, disconnects.
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        match &self.inner {
            Some(p) => {
                d.set_item("received", p.counters.received.load(Ordering::Relaxed))?;
                d.set_item("connected", p.counters.connected.load(Ordering::Relaxed))?;
                d.set_item(
                    "disconnects",
                    p.counters.disconnects.load(Ordering::Relaxed),
                )?;
            }
            None => {
                d.set_item("received", self.received_at_stop)?;
                d.set_item("connected", false)?;
                d.set_item("disconnects", 0)?;
            }
        }
        Ok(d)
    }

    /// Stops (GIL released) and returns the arrivals: `topics` (distinct, first-arrival
    /// order) and little-endian arrays as bytes: `topic_index` (u32), `arrival_ns` (i64),
    /// `size` (u32), `dup` (u8), `thread_cpu_s`, the CPU time of the probe's thread, and
    /// `reads`, the socket reads that brought data. A second call returns empty arrays.
    fn stop<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let a = match self.inner.take() {
            Some(mut p) => py.detach(move || p.stop()),
            None => Arrivals::default(),
        };
        self.received_at_stop = a.arrival_ns.len() as u64;
        let d = PyDict::new(py);
        d.set_item("topics", a.topics)?;
        d.set_item(
            "topic_index",
            PyBytes::new(py, &le_bytes(&a.topic_index, u32::to_le_bytes)),
        )?;
        d.set_item(
            "arrival_ns",
            PyBytes::new(py, &le_bytes(&a.arrival_ns, i64::to_le_bytes)),
        )?;
        d.set_item(
            "size",
            PyBytes::new(py, &le_bytes(&a.size, u32::to_le_bytes)),
        )?;
        d.set_item("dup", PyBytes::new(py, &a.dup))?;
        d.set_item("thread_cpu_s", a.thread_cpu_ns as f64 / 1e9)?;
        d.set_item("reads", a.reads)?;
        Ok(d)
    }
}
