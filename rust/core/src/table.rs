//! Columns to Arrow record batches (full table or index).

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, DictionaryArray, Int32Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, UInt32Array, UInt64Array, UInt8Array,
};
use arrow_buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::ndjson::{Columns, Mode};

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn topic_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// Schema of the message table (`Mode::Full`) or of the index (`Mode::Index`).
pub fn schema(mode: Mode) -> SchemaRef {
    let mut fields = vec![
        Field::new("seq", DataType::UInt64, false),
        Field::new("timestamp", ts_type(), true),
        Field::new("topic", topic_type(), false),
    ];
    match mode {
        Mode::Full => fields.push(Field::new("payload", DataType::Utf8, false)),
        Mode::Index => {}
    }
    fields.push(Field::new("qos", DataType::UInt8, false));
    fields.push(Field::new("retain", DataType::Boolean, false));
    fields.push(Field::new("line", DataType::UInt64, false));
    if mode == Mode::Index {
        fields.push(Field::new("offset", DataType::UInt64, false));
        fields.push(Field::new("length", DataType::UInt32, false));
    }
    // True where `payload` holds base64 of a binary body (see the recorder).
    fields.push(Field::new("binary", DataType::Boolean, false));
    Arc::new(Schema::new(fields))
}

/// Builds one record batch; `topics` is the shared dictionary of every batch.
pub fn to_batch(
    cols: Columns,
    topics: &Arc<StringArray>,
    mode: Mode,
    schema: &SchemaRef,
) -> Result<RecordBatch, ArrowError> {
    let n = cols.len();
    let seq: ArrayRef = Arc::new(UInt64Array::from_iter_values(
        cols.seq_start..cols.seq_start + n as u64,
    ));
    let nulls = cols
        .has_null_timestamp
        .then(|| NullBuffer::from(cols.timestamp_valid));
    let ts: ArrayRef = Arc::new(
        TimestampMicrosecondArray::new(ScalarBuffer::from(cols.timestamp), nulls)
            .with_timezone("UTC"),
    );
    let keys = Int32Array::from(cols.topic);
    let topic: ArrayRef = Arc::new(DictionaryArray::<Int32Type>::try_new(
        keys,
        Arc::clone(topics) as ArrayRef,
    )?);
    let mut arrays = vec![seq, ts, topic];
    let payload = cols.payload;
    if mode == Mode::Full {
        let offsets = OffsetBuffer::new(ScalarBuffer::from(payload.offsets));
        if offsets.last().map_or(0, |&o| o as usize) > payload.data.len() {
            return Err(ArrowError::InvalidArgumentError(
                "payload offsets do not match the payload data".into(),
            ));
        }
        let values = Buffer::from_vec(payload.data.into_bytes());
        // SAFETY: `values` was a `String` (valid UTF-8), and every offset is the length the
        // string had after a whole `str`/`char` was pushed (see `ndjson`), hence a character
        // boundary; `OffsetBuffer::new` checked they are monotonic and start at 0, and the
        // last one lies within the data (checked above). `try_new` would re-validate all the
        // UTF-8 serially, a full extra pass over the payloads.
        arrays.push(Arc::new(unsafe {
            StringArray::new_unchecked(offsets, values, None)
        }));
    }
    arrays.push(Arc::new(UInt8Array::from(cols.qos)));
    arrays.push(Arc::new(BooleanArray::from(cols.retain)));
    arrays.push(Arc::new(UInt64Array::from(cols.line)));
    if mode == Mode::Index {
        arrays.push(Arc::new(UInt64Array::from(payload.span_offset)));
        arrays.push(Arc::new(UInt32Array::from(payload.span_length)));
    }
    arrays.push(Arc::new(BooleanArray::from(cols.binary)));
    RecordBatch::try_new(Arc::clone(schema), arrays)
}
