use arrow::array::*;
use arrow::record_batch::RecordBatch;
use quiver_filter::Filter;
use quiver_storage::{CollectionSchema, DataType, FieldSchema};
use std::collections::HashMap;
use std::sync::Arc;
fn main() {
    let mut id = FieldSchema::new(100, "id", DataType::Int64);
    id.is_primary = true;
    let s = CollectionSchema {
        name: "t".into(),
        description: String::new(),
        fields: vec![
            id,
            FieldSchema::new(101, "tenant_id", DataType::VarChar),
            FieldSchema::new(102, "metadata", DataType::Json),
        ],
        enable_dynamic_field: true,
    };
    let n = 100_000usize;
    let tenants = ["acme", "globex", "initech", "umbrella"];
    let docs: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"source":"{}","page":{i}}}"#,
                if i % 3 == 0 { "faq" } else { "blog" }
            )
        })
        .collect();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from((0..n as i64).collect::<Vec<_>>())),
        Arc::new(StringArray::from(
            (0..n).map(|i| tenants[i % 4]).collect::<Vec<_>>(),
        )),
        Arc::new(BinaryArray::from(
            docs.iter().map(|d| d.as_bytes()).collect::<Vec<_>>(),
        )),
        Arc::new(BinaryArray::from(vec![b"{}".as_slice(); n])),
    ];
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let mut c = 0;
        for d in &docs {
            let v: serde_json::Value = serde_json::from_slice(d.as_bytes()).unwrap();
            if v.get("source").and_then(|s| s.as_str()) == Some("faq") {
                c += 1;
            }
        }
        println!("raw serde: {:?} {c}", t.elapsed());
    }
    let b = RecordBatch::try_new(s.arrow_schema(), cols).unwrap();
    if std::env::var("ONE").is_ok() {
        let f = Filter::parse("metadata[\"source\"] == \"faq\"", &s, &HashMap::new()).unwrap();
        for _ in 0..20 { let _ = f.evaluate(&b).unwrap(); }
        return;
    }
    for expr in [
        "tenant_id == \"acme\"",
        "metadata[\"source\"] == \"faq\"",
        "metadata[\"source\"] == \"faq\" and tenant_id == \"acme\"",
        "id % 2 == 0",
        "id in [1,2,3]",
        "x == 1",
    ] {
        let f = Filter::parse(expr, &s, &HashMap::new()).unwrap();
        for _ in 0..3 {
            let t = std::time::Instant::now();
            let m = f.evaluate(&b).unwrap();
            println!(
                "{expr}: {:?} {}",
                t.elapsed(),
                m.iter().filter(|x| **x).count()
            );
        }
    }
}
