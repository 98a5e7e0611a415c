//! Binding of the payload text search: `_core.search_payloads` (index mode, raw spans of the
//! file) and `_core.search_texts` (full mode, an Arrow string column's buffers).

use mqtt_replay_core::search::{search_texts as core_search_texts, TextQuery};
use mqtt_replay_core::session::{
    payload_flags as core_payload_flags, search_payloads as core_search_payloads,
};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::PathBuf;

use crate::agg::Column;
use crate::{detached, raise, to_py_err};

fn flags<'py>(py: Python<'py>, hits: &[bool]) -> Bound<'py, PyBytes> {
    let bytes: Vec<u8> = hits.iter().map(|&h| u8::from(h)).collect();
    PyBytes::new(py, &bytes)
}

/// One byte per span (1 = the payload mentions `needle`); spans are `offsets` (uint64) and
/// `lengths` (uint32) arrays of the index, `span_flags` (uint8) what [`payload_flags`]
/// returned for them, if known. Releases the GIL and uses every core.
#[pyfunction]
#[pyo3(signature = (path, offsets, lengths, needle, *, ignore_case, span_flags = None))]
pub fn search_payloads<'py>(
    py: Python<'py>,
    path: PathBuf,
    offsets: &Bound<'py, PyAny>,
    lengths: &Bound<'py, PyAny>,
    needle: &str,
    ignore_case: bool,
    span_flags: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let offsets = Column::<u64>::new(py, offsets, "offsets")?;
    let lengths = Column::<u32>::new(py, lengths, "lengths")?;
    let known = span_flags
        .map(|f| Column::<u8>::new(py, f, "span_flags"))
        .transpose()?;
    let query = TextQuery::new(needle, ignore_case);
    let (o, l, f) = (
        offsets.slice(),
        lengths.slice(),
        known.as_ref().map(Column::slice),
    );
    let hits = detached(py, || core_search_payloads(&path, o, l, f, &query))
        .map_err(|e| to_py_err(py, e))?;
    Ok(flags(py, &hits))
}

/// One byte per span: what a search must know about its raw JSON string (bit 0: a `\\u` or
/// `\\/` escape, bit 1: non-ASCII bytes). Computed once per index. Releases the GIL.
#[pyfunction]
pub fn payload_flags<'py>(
    py: Python<'py>,
    path: PathBuf,
    offsets: &Bound<'py, PyAny>,
    lengths: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let offsets = Column::<u64>::new(py, offsets, "offsets")?;
    let lengths = Column::<u32>::new(py, lengths, "lengths")?;
    let (o, l) = (offsets.slice(), lengths.slice());
    let out = detached(py, || core_payload_flags(&path, o, l)).map_err(|e| to_py_err(py, e))?;
    Ok(PyBytes::new(py, &out))
}

/// One byte per string of an Arrow string column given as its `data` (uint8) and `offsets`
/// (int32 or int64, one more than strings) buffers. Releases the GIL.
#[pyfunction]
#[pyo3(signature = (data, offsets, needle, *, ignore_case))]
pub fn search_texts<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    offsets: &Bound<'py, PyAny>,
    needle: &str,
    ignore_case: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    let data = Column::<u8>::new(py, data, "data")?;
    let query = TextQuery::new(needle, ignore_case);
    let bytes = data.slice();
    let hits = if let Ok(o) = Column::<i64>::new(py, offsets, "offsets") {
        let o = o.slice();
        detached(py, || core_search_texts(bytes, o, &query))
    } else if let Ok(o) = Column::<i32>::new(py, offsets, "offsets") {
        let o = o.slice();
        detached(py, || core_search_texts(bytes, o, &query))
    } else {
        let msg = "offsets: expected a 1-D int32 or int64 array".to_string();
        return Err(raise(py, "InvalidOptionError", msg, None));
    }
    .map_err(|e| to_py_err(py, e))?;
    Ok(flags(py, &hits))
}
