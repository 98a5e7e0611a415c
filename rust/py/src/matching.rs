//! `mqtt_replay._core.match_arrivals`: a benchmark's arrivals matched to its schedule.
//!
//! The columns arrive through the buffer protocol and are read in place with the GIL
//! released; the result is a dict of plain numbers and lists.

use mqtt_replay_core::matching::{self, Arrivals, Latency, Schedule};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::agg::Column;
use crate::raise;

type LatencyTuple = Option<(f64, f64, f64, f64, f64)>;

fn tuple(l: Option<Latency>) -> LatencyTuple {
    l.map(|l| (l.p50, l.p95, l.p99, l.max, l.mean))
}

/// Matches arrivals to the schedule (see `mqtt_replay_core::matching`). Latencies are in ns
/// as `(p50, p95, p99, max, mean)` or None; per plant `(received, matched, reordered,
/// latency)`. Releases the GIL.
#[pyfunction]
#[pyo3(signature = (ids, due_ns, plant_len, plant_of_id, topic_index, id_of_topic, arrival_ns, bin_ns))]
#[allow(clippy::too_many_arguments)]
pub fn match_arrivals<'py>(
    py: Python<'py>,
    ids: &Bound<'py, PyAny>,
    due_ns: &Bound<'py, PyAny>,
    plant_len: &Bound<'py, PyAny>,
    plant_of_id: &Bound<'py, PyAny>,
    topic_index: &Bound<'py, PyAny>,
    id_of_topic: &Bound<'py, PyAny>,
    arrival_ns: &Bound<'py, PyAny>,
    bin_ns: i64,
) -> PyResult<Bound<'py, PyDict>> {
    let ids = Column::<i32>::new(py, ids, "ids")?;
    let due_ns = Column::<i64>::new(py, due_ns, "due_ns")?;
    let plant_len = Column::<i64>::new(py, plant_len, "plant_len")?;
    let plant_of_id = Column::<i32>::new(py, plant_of_id, "plant_of_id")?;
    let topic_index = Column::<u32>::new(py, topic_index, "topic_index")?;
    let id_of_topic = Column::<i32>::new(py, id_of_topic, "id_of_topic")?;
    let arrival_ns = Column::<i64>::new(py, arrival_ns, "arrival_ns")?;
    let schedule = Schedule {
        id: ids.slice(),
        due_ns: due_ns.slice(),
        plant_len: plant_len.slice(),
        plant_of_id: plant_of_id.slice(),
    };
    let arrivals = Arrivals {
        topic_index: topic_index.slice(),
        id_of_topic: id_of_topic.slice(),
        arrival_ns: arrival_ns.slice(),
    };
    let m = py
        .detach(|| matching::match_arrivals(&schedule, &arrivals, bin_ns))
        .map_err(|e| raise(py, "InvalidOptionError", e.to_string(), None))?;
    let d = PyDict::new(py);
    let plants: Vec<(u64, u64, u64, LatencyTuple)> = m
        .plants
        .iter()
        .map(|p| (p.received, p.matched, p.reordered, tuple(p.latency)))
        .collect();
    d.set_item("plants", plants)?;
    d.set_item("strays", m.strays)?;
    d.set_item("latency", tuple(m.latency))?;
    d.set_item("t0_ns", m.t0_ns)?;
    d.set_item("due_max_ns", m.due_max_ns)?;
    d.set_item("arrival_max_ns", m.arrival_max_ns)?;
    d.set_item("offered", m.offered)?;
    d.set_item("delivered", m.delivered)?;
    d.set_item("bin_p50", m.bin_p50)?;
    d.set_item("bin_p99", m.bin_p99)?;
    Ok(d)
}
