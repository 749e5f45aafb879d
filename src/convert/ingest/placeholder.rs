//! Search vectors out of `SearchRequest.placeholder_group` (a serialized `common.PlaceholderGroup`).
//!
//! pymilvus sends one `PlaceholderValue` (tag `$0`) whose `values` hold one little-endian
//! byte string per query vector. Float32 vectors are used as is; float16 and bfloat16 are
//! widened to f32. Anything else (binary, sparse, int8, text) is not servable by Quiver.

use prost::Message;

use crate::proto::common::{PlaceholderGroup, PlaceholderType};
use quiver_engine::error::{invalid, parameter_invalid_msg, Result};

/// Decodes a PlaceholderGroup into query vectors of `dim` floats each.
pub fn decode_placeholder_group(bytes: &[u8], dim: usize) -> Result<Vec<Vec<f32>>> {
    let group = PlaceholderGroup::decode(bytes)
        .map_err(|e| invalid(format!("failed to decode the placeholder group: {e}")))?;
    let Some(ph) = group.placeholders.into_iter().next() else {
        return Err(invalid("empty placeholder group: no search data passed"));
    };
    if ph.values.is_empty() {
        return Err(invalid("empty placeholder group: no search data passed"));
    }
    let width = if ph.r#type == PlaceholderType::FloatVector as i32 {
        4
    } else if ph.r#type == PlaceholderType::Float16Vector as i32
        || ph.r#type == PlaceholderType::BFloat16Vector as i32
    {
        2
    } else {
        return Err(invalid(format!(
            "unsupported placeholder type ({}): only float, float16 and bfloat16 vectors can be searched",
            ph.r#type
        )));
    };
    let mut out = Vec::with_capacity(ph.values.len());
    for v in &ph.values {
        if v.len() != width * dim {
            return Err(invalid(format!(
                "the dim ({}) of search data is not equal to schema dim ({dim})",
                v.len() / width
            )));
        }
        let vector: Vec<f32> = match width {
            4 => v
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            _ if ph.r#type == PlaceholderType::Float16Vector as i32 => v
                .chunks_exact(2)
                .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            _ => v
                .chunks_exact(2)
                .map(|c| f32::from_bits(u32::from(u16::from_le_bytes([c[0], c[1]])) << 16))
                .collect(),
        };
        if let Some(pos) = vector.iter().position(|x| !x.is_finite()) {
            return Err(invalid(format!(
                "the value ({}) at position {pos} of search vector {} is not a finite number (NaN and infinity are not allowed)",
                vector[pos],
                out.len()
            )));
        }
        out.push(vector);
    }
    Ok(out)
}

/// Decodes a PlaceholderGroup of sparse query vectors (one wire-format row per
/// query), each checked with Milvus's rules.
pub fn decode_sparse_placeholder_group(bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
    let group = PlaceholderGroup::decode(bytes)
        .map_err(|e| invalid(format!("failed to decode the placeholder group: {e}")))?;
    let Some(ph) = group.placeholders.into_iter().next() else {
        return Err(invalid("empty placeholder group: no search data passed"));
    };
    if ph.values.is_empty() {
        return Err(invalid("empty placeholder group: no search data passed"));
    }
    if ph.r#type != PlaceholderType::SparseFloatVector as i32 {
        return Err(parameter_invalid_msg(format!(
            "failed to search on a sparse float vector field: the search data is of placeholder type {}, not SparseFloatVector",
            ph.r#type
        )));
    }
    for row in &ph.values {
        quiver_index::sparse::validate(row).map_err(parameter_invalid_msg)?;
    }
    Ok(ph.values)
}

/// IEEE 754 half precision → f32 (exact; subnormals, infinities and NaN included).
pub(in crate::convert) fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let mant = u32::from(h & 0x3ff);
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: value = m * 2^-24.
            let v = m as f32 * f32::from_bits(0x3380_0000);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}
