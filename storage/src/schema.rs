//! The collection schema as Quiver sees it, independent of the wire protocol.
//!
//! The proxy turns pymilvus's `schema.CollectionSchema` into this model once, at
//! `CreateCollection`; everything below the proxy (segments, filters, WAL) only
//! knows this type. Every field maps to exactly one Arrow column, so a segment is
//! an Arrow `RecordBatch` whose columns follow [`CollectionSchema::arrow_schema`].

use std::sync::Arc;

use arrow::datatypes::{DataType as ArrowType, Field, Schema as ArrowSchema, SchemaRef};
use serde::{Deserialize, Serialize};

/// Name of the hidden JSON column that holds dynamic-field keys.
pub const META_FIELD: &str = "$meta";

/// The field id `$meta` goes by where one is needed (indexes on dynamic-field
/// keys): below the user fields' 100.., so no added field can take it.
pub const META_FIELD_ID: i64 = 99;

/// Largest vector dimension accepted (Milvus's limit).
pub const MAX_DIM: usize = 32768;

/// Field data types, numbered as in Milvus's `schema.DataType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DataType {
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    Float,
    Double,
    VarChar,
    Array,
    Json,
    FloatVector,
    /// Sparse float vectors: per row, (index u32, value f32) pairs with
    /// strictly increasing indices, stored as Milvus's wire bytes.
    SparseFloatVector,
}

impl DataType {
    /// The Milvus wire number of this type.
    pub fn milvus_code(self) -> i32 {
        match self {
            DataType::Bool => 1,
            DataType::Int8 => 2,
            DataType::Int16 => 3,
            DataType::Int32 => 4,
            DataType::Int64 => 5,
            DataType::Float => 10,
            DataType::Double => 11,
            DataType::VarChar => 21,
            DataType::Array => 22,
            DataType::Json => 23,
            DataType::FloatVector => 101,
            DataType::SparseFloatVector => 104,
        }
    }

    /// The type for a Milvus wire number; `String` (20) is treated as VarChar.
    pub fn from_milvus_code(code: i32) -> Option<DataType> {
        Some(match code {
            1 => DataType::Bool,
            2 => DataType::Int8,
            3 => DataType::Int16,
            4 => DataType::Int32,
            5 => DataType::Int64,
            10 => DataType::Float,
            11 => DataType::Double,
            20 | 21 => DataType::VarChar,
            22 => DataType::Array,
            23 => DataType::Json,
            101 => DataType::FloatVector,
            104 => DataType::SparseFloatVector,
            _ => return None,
        })
    }

    /// Integer types of any width.
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
        )
    }

    /// Integer or floating point.
    pub fn is_numeric(self) -> bool {
        self.is_integer() || matches!(self, DataType::Float | DataType::Double)
    }

    /// Types an ARRAY field may hold.
    pub fn is_array_element(self) -> bool {
        self.is_numeric() || matches!(self, DataType::Bool | DataType::VarChar)
    }

    /// The Arrow type of a scalar of this type (arrays and vectors excluded).
    fn scalar_arrow_type(self) -> ArrowType {
        match self {
            DataType::Bool => ArrowType::Boolean,
            DataType::Int8 => ArrowType::Int8,
            DataType::Int16 => ArrowType::Int16,
            DataType::Int32 => ArrowType::Int32,
            DataType::Int64 => ArrowType::Int64,
            DataType::Float => ArrowType::Float32,
            DataType::Double => ArrowType::Float64,
            DataType::VarChar => ArrowType::Utf8,
            DataType::Json | DataType::SparseFloatVector => ArrowType::Binary,
            // Not scalars; callers handle them before reaching here.
            DataType::Array | DataType::FloatVector => ArrowType::Null,
        }
    }
}

/// A literal scalar, used for default values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ScalarValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
}

/// One user field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldSchema {
    /// Milvus field id: user fields start at 100.
    pub id: i64,
    pub name: String,
    pub description: String,
    pub data_type: DataType,
    /// Element type of an ARRAY field.
    pub element_type: Option<DataType>,
    pub is_primary: bool,
    pub auto_id: bool,
    /// Dimension of a vector field.
    pub dim: Option<usize>,
    /// `max_length` of a VARCHAR field, or of VARCHAR elements of an ARRAY.
    pub max_length: Option<usize>,
    /// `max_capacity` of an ARRAY field.
    pub max_capacity: Option<usize>,
    pub nullable: bool,
    pub default_value: Option<ScalarValue>,
    pub is_partition_key: bool,
}

impl FieldSchema {
    /// A field with every optional attribute unset.
    pub fn new(id: i64, name: impl Into<String>, data_type: DataType) -> Self {
        FieldSchema {
            id,
            name: name.into(),
            description: String::new(),
            data_type,
            element_type: None,
            is_primary: false,
            auto_id: false,
            dim: None,
            max_length: None,
            max_capacity: None,
            nullable: false,
            default_value: None,
            is_partition_key: false,
        }
    }

