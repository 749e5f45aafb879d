//! Byte encodings of segment data: Parquet files, Arrow IPC, delete bitmaps.
//!
//! A sealed segment is one Parquet file whose columns follow
//! `CollectionSchema::arrow_schema()` (vectors as `FixedSizeList<f32>`); the
//! Arrow schema is embedded so it round-trips exactly. WAL records carry rows
//! as Arrow IPC streams. Delete bitmaps are small checksummed blobs so a torn
//! or bit-rotted one is detected rather than silently resurrecting rows.

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType as ArrowType, SchemaRef};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::error::{Result, StorageError};

/// Upper bound on rows per decoded batch before concatenation.
const MAX_READ_BATCH_ROWS: usize = 1 << 24;

/// True for columns written raw: float vectors neither compress nor benefit
/// from dictionaries or min/max statistics, and encoding speed matters.
fn is_vector(t: &ArrowType) -> bool {
    matches!(t, ArrowType::FixedSizeList(item, _) if item.data_type() == &ArrowType::Float32)
}

fn writer_properties(schema: &SchemaRef) -> Result<WriterProperties> {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(1 << 20));
    let vector_names: Vec<&str> = schema
        .fields()
        .iter()
        .filter(|f| is_vector(f.data_type()))
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
    concat(schema, &batches)
}

fn concat(schema: SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch> {
    match batches {
        [] => Ok(RecordBatch::new_empty(schema)),
        [one] => Ok(one.clone()),
        many => Ok(arrow::compute::concat_batches(&schema, many)?),
    }
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
