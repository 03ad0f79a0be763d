//! Shared by the fuzz targets: a typed model (Device 3 and a synthetic object 9999 whose
//! resource `r` has type `r % 9`), request paths at every level, and a decode driver.
#![allow(dead_code)]

use std::borrow::Cow;
use std::sync::OnceLock;

use lwm2m_codec::{Limits, decode, decode_composite, decode_paths, decode_timestamped, decode_timestamped_entries};
use lwm2m_core::{
    Cardinality, ContentFormat, DataType, ModelSet, ObjectId, ObjectModel, Operations, Path, ResourceId, ResourceModel,
    Version,
};

const TYPES: [DataType; 9] = [
    DataType::String,
    DataType::Integer,
    DataType::UnsignedInteger,
    DataType::Float,
    DataType::Boolean,
    DataType::Opaque,
    DataType::Time,
    DataType::Objlnk,
    DataType::Corelnk,
];

pub fn model() -> &'static ModelSet {
    static M: OnceLock<ModelSet> = OnceLock::new();
    M.get_or_init(|| {
        let mut set = ModelSet::new();
        for (id, multiple_every) in [(3u16, 3u16), (9999, 5)] {
            let resources = (0..32u16)
                .map(|r| ResourceModel {
                    id: ResourceId::new(r).unwrap(),
                    name: Cow::Borrowed("r"),
                    operations: Operations::RW,
                    cardinality: if r % multiple_every == 0 { Cardinality::Multiple } else { Cardinality::Single },
                    mandatory: false,
                    data_type: TYPES[usize::from(r % 9)],
                    range: Cow::Borrowed(""),
                    units: Cow::Borrowed(""),
                    description: Cow::Borrowed(""),
                })
                .collect::<Vec<_>>();
            set.insert(ObjectModel {
                id: ObjectId::new(id).unwrap(),
                name: Cow::Borrowed("o"),
                urn: Cow::Borrowed(""),
                version: Version::V1_0,
                lwm2m_version: Version::V1_0,
                cardinality: Cardinality::Multiple,
                mandatory: false,
                resources: Cow::Owned(resources),
                description: Cow::Borrowed(""),
            });
        }
        set
    })
}

/// Small limits so the fuzzer explores limit checks too.
pub const LIMITS: Limits =
    Limits { max_payload_size: 64 << 10, max_depth: 8, max_entries: 512, max_value_len: 16 << 10 };

pub fn paths() -> [Path; 7] {
    ["/3", "/3/0", "/3/0/3", "/3/0/3/1", "/9999/1", "/9999/1/7", "/9999/1/7/0"].map(|p| p.parse().unwrap())
}

/// Runs every entry point of `format` over `data`; the property is "returns, never panics".
pub fn drive(format: ContentFormat, data: &[u8]) {
    let m = model();
    for p in paths() {
        let _ = decode(format, &p, data, m, &LIMITS);
    }
    let _ = decode_composite(format, data, m, &LIMITS);
    let _ = decode_timestamped(format, &paths()[1], data, m, &LIMITS);
    let _ = decode_timestamped_entries(format, data, m, &LIMITS);
    let _ = decode_paths(format, data, &LIMITS);
}