    /// The Arrow type of this field's column.
    pub fn arrow_type(&self) -> ArrowType {
        match self.data_type {
            DataType::FloatVector => ArrowType::FixedSizeList(
                Arc::new(Field::new("item", ArrowType::Float32, false)),
                self.dim.unwrap_or(0) as i32,
            ),
            DataType::Array => {
                let elem = self.element_type.unwrap_or(DataType::Int64);
                ArrowType::List(Arc::new(Field::new("item", elem.scalar_arrow_type(), true)))
            }
            other => other.scalar_arrow_type(),
        }
    }

    /// The Arrow field (name, type, nullability) of this field's column.
    pub fn arrow_field(&self) -> Field {
        Field::new(&self.name, self.arrow_type(), self.nullable)
    }

    /// True for vector fields.
    pub fn is_vector(&self) -> bool {
        matches!(
            self.data_type,
            DataType::FloatVector | DataType::SparseFloatVector
        )
    }

    /// True for sparse vector fields (no dimension, no graph).
    pub fn is_sparse(&self) -> bool {
        self.data_type == DataType::SparseFloatVector
    }
}

/// A collection's schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionSchema {
    pub name: String,
    pub description: String,
    /// User fields in the user's order (no `$meta`).
    pub fields: Vec<FieldSchema>,
    pub enable_dynamic_field: bool,
}

impl CollectionSchema {
    /// The field called `name`, if any (never `$meta`).
    pub fn field(&self, name: &str) -> Option<&FieldSchema> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Position of the column for `name` in [`Self::arrow_schema`] (`$meta` included).
    pub fn column_index(&self, name: &str) -> Option<usize> {
        if name == META_FIELD {
            return self.enable_dynamic_field.then_some(self.fields.len());
        }
        self.fields.iter().position(|f| f.name == name)
    }

    /// The primary-key field. Validated schemas always have exactly one.
    pub fn primary(&self) -> Option<&FieldSchema> {
        self.fields.iter().find(|f| f.is_primary)
    }

    /// Column position of the primary key (fields come first, in order).
    pub fn primary_column(&self) -> Option<usize> {
        self.fields.iter().position(|f| f.is_primary)
    }

    /// Vector fields in schema order.
    pub fn vector_fields(&self) -> impl Iterator<Item = &FieldSchema> {
        self.fields.iter().filter(|f| f.is_vector())
    }

    /// The partition-key field, if the collection has one.
    pub fn partition_key(&self) -> Option<&FieldSchema> {
        self.fields.iter().find(|f| f.is_partition_key)
    }

    /// Arrow schema of a segment: every user field in order, then `$meta`
    /// (non-null Binary holding one JSON object per row) when dynamic fields are on.
    pub fn arrow_schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = self.fields.iter().map(FieldSchema::arrow_field).collect();
        if self.enable_dynamic_field {
            fields.push(Field::new(META_FIELD, ArrowType::Binary, false));
        }
        Arc::new(ArrowSchema::new(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CollectionSchema {
        let mut pk = FieldSchema::new(100, "id", DataType::Int64);
        pk.is_primary = true;
        let mut v = FieldSchema::new(101, "v", DataType::FloatVector);
        v.dim = Some(4);
        let mut tags = FieldSchema::new(102, "tags", DataType::Array);
        tags.element_type = Some(DataType::VarChar);
        CollectionSchema {
            name: "c".into(),
            description: String::new(),
            fields: vec![pk, v, tags],
            enable_dynamic_field: true,
        }
    }

    #[test]
    fn arrow_schema_has_one_column_per_field_plus_meta() {
        let s = sample();
        let a = s.arrow_schema();
        assert_eq!(a.fields().len(), 4);
        assert_eq!(a.field(3).name(), META_FIELD);
        assert_eq!(s.column_index(META_FIELD), Some(3));
        assert_eq!(s.column_index("v"), Some(1));
        assert!(matches!(
            a.field(1).data_type(),
            ArrowType::FixedSizeList(_, 4)
        ));
        assert!(matches!(a.field(2).data_type(), ArrowType::List(_)));
    }

    #[test]
    fn milvus_codes_round_trip() {
        for t in [
            DataType::Bool,
            DataType::Int8,
            DataType::Int16,
            DataType::Int32,
            DataType::Int64,
            DataType::Float,
            DataType::Double,
            DataType::VarChar,
            DataType::Array,
            DataType::Json,
            DataType::FloatVector,
        ] {
            assert_eq!(DataType::from_milvus_code(t.milvus_code()), Some(t));
        }
        assert_eq!(DataType::from_milvus_code(20), Some(DataType::VarChar));
        assert_eq!(DataType::from_milvus_code(999), None);
    }
}
