//! Byte encodings of segment data: Parquet files, Arrow IPC, delete bitmaps.
//!
//! A sealed segment is one Parquet file whose columns follow
//! `CollectionSchema::arrow_schema()`; the Arrow schema is embedded so it
//! round-trips exactly. Float vector columns (`FixedSizeList<f32>` in memory)
//! are stored as one fixed-length byte string per row (the row's `f32`s,
//! little-endian), marked by [`RAW_VECTOR_KEY`] in the field metadata: a
//! Parquet list spends a repetition level on every component, which made a
//! 100k x 1536 segment take seconds to encode and decode; a fixed-length byte
//! column is a copy each way. Files with vectors as lists still read. WAL records carry rows
//! as Arrow IPC streams. Delete bitmaps are small checksummed blobs so a torn
//! or bit-rotted one is detected rather than silently resurrecting rows.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeBinaryArray, FixedSizeListArray, RecordBatch,
};
use arrow::buffer::ScalarBuffer;
use arrow::datatypes::{DataType as ArrowType, Field, Float32Type, Schema, SchemaRef};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::error::{Result, StorageError};

/// Upper bound on rows per decoded batch before concatenation.
const MAX_READ_BATCH_ROWS: usize = 1 << 24;

/// Field metadata marking a vector column stored as fixed-length bytes; its
/// value is the name of the list's item field, restored on read.
pub const RAW_VECTOR_KEY: &str = "quiver.raw_f32_vector";

/// True for columns written raw: float vectors neither compress nor benefit
/// from dictionaries or min/max statistics, and encoding speed matters.
fn is_vector(f: &Field) -> bool {
    matches!(f.data_type(), ArrowType::FixedSizeList(item, _) if item.data_type() == &ArrowType::Float32)
        || f.metadata().contains_key(RAW_VECTOR_KEY)
}

/// `col` as one `dim * 4`-byte string per row when it is a float vector column
/// without null components (the buffer is shared, not copied).
fn vector_as_bytes(field: &Field, col: &ArrayRef) -> Option<(Field, ArrayRef)> {
    let ArrowType::FixedSizeList(item, dim) = field.data_type() else {
        return None;
    };
    // The bytes are the f32s in memory order, read back as little-endian.
    if cfg!(target_endian = "big") || item.data_type() != &ArrowType::Float32 || item.is_nullable()
    {
        return None;
    }
    let list = col.as_fixed_size_list_opt()?;
    let values = list.values().as_primitive_opt::<Float32Type>()?;
    if values.null_count() > 0 {
        return None;
    }
    let dim = usize::try_from(*dim).ok()?;
    let width = i32::try_from(dim.checked_mul(4)?).ok()?;
    let start = list.offset().checked_mul(dim)?;
    let len = list.len().checked_mul(dim)?;
    let bytes = values.values().slice(start, len).into_inner();
    let array = FixedSizeBinaryArray::try_new(width, bytes, list.nulls().cloned()).ok()?;
    let mut meta = field.metadata().clone();
    meta.insert(RAW_VECTOR_KEY.to_string(), item.name().clone());
    let stored = Field::new(
        field.name(),
        ArrowType::FixedSizeBinary(width),
        field.is_nullable(),
    )
    .with_metadata(meta);
    Some((stored, Arc::new(array)))
}

