//! Aggregations over NumPy columns (`mqtt_replay._core.topic_stats`, `bucket_counts`).
//!
//! The columns arrive through the buffer protocol (1-D, C-contiguous, exact dtype) and are
//! read in place with the GIL released.

use mqtt_replay_core::agg;
use pyo3::buffer::{Element, PyBuffer};
use pyo3::prelude::*;

use crate::raise;

/// A 1-D C-contiguous buffer of `T`, kept alive while its slice is used.
pub(crate) struct Column<T: Element> {
    buf: PyBuffer<T>,
}

impl<T: Element> Column<T> {
    pub(crate) fn new(py: Python<'_>, obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Self> {
        let buf = PyBuffer::<T>::get(obj).map_err(|e| {
            raise(
                py,
                "InvalidOptionError",
                format!("{name}: expected a 1-D array of the right dtype ({e})"),
                None,
            )
        })?;
        if buf.dimensions() != 1 || !buf.is_c_contiguous() {
            return Err(raise(
                py,
                "InvalidOptionError",
                format!("{name}: expected a 1-D C-contiguous array"),
                None,
            ));
        }
        Ok(Self { buf })
    }

    pub(crate) fn slice(&self) -> &[T] {
        let len = self.buf.item_count();
        if len == 0 {
            return &[];
        }
        // SAFETY: the buffer is 1-D, C-contiguous, holds `len` items of `T` (PyBuffer::get
        // checked the item size and format) and stays exported while `self.buf` lives, which
        // outlives the returned borrow.
        unsafe { std::slice::from_raw_parts(self.buf.buf_ptr().cast::<T>(), len) }
    }
}

fn agg_err(py: Python<'_>, e: agg::AggError) -> PyErr {
    raise(py, "InvalidOptionError", e.to_string(), None)
}

type StatsTuple = (
    Vec<i64>,
    Vec<i64>,
    Vec<i64>,
    Vec<i64>,
    Vec<i64>,
    Vec<i64>,
    bool,
);

/// Per-topic count, bytes, first, last, min gap, max gap over `rows` (int64, or None for all
/// rows) and whether every topic's times were in order. Releases the GIL.
#[pyfunction]
#[pyo3(signature = (codes, ts, sizes, rows, n_topics))]
pub fn topic_stats(
    py: Python<'_>,
    codes: &Bound<'_, PyAny>,
    ts: &Bound<'_, PyAny>,
    sizes: &Bound<'_, PyAny>,
    rows: Option<&Bound<'_, PyAny>>,
    n_topics: usize,
) -> PyResult<StatsTuple> {
    let codes = Column::<i32>::new(py, codes, "codes")?;
    let ts = Column::<i64>::new(py, ts, "ts")?;
    let sizes = Column::<i64>::new(py, sizes, "sizes")?;
    let rows = rows
        .map(|r| Column::<i64>::new(py, r, "rows"))
        .transpose()?;
    let (c, t, s) = (codes.slice(), ts.slice(), sizes.slice());
    let r = rows.as_ref().map(Column::slice);
    let out = py
        .detach(|| agg::topic_stats(c, t, s, r, n_topics))
        .map_err(|e| agg_err(py, e))?;
    Ok((
        out.count,
        out.bytes,
        out.first,
        out.last,
        out.gap_min,
        out.gap_max,
        out.ordered,
    ))
}

/// Counts per lane and time bucket (row-major, `lanes * buckets`) of the rows in `x0..=x1`,
/// and how many rows lay inside. Releases the GIL.
#[pyfunction]
#[pyo3(signature = (codes, ts, rows, lane_of_code, x0, x1, lanes, buckets))]
#[allow(clippy::too_many_arguments)]
pub fn bucket_counts(
    py: Python<'_>,
    codes: &Bound<'_, PyAny>,
    ts: &Bound<'_, PyAny>,
    rows: Option<&Bound<'_, PyAny>>,
    lane_of_code: &Bound<'_, PyAny>,
    x0: i64,
    x1: i64,
    lanes: usize,
    buckets: usize,
) -> PyResult<(Vec<i64>, u64)> {
    let codes = Column::<i32>::new(py, codes, "codes")?;
    let ts = Column::<i64>::new(py, ts, "ts")?;
    let lane = Column::<i64>::new(py, lane_of_code, "lane_of_code")?;
    let rows = rows
        .map(|r| Column::<i64>::new(py, r, "rows"))
        .transpose()?;
    let (c, t, l) = (codes.slice(), ts.slice(), lane.slice());
    let r = rows.as_ref().map(Column::slice);
    py.detach(|| agg::bucket_counts(c, t, r, l, x0, x1, lanes, buckets))
        .map_err(|e| agg_err(py, e))
}

/// Writes `rows` stably ordered by `keys[row]` (int64 column of the whole session) into
/// `out` (a writable int64 array as long as `rows`). Releases the GIL.
#[pyfunction]
#[pyo3(signature = (keys, rows, out, descending=false))]
pub fn sort_rows(
    py: Python<'_>,
    keys: &Bound<'_, PyAny>,
    rows: &Bound<'_, PyAny>,
    out: &Bound<'_, PyAny>,
    descending: bool,
) -> PyResult<()> {
    let keys = Column::<i64>::new(py, keys, "keys")?;
    let rows = Column::<i64>::new(py, rows, "rows")?;
    let out = Column::<i64>::new(py, out, "out")?;
    if out.buf.readonly() || out.buf.item_count() != rows.buf.item_count() {
        return Err(raise(
            py,
            "InvalidOptionError",
            "out: expected a writable int64 array as long as rows".into(),
            None,
        ));
    }
    let (k, r) = (keys.slice(), rows.slice());
    let len = out.buf.item_count();
    let target: &mut [i64] = if len == 0 {
        &mut []
    } else {
        // SAFETY: `out` is a writable, 1-D, C-contiguous int64 buffer of `len` items (checked
        // above), exported while `out` lives; the Python wrapper allocated it for this call,
        // so nothing else reads or writes it while the GIL is released.
        unsafe { std::slice::from_raw_parts_mut(out.buf.buf_ptr().cast::<i64>(), len) }
    };
    py.detach(|| agg::sort_rows_into(k, r, descending, target))
        .map_err(|e| agg_err(py, e))
}
