//! Binding of the replay engine: `_core.Replayer`.

use std::time::Duration;

use arrow_array::ffi_stream::{ArrowArrayStreamReader, FFI_ArrowArrayStream};
use arrow_array::RecordBatch;
use mqtt_replay_core::mqtt::BrokerConfig;
use mqtt_replay_core::replay::{self, Command, Messages, Prime, ReplayConfig};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict};

use crate::{detached, raise, to_py_err};

/// Imports record batches from any object with `__arrow_c_stream__` (zero-copy).
pub fn import_stream(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Vec<RecordBatch>> {
    let capsule = obj.call_method0("__arrow_c_stream__")?;
    let capsule = capsule.cast::<PyCapsule>()?;
    let ptr = capsule
        .pointer_checked(Some(c"arrow_array_stream"))?
        .cast::<FFI_ArrowArrayStream>();
    // SAFETY: the capsule holds an ArrowArrayStream (checked by name); `from_raw` moves it
    // out and marks the capsule's copy released, as the PyCapsule interface prescribes.
    let stream = unsafe { FFI_ArrowArrayStream::from_raw(ptr.as_ptr()) };
    let reader = ArrowArrayStreamReader::try_new(stream).map_err(|e| {
        raise(
            py,
            "InvalidOptionError",
            format!("not an Arrow stream: {e}"),
            None,
        )
    })?;
    reader.collect::<Result<Vec<_>, _>>().map_err(|e| {
        raise(
            py,
            "InvalidOptionError",
            format!("reading the Arrow stream: {e}"),
            None,
        )
    })
}

#[pyclass(module = "mqtt_replay._core")]
pub struct Replayer {
    inner: Option<replay::Replayer>,
    /// The final status, kept after `close` so that reports can still be read.
    last: replay::Status,
}

#[pymethods]
impl Replayer {
    #[new]
    #[pyo3(signature = (
        table, broker_url, *, client_id, allow_remote = false, speed = 1.0, looping = false,
        from_us = None, to_us = None, allowed = None, rename = None, qos = None, retain = None,
        prime = "off", compress_gap_us = None, rewrite_time = false,
        status_topic = None, session_name = String::new(), inflight = 1000, start_paused = false,
        strict = false, keepalive_s = 30, give_up_s = 60.0, spin_us = 150,
    ))]
    #[allow(clippy::too_many_arguments, clippy::fn_params_excessive_bools)]
    fn new(
        py: Python<'_>,
        table: &Bound<'_, PyAny>,
        broker_url: &str,
        client_id: &str,
        allow_remote: bool,
        speed: f64,
        looping: bool,
        from_us: Option<i64>,
        to_us: Option<i64>,
        allowed: Option<Vec<bool>>,
        rename: Option<Vec<String>>,
        qos: Option<u8>,
        retain: Option<bool>,
        prime: &str,
        compress_gap_us: Option<i64>,
        rewrite_time: bool,
        status_topic: Option<String>,
        session_name: String,
        inflight: usize,
        start_paused: bool,
        strict: bool,
        keepalive_s: u16,
        give_up_s: f64,
        spin_us: u64,
    ) -> PyResult<Self> {
        let batches = import_stream(py, table)?;
        let mut broker =
            BrokerConfig::parse(broker_url, client_id).map_err(|e| to_py_err(py, e))?;
        if keepalive_s == 0 {
            let msg = "keepalive_s must be at least 1".to_string();
            return Err(raise(py, "InvalidOptionError", msg, None));
        }
        broker.keep_alive_s = keepalive_s;
        if !(give_up_s.is_finite() && give_up_s > 0.0) {
            let msg = format!("give_up_s must be a positive number of seconds, not {give_up_s}");
            return Err(raise(py, "InvalidOptionError", msg, None));
        }
        let prime = match prime {
            "off" => Prime::Off,
            "retained" => Prime::Retained,
            "all" => Prime::All,
            other => {
                return Err(raise(
                    py,
                    "InvalidOptionError",
                    format!("prime must be off, retained or all, not {other:?}"),
                    None,
                ))
            }
        };
        let cfg = ReplayConfig {
            broker,
            allow_remote,
            speed,
            looping,
            from_us,
            to_us,
            allowed,
            rename,
            qos,
            retain,
            prime,
            compress_gap_us,
            rewrite_time,
            status_topic,
            session_name,
            inflight,
            start_paused,
            strict,
            give_up: Duration::from_secs_f64(give_up_s.min(1e9)),
            spin_ns: spin_us.min(10_000) * 1000,
        };
        let inner = detached(py, move || {
            let msgs = Messages::from_batches(&batches)?;
            replay::Replayer::start(msgs, cfg)
        })
        .map_err(|e| to_py_err(py, e))?;
        Ok(Replayer {
            inner: Some(inner),
            last: replay::Status::default(),
        })
    }

    fn pause(&self) {
        self.send(Command::Pause);
    }
    fn resume(&self) {
        self.send(Command::Resume);
    }
    fn stop(&self) {
        self.send(Command::Stop);
    }
    fn step(&self) {
        self.send(Command::Step);
    }
    fn set_speed(&self, speed: f64) {
        self.send(Command::Speed(speed));
    }
    fn set_loop(&self, looping: bool) {
        self.send(Command::Loop(looping));
    }
    fn seek_us(&self, offset_us: i64) {
        self.send(Command::SeekUs(offset_us));
    }
    fn seek_index(&self, index: usize) {
        self.send(Command::SeekIndex(index));
    }

    fn is_finished(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(replay::Replayer::is_finished)
    }

    /// Waits up to `timeout` seconds (forever if None) without holding the GIL; checks for
    /// Ctrl-C every 50 ms. True when the replay has ended. Holds only a shared borrow while
    /// it waits, so other threads can read `status()` meanwhile (a mutable one made every
    /// concurrent `status()` fail with "Already mutably borrowed").
    #[pyo3(signature = (timeout = None))]
    fn wait(slf: &Bound<'_, Self>, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let deadline =
            timeout.map(|t| std::time::Instant::now() + Duration::from_secs_f64(t.max(0.0)));
        loop {
            let finished = {
                let me = slf.borrow();
                let Some(inner) = me.inner.as_ref() else {
                    return Ok(true);
                };
                let slice = match deadline {
                    Some(d) => d
                        .saturating_duration_since(std::time::Instant::now())
                        .min(Duration::from_millis(50)),
                    None => Duration::from_millis(50),
                };
                py.detach(|| {
                    let end = std::time::Instant::now() + slice;
                    loop {
                        if inner.is_finished() {
                            return true;
                        }
                        if std::time::Instant::now() >= end {
                            return false;
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                })
            };
            if finished {
                // join the ended thread (a panic in it becomes the status's error)
                if let Ok(mut me) = slf.try_borrow_mut() {
                    if let Some(inner) = me.inner.as_mut() {
                        inner.wait(Duration::ZERO);
                    }
                }
                return Ok(true);
            }
            py.check_signals()?;
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return Ok(false);
            }
        }
    }

    /// A snapshot of position, counters and lateness (µs).
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let s = self
            .inner
            .as_ref()
            .map_or_else(|| self.last.clone(), replay::Replayer::status);
        d.set_item("state", s.state)?;
        d.set_item("position_s", s.position_us as f64 / 1e6)?;
        d.set_item("duration_s", s.duration_us as f64 / 1e6)?;
        d.set_item("index", s.index)?;
        d.set_item("total", s.total)?;
        d.set_item("speed", s.speed)?;
        d.set_item("loop", s.looping)?;
        d.set_item("loops", s.loops)?;
        d.set_item("sent", s.sent)?;
        d.set_item("primed", s.primed)?;
        d.set_item("failed", s.failed)?;
        d.set_item("resent", s.resent)?;
        d.set_item("reconnects", s.reconnects)?;
        d.set_item("window_waits", s.window_waits)?;
        d.set_item("ack_reads", s.ack_reads)?;
        d.set_item("connected", s.connected)?;
        d.set_item("lateness_p50_us", s.p50_us)?;
        d.set_item("lateness_p99_us", s.p99_us)?;
        d.set_item("lateness_p999_us", s.p999_us)?;
        d.set_item("lateness_max_us", s.max_us)?;
        d.set_item("lateness_mean_us", s.mean_us)?;
        d.set_item("lateness_last_us", s.last_us)?;
        d.set_item("elapsed_s", s.elapsed_s)?;
        d.set_item("rate", s.rate)?;
        d.set_item("origin_unix_us", s.origin_unix_us)?;
        d.set_item("error", s.error)?;
        d.set_item("acked", s.acked)?;
        let failures = PyDict::new(py);
        for (why, n) in s.failures {
            failures.set_item(why, n)?;
        }
        d.set_item("failures", failures)?;
        Ok(d)
    }

    /// Stops the replay and waits for its thread (GIL released). The mutable borrow lasts
    /// only while the engine is taken out, so other threads' `status()` calls meanwhile see
    /// the status at the moment of closing instead of failing ("Already mutably
    /// borrowed", a 500 in the Replay Station's poll during a looped replay).
    fn close(slf: &Bound<'_, Self>, py: Python<'_>) {
        let taken = {
            let mut me = slf.borrow_mut();
            let inner = me.inner.take();
            if let Some(i) = inner.as_ref() {
                me.last = i.status();
            }
            inner
        };
        if let Some(inner) = taken {
            let last = py.detach(move || {
                let mut inner = inner;
                inner.send(Command::Stop);
                inner.wait(Duration::from_hours(1));
                inner.status()
            });
            slf.borrow_mut().last = last;
        }
    }
}

impl Replayer {
    fn send(&self, cmd: Command) {
        if let Some(inner) = self.inner.as_ref() {
            inner.send(cmd);
        }
    }
}