/// The inverse of [`vector_as_bytes`] for a column read back with its stored field.
fn vector_from_bytes(field: &Field, col: &ArrayRef) -> Result<Option<(Field, ArrayRef)>> {
    let Some(item_name) = field.metadata().get(RAW_VECTOR_KEY) else {
        return Ok(None);
    };
    let bad = |m: &str| StorageError::Corrupt(format!("vector column {}: {m}", field.name()));
    let bin = col
        .as_fixed_size_binary_opt()
        .ok_or_else(|| bad("not fixed-length bytes"))?;
    let width = usize::try_from(bin.value_length()).map_err(|_| bad("negative width"))?;
    if width % 4 != 0 {
        return Err(bad("width is not a whole number of f32"));
    }
    let dim = width / 4;
    let n = bin.len().saturating_mul(dim);
    let start = bin.offset().saturating_mul(width);
    let buf = bin.values();
    if buf.len() < start.saturating_add(n.saturating_mul(4)) {
        return Err(bad("shorter than its rows"));
    }
    // Zero-copy when the decoded buffer is f32-aligned (the Parquet reader's
    // allocations are); otherwise one copy.
    let floats: ScalarBuffer<f32> = if buf.as_ptr().align_offset(4) == 0 {
        ScalarBuffer::new(buf.clone(), start / 4, n)
    } else {
        buf[start..start + n * 4]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let item = Arc::new(Field::new(item_name, ArrowType::Float32, false));
    let dim_i32 = i32::try_from(dim).map_err(|_| bad("dimension too large"))?;
    let values = Arc::new(arrow::array::Float32Array::new(floats, None));
    let list = FixedSizeListArray::try_new(item.clone(), dim_i32, values, bin.nulls().cloned())?;
    let mut meta = field.metadata().clone();
    meta.remove(RAW_VECTOR_KEY);
    let restored = Field::new(
        field.name(),
        ArrowType::FixedSizeList(item, dim_i32),
        field.is_nullable(),
    )
    .with_metadata(meta);
    Ok(Some((restored, Arc::new(list))))
}

fn writer_properties(schema: &SchemaRef) -> Result<WriterProperties> {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(1 << 20));
    let vector_names: Vec<&str> = schema
        .fields()
        .iter()
        .filter(|f| is_vector(f))
        .map(|f| f.name().as_str())
        .collect();
    if !vector_names.is_empty() {
        let descr = ArrowSchemaConverter::new().convert(schema)?;
        for col in descr.columns() {
            let path = col.path();
            let root = path.parts().first().map(String::as_str);
            if root.is_some_and(|r| vector_names.contains(&r)) {
                props = props
                    .set_column_compression(path.clone(), Compression::UNCOMPRESSED)
                    .set_column_dictionary_enabled(path.clone(), false)
                    .set_column_statistics_enabled(path.clone(), EnabledStatistics::None);
            }
        }
    }
    Ok(props.build())
}

/// Encodes `batch` as one Parquet file (Snappy; vector columns raw).
pub fn batch_to_parquet(batch: &RecordBatch) -> Result<Bytes> {
    let batch = &vectors_as_bytes(batch)?;
    let schema = batch.schema();
    let props = writer_properties(&schema)?;
    let estimate = batch.get_array_memory_size() + 4096;
    let mut writer = ArrowWriter::try_new(Vec::with_capacity(estimate), schema, Some(props))?;
    writer.write(batch)?;
    let out = writer.into_inner()?;
    Ok(Bytes::from(out))
}

/// Decodes a Parquet file into one batch with the stored Arrow schema, keeping
/// only the top-level columns in `projection` (in file order) when given.
pub fn parquet_to_batch(bytes: Bytes, projection: Option<&[usize]>) -> Result<RecordBatch> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)?;
    // Decode everything as one batch where possible: concatenating afterwards
    // would copy every vector once more.
    let rows = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    let mut builder = builder.with_batch_size(rows.clamp(1, MAX_READ_BATCH_ROWS));
    if let Some(cols) = projection {
        let n = builder.schema().fields().len();
        if let Some(bad) = cols.iter().find(|&&c| c >= n) {
            return Err(StorageError::Arrow(format!(
                "projection column {bad} out of range ({n} columns)"
            )));
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), cols.iter().copied());
        builder = builder.with_projection(mask);
    }
    let reader = builder.build()?;
    let schema = arrow::array::RecordBatchReader::schema(&reader);
    let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
    vectors_from_bytes(&concat(schema, &batches)?)
}

/// `batch` with its float vector columns as fixed-length bytes (see the module doc).
fn vectors_as_bytes(batch: &RecordBatch) -> Result<RecordBatch> {
    map_columns(batch, is_vector, |f, c| Ok(vector_as_bytes(f, c)))
}

/// The inverse of [`vectors_as_bytes`]; a batch without marked columns is returned as is.
fn vectors_from_bytes(batch: &RecordBatch) -> Result<RecordBatch> {
    map_columns(
        batch,
        |f| f.metadata().contains_key(RAW_VECTOR_KEY),
        vector_from_bytes,
    )
}

