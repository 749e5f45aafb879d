//! Turning the client's `schema.CollectionSchema` into Quiver's schema model,
//! with Milvus's validation rules, and keeping the original for echoing back.

use prost::Message;
use quiver_storage::schema::MAX_DIM;
use quiver_storage::{CollectionSchema, DataType, FieldSchema, ScalarValue};

use crate::proto::schema as s;
use crate::proto::schema::value_field::Data as VData;
use quiver_engine::catalog::names;
use quiver_engine::error::{
    invalid, merr, parameter_invalid, parameter_invalid_msg, refuse, Result,
};

/// Longest VARCHAR Milvus accepts.
pub const MAX_VARCHAR: usize = 65_535;
/// Largest ARRAY capacity Milvus accepts.
pub const MAX_CAPACITY: usize = 4096;
/// Most fields a collection may have.
pub const MAX_FIELDS: usize = 64;

fn type_param(f: &s::FieldSchema, key: &str) -> Option<String> {
    f.type_params
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.clone())
        .or_else(|| {
            // pymilvus may also nest them in a JSON "params" entry.
            let params = f.type_params.iter().find(|kv| kv.key == "params")?;
            let v: serde_json::Value = serde_json::from_str(&params.value).ok()?;
            v.get(key).map(|x| match x {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        })
}

fn int_param(f: &s::FieldSchema, key: &str) -> Result<Option<usize>> {
    match type_param(f, key) {
        None => Ok(None),
        Some(v) => v.trim().parse::<usize>().map(Some).map_err(|_| {
            invalid(format!(
                "invalid {key} [{v}] of field {}: must be a positive integer",
                f.name
            ))
        }),
    }
}

fn default_value(f: &s::FieldSchema) -> Option<ScalarValue> {
    Some(match f.default_value.as_ref()?.data.as_ref()? {
        VData::BoolData(b) => ScalarValue::Bool(*b),
        VData::IntData(i) => ScalarValue::Int(*i as i64),
        VData::LongData(i) => ScalarValue::Int(*i),
        VData::FloatData(x) => ScalarValue::Float(*x as f64),
        VData::DoubleData(x) => ScalarValue::Float(*x),
        VData::StringData(x) => ScalarValue::String(x.clone()),
        _ => return None,
    })
}

/// Decodes and validates a CreateCollection schema. Returns the model and the
/// protobuf bytes to echo (field ids filled in, name set to the collection's).
pub fn parse_schema(name: &str, bytes: &[u8]) -> Result<(CollectionSchema, Vec<u8>)> {
    let mut proto = s::CollectionSchema::decode(bytes)
        .map_err(|e| invalid(format!("cannot decode collection schema: {e}")))?;
    proto.name = name.to_string();
    if !proto.functions.is_empty() {
        return Err(invalid(
            "schema functions (BM25, text embedding) are not supported by Quiver",
        ));
    }
    if proto.fields.len() > MAX_FIELDS {
        return Err(invalid(format!(
            "maximum field's number should be limited to {MAX_FIELDS}"
        )));
    }
    let mut fields = Vec::with_capacity(proto.fields.len());
    for (i, pf) in proto.fields.iter_mut().enumerate() {
        pf.field_id = 100 + i as i64;
        fields.push(parse_field(pf, name)?);
    }
    let schema = CollectionSchema {
        name: name.to_string(),
        description: proto.description.clone(),
        fields,
        enable_dynamic_field: proto.enable_dynamic_field,
    };
    validate_schema(&schema)?;
    for pf in &proto.fields {
        check_field_schema(pf)?;
    }
    Ok((schema, proto.encode_to_vec()))
}

/// The name Milvus's Go code prints for a wire data type (`DataType.String()`).
fn go_type_name(code: i32) -> String {
    match code {
        1 => "Bool",
        2 => "Int8",
        3 => "Int16",
        4 => "Int32",
        5 => "Int64",
        10 => "Float",
        11 => "Double",
        20 => "String",
        21 => "VarChar",
        22 => "Array",
        23 => "JSON",
        24 => "Geometry",
        25 => "Text",
        26 => "Timestamptz",
        100 => "BinaryVector",
        101 => "FloatVector",
        102 => "Float16Vector",
        103 => "BFloat16Vector",
        104 => "SparseFloatVector",
        105 => "Int8Vector",
        other => return other.to_string(),
    }
    .to_string()
}

/// Milvus's root-coordinator field checks (`checkFieldSchema`), run after
/// the proxy's: a nullable primary key, and default values (not on the
/// primary key, arrays, vectors or JSON; of the field's own type; in range;
/// within `max_length`), with its texts.
pub fn check_field_schema(pf: &s::FieldSchema) -> Result<()> {
    let ty = go_type_name(pf.data_type);
    if pf.nullable && pf.is_primary_key {
        return Err(parameter_invalid_msg(format!(
            "primary field not support null, type:{ty}, name:{}",
            pf.name
        )));
    }
    let Some(data) = pf.default_value.as_ref().and_then(|d| d.data.as_ref()) else {
        return Ok(());
    };
    if pf.is_primary_key {
        return Err(parameter_invalid_msg(format!(
            "primary field not support default_value, type:{ty}, name:{}",
            pf.name
        )));
    }
    let vector = (100..=105).contains(&pf.data_type);
    if pf.data_type == 22 || vector || (pf.data_type == 23 && !pf.is_dynamic) {
        return Err(parameter_invalid_msg(format!(
            "type not support default_value, type:{ty}, name:{}",
            pf.name
        )));
    }
    let mismatch = |given: &str| {
        parameter_invalid_msg(format!(
            "type ({ty}) of field ({}) is not equal to the type({given}) of default_value",
            pf.name
        ))
    };
    let out_of_range = |v: i32, lo: i32, hi: i32| {
        refuse(
            merr::PARAMETER_INVALID,
            format!(
                "default value out of range: invalid parameter[{v} out of range {lo} <= value <= {hi}]"
            ),
        )
    };
    match data {
        VData::BoolData(_) if pf.data_type != 1 => Err(mismatch("DataType_Bool")),
        VData::IntData(_) if !(2..=4).contains(&pf.data_type) => Err(mismatch("DataType_Int")),
        VData::IntData(v) if pf.data_type == 3 && i16::try_from(*v).is_err() => {
            Err(out_of_range(*v, i16::MIN.into(), i16::MAX.into()))
        }
        VData::IntData(v) if pf.data_type == 2 && i8::try_from(*v).is_err() => {
            Err(out_of_range(*v, i8::MIN.into(), i8::MAX.into()))
        }
        VData::LongData(_) if pf.data_type != 5 => Err(mismatch("DataType_Int64")),
        VData::FloatData(_) if pf.data_type != 10 => Err(mismatch("DataType_Float")),
        VData::DoubleData(_) if pf.data_type != 11 => Err(mismatch("DataType_Double")),
        VData::StringData(_) if pf.data_type != 21 => Err(mismatch("DataType_VarChar")),
        VData::StringData(v) => match int_param(pf, "max_length")? {
            Some(max) if v.len() > max => Err(parameter_invalid(
                "valid length string",
                "string length exceeds max length",
                format!(
                    "the length ({}) of string exceeds max length ({max})",
                    v.len()
                ),
            )),
            _ => Ok(()),
        },
        VData::BytesData(_) if pf.data_type != 23 => Err(mismatch("DataType_SJON")),
        _ => Ok(()),
    }
}

pub(super) fn parse_field(pf: &s::FieldSchema, coll: &str) -> Result<FieldSchema> {
    names::field(&pf.name)?;
    if pf.is_dynamic {
        return Err(invalid(format!(
            "cannot explicitly set a field as a dynamic field: {}",
            pf.name
        )));
    }
    if pf.data_type == 20 {
        // Milvus's validateFieldType.
        return Err(parameter_invalid_msg(
            "string data type not supported yet, please use VarChar type instead",
        ));
    }
    let data_type = DataType::from_milvus_code(pf.data_type).ok_or_else(|| {
        invalid(format!(
            "data type {} of field {} is not supported by Quiver (supported: BOOL, INT8/16/32/64, \
             FLOAT, DOUBLE, VARCHAR, JSON, ARRAY, FLOAT_VECTOR, SPARSE_FLOAT_VECTOR)",
            pf.data_type, pf.name
        ))
    })?;
    let mut f = FieldSchema::new(pf.field_id, pf.name.clone(), data_type);
    f.description = pf.description.clone();
    f.is_primary = pf.is_primary_key;
    f.auto_id = pf.auto_id;
    f.nullable = pf.nullable;
    f.is_partition_key = pf.is_partition_key;
    f.default_value = default_value(pf);
    match data_type {
        DataType::FloatVector => {
            // Milvus 2.6's proxy validateDimension, texts and order.
            // Parsed signed, so a negative dim gets the range text as in Milvus.
            let dim = match type_param(pf, "dim") {
                Some(v) => Some(v.trim().parse::<i64>().map_err(|_| {
                    invalid(format!(
                        "invalid dim [{v}] of field {}: must be a positive integer",
                        pf.name
                    ))
                })?),
                None => None,
            };
            let dim = dim.ok_or_else(|| {
                parameter_invalid_msg(format!(
                    "dimension is not defined in field type params of field {}, check type \
                     param `dim` for vector field",
                    pf.name
                ))
            })?;
            if dim <= 1 {
                return Err(parameter_invalid_msg(format!(
                    "invalid dimension: {dim}. should be in range 2 ~ {MAX_DIM}"
                )));
            }
            if dim > MAX_DIM as i64 {
                return Err(parameter_invalid_msg(format!(
                    "invalid dimension: {dim} of field {}. float vector dimension should be in range 2 ~ {MAX_DIM}",
                    pf.name
                )));
            }
            f.dim = Some(dim as usize); // within 2 ..= MAX_DIM here
        }
        // Milvus's validateDimension: a sparse field has no dimension.
        DataType::SparseFloatVector if type_param(pf, "dim").is_some() => {
            return Err(parameter_invalid_msg(format!(
                "dim should not be specified for sparse vector field {}({})",
                pf.name, pf.field_id
            )));
        }
        DataType::VarChar => f.max_length = Some(varchar_len(pf, coll)?),
        DataType::Array => {
            let elem = DataType::from_milvus_code(pf.element_type)
                .filter(|t| t.is_array_element())
                .ok_or_else(|| {
                    invalid(format!(
                        "element type {} of array field {} is not supported",
                        pf.element_type, pf.name
                    ))
                })?;
            f.element_type = Some(elem);
            let cap = int_param(pf, "max_capacity")?.ok_or_else(|| {
                refuse(
                    merr::PARAMETER_MISSING,
                    format!(
                        "type param(max_capacity) should be specified for array field {} \
                         of collection {coll}: missing parameter",
                        pf.name
                    ),
                )
            })?;
            if cap == 0 || cap > MAX_CAPACITY {
                return Err(parameter_invalid_msg(format!(
                    "the maximum capacity specified for a Array should be in (0, {MAX_CAPACITY}]"
                )));
            }
            f.max_capacity = Some(cap);
            if elem == DataType::VarChar {
                f.max_length = Some(varchar_len(pf, coll)?);
            }
        }
        _ => {}
    }
    Ok(f)
}

/// `max_length` of a VarChar field (or of an array's VarChar elements),
/// with Milvus 2.6's codes and texts (proxy `validateMaxLengthPerRow`).
fn varchar_len(pf: &s::FieldSchema, coll: &str) -> Result<usize> {
    let len = int_param(pf, "max_length")?.ok_or_else(|| {
        refuse(
            merr::PARAMETER_MISSING,
            format!(
                "type param(max_length) should be specified for the field({}) of collection \
                 {coll}: missing parameter",
                pf.name
            ),
        )
    })?;
    if len == 0 || len > MAX_VARCHAR {
        return Err(parameter_invalid_msg(format!(
            "the maximum length specified for the field({}) should be in (0, {MAX_VARCHAR}], \
             but got {len} instead",
            pf.name
        )));
    }
    Ok(len)
}

fn validate_schema(schema: &CollectionSchema) -> Result<()> {
    let mut names = std::collections::HashSet::new();
    for f in &schema.fields {
        if !names.insert(f.name.as_str()) {
            return Err(invalid(format!("duplicated field name {}", f.name)));
        }
    }
    let pks: Vec<&FieldSchema> = schema.fields.iter().filter(|f| f.is_primary).collect();
    let pk = match pks.as_slice() {
        [pk] => *pk,
        [] => {
            return Err(invalid(
                "schema does not contain primary key, please specify the primary key",
            ))
        }
        _ => return Err(invalid("there are more than one primary key")),
    };
    if !matches!(pk.data_type, DataType::Int64 | DataType::VarChar) {
        return Err(invalid(format!(
            "the data type of primary key should be Int64 or VarChar, got {:?}",
            pk.data_type
        )));
    }
    // A nullable primary key is refused by check_field_schema, as Milvus's
    // root coordinator does.
    if let Some(f) = schema.fields.iter().find(|f| f.auto_id && !f.is_primary) {
        return Err(invalid(format!(
            "only primary field can specify AutoID: {}",
            f.name
        )));
    }
    if schema.vector_fields().next().is_none() {
        return Err(parameter_invalid_msg(
            "schema does not contain vector field",
        ));
    }
    let keys: Vec<&FieldSchema> = schema
        .fields
        .iter()
        .filter(|f| f.is_partition_key)
        .collect();
    // Milvus's proxy validatePartitionKey, texts and order.
    if let [first, second, ..] = keys.as_slice() {
        return Err(parameter_invalid_msg(format!(
            "there are more than one partition key, field name = {}, {}",
            first.name, second.name
        )));
    }
    if let Some(k) = keys.first() {
        if k.is_primary {
            return Err(parameter_invalid_msg(
                "the partition key field must not be primary field",
            ));
        }
        if k.nullable {
            return Err(parameter_invalid_msg(
                "partition key field not support nullable",
            ));
        }
        if !matches!(k.data_type, DataType::Int64 | DataType::VarChar) {
            return Err(parameter_invalid_msg(
                "the data type of partition key should be Int64 or VarChar",
            ));
        }
    }
    Ok(())
}