/// `batch` with each column `convert` replaces (`Ok(None)` keeps it); the
/// batch itself, uncopied, when no field is `wanted`.
fn map_columns(
    batch: &RecordBatch,
    wanted: impl Fn(&Field) -> bool,
    convert: impl Fn(&Field, &ArrayRef) -> Result<Option<(Field, ArrayRef)>>,
) -> Result<RecordBatch> {
    let schema = batch.schema();
    if !schema.fields().iter().any(|f| wanted(f)) {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut cols = Vec::with_capacity(fields.capacity());
    for (f, c) in schema.fields().iter().zip(batch.columns()) {
        let (f, c) = convert(f, c)?.unwrap_or_else(|| (f.as_ref().clone(), c.clone()));
        fields.push(f);
        cols.push(c);
    }
    let schema = Schema::new_with_metadata(fields, schema.metadata().clone());
    Ok(RecordBatch::try_new_with_options(
        Arc::new(schema),
        cols,
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

fn concat(schema: SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch> {
    match batches {
        [] => Ok(RecordBatch::new_empty(schema)),
        [one] => Ok(one.clone()),
        many => Ok(arrow::compute::concat_batches(&schema, many)?),
    }
}

/// Where top-level column `name` is in a Parquet file (None when the file
/// predates the field), and the file's row count: read from the footer only.
pub fn parquet_column_position(bytes: &Bytes, name: &str) -> Result<(Option<usize>, usize)> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes.clone())?;
    let rows = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    Ok((builder.schema().index_of(name).ok(), rows))
}

/// Encodes `batch` as an Arrow IPC stream (WAL payloads).
pub fn batch_to_ipc(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(batch.get_array_memory_size() + 1024);
    {
        let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut out, &batch.schema())?;
        w.write(batch)?;
        w.finish()?;
    }
    Ok(out)
}

/// Decodes an Arrow IPC stream into one batch.
pub fn ipc_to_batch(bytes: &[u8]) -> Result<RecordBatch> {
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)?;
    let schema = reader.schema();
    let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
    concat(schema, &batches)
}

const BITMAP_MAGIC: &[u8; 4] = b"QDB1";
/// magic + u64 bit length + u32 crc.
const BITMAP_OVERHEAD: usize = 4 + 8 + 4;

/// Encodes a bitmap of `len` bits (`bits` holds at least `len.div_ceil(64)`
/// words, bit i at `bits[i / 64] >> (i % 64)`) as
/// `[b"QDB1"][u64 LE len][words LE][u32 LE crc32 of everything before]`.
/// Bits at or past `len` are cleared.
pub fn encode_bitmap(bits: &[u64], len: usize) -> Vec<u8> {
    let words = len.div_ceil(64);
    let mut out = Vec::with_capacity(BITMAP_OVERHEAD + words * 8);
    out.extend_from_slice(BITMAP_MAGIC);
    out.extend_from_slice(&(len as u64).to_le_bytes());
    for i in 0..words {
        let mut w = bits.get(i).copied().unwrap_or(0);
        if i + 1 == words && !len.is_multiple_of(64) {
            w &= (1u64 << (len % 64)) - 1;
        }
        out.extend_from_slice(&w.to_le_bytes());
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes [`encode_bitmap`] output into `(words, len)`, verifying the checksum.
pub fn decode_bitmap(bytes: &[u8]) -> Result<(Vec<u64>, usize)> {
    let corrupt = |m: &str| StorageError::Corrupt(format!("delete bitmap: {m}"));
    if bytes.len() < BITMAP_OVERHEAD || &bytes[..4] != BITMAP_MAGIC {
        return Err(corrupt("bad header"));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    let mut cb = [0u8; 4];
    cb.copy_from_slice(crc);
    if crc32fast::hash(body) != u32::from_le_bytes(cb) {
        return Err(corrupt("checksum mismatch"));
    }
    let mut lb = [0u8; 8];
    lb.copy_from_slice(&body[4..12]);
    let len = usize::try_from(u64::from_le_bytes(lb)).map_err(|_| corrupt("length overflow"))?;
    let data = &body[12..];
    if !data.len().is_multiple_of(8) || data.len() / 8 != len.div_ceil(64) {
        return Err(corrupt("length does not match payload"));
    }
    let words = data
        .chunks_exact(8)
        .map(|c| {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            u64::from_le_bytes(w)
        })
        .collect();
    Ok((words, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmap_round_trip_and_corruption() {
        let bits = vec![0b1011u64, u64::MAX];
        let enc = encode_bitmap(&bits, 70);
        let (words, len) = decode_bitmap(&enc).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(len, 70);
        assert_eq!(words, vec![0b1011, 0b11_1111]);
        let mut bad = enc.clone();
        bad[14] ^= 1;
        assert!(matches!(decode_bitmap(&bad), Err(StorageError::Corrupt(_))));
        assert!(decode_bitmap(&enc[..enc.len() - 1]).is_err());
        let (w, l) = decode_bitmap(&encode_bitmap(&[], 0)).unwrap_or_else(|e| panic!("{e}"));
        assert!(w.is_empty() && l == 0);
    }
}
