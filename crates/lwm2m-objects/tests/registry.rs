//! The generated static registry: counts, lookups and spot checks of known facts, and
//! agreement with the registry's `index.tsv` where the registry is present.

use std::path::PathBuf;

use lwm2m_objects::lwm2m_core::{Cardinality, DataType, ModelRegistry, ObjectId, Operations, ResourceId, Version};
use lwm2m_objects::{OBJECT_COUNT, OBJECTS, RESOURCE_COUNT, registry};

fn oid(id: u16) -> ObjectId {
    ObjectId::new(id).unwrap()
}

fn rid(id: u16) -> ResourceId {
    ResourceId::new(id).unwrap()
}

#[test]
fn counts_and_order() {
    assert_eq!(OBJECT_COUNT, 325);
    assert_eq!(RESOURCE_COUNT, 3427);
    assert_eq!(registry().objects().len(), 325);
    assert_eq!(OBJECTS.iter().map(|o| o.resources.len()).sum::<usize>(), 3427);
    assert!(OBJECTS.windows(2).all(|w| w[0].id < w[1].id), "objects sorted by id");
    for o in &OBJECTS {
        assert!(o.resources.windows(2).all(|w| w[0].id < w[1].id), "resources of {} sorted", o.id);
        assert_eq!(registry().object(o.id).map(|x| x.id), Some(o.id));
    }
    assert!(registry().object(oid(17)).is_none());
    assert!(registry().object(oid(65534)).is_none());
}

#[test]
fn known_facts() {
    let r = registry();
    let manufacturer = r.resource(oid(3), rid(0)).unwrap();
    assert_eq!(manufacturer.name, "Manufacturer");
    assert_eq!(manufacturer.data_type, DataType::String);
    assert!(!manufacturer.mandatory);
    assert_eq!(manufacturer.cardinality, Cardinality::Single);
    assert_eq!(manufacturer.operations, Operations::R);
    let state = r.resource(oid(5), rid(3)).unwrap();
    assert_eq!((&*state.name, state.data_type), ("State", DataType::Integer));
    let security = r.object(oid(0)).unwrap();
    assert_eq!(security.resources.len(), 31);
    assert_eq!((security.version, security.lwm2m_version), (Version::new(1, 2), Version::new(1, 1)));
    assert!(security.mandatory && security.is_multiple());
    let device = r.object(oid(3)).unwrap();
    assert_eq!((&*device.name, &*device.urn), ("Device", "urn:oma:lwm2m:oma:3:1.2"));
    assert_eq!(device.cardinality, Cardinality::Single);
    assert_eq!(r.resource(oid(3), rid(4)).unwrap().operations, Operations::E);
    assert_eq!(r.resource(oid(3), rid(11)).unwrap().cardinality, Cardinality::Multiple);
    assert_eq!(r.resource(oid(1), rid(1)).unwrap().units, "s");
    assert_eq!(r.resource(oid(5), rid(5)).unwrap().range, "0..11");
    assert_eq!(r.resource(oid(3311), rid(5850)).unwrap().data_type, DataType::Boolean);
    // Descriptions are compiled in only with the `descriptions` feature.
    let description = &r.resource(oid(3), rid(0)).unwrap().description;
    if cfg!(feature = "descriptions") {
        assert_eq!(description, "Human readable manufacturer name");
    } else {
        assert_eq!(description, "");
    }
}

#[test]
fn registry_is_a_shareable_static() {
    fn assert_traits<T: ModelRegistry + Send + Sync + std::fmt::Debug + 'static>(_: &T) {}
    assert_traits(registry());
    let shared: &'static dyn ModelRegistry = registry();
    assert!(shared.object(oid(3303)).is_some());
}

#[test]
fn matches_the_index_of_the_registry() {
    let dir = std::env::var_os("LWM2M_REGISTRY_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/oma-registry"));
    let Ok(index) = std::fs::read_to_string(dir.join("index.tsv")) else {
        eprintln!("SKIPPED: OMA registry not found at {} (set LWM2M_REGISTRY_DIR)", dir.display());
        return;
    };
    let mut rows = 0;
    for line in index.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let id: u16 = cols[1].parse().unwrap();
        let model = registry().object(oid(id)).unwrap_or_else(|| panic!("object {id} missing"));
        assert_eq!(model.name, cols[2], "object {id}");
        assert_eq!(model.version.to_string(), cols[3], "object {id}");
        assert_eq!(model.lwm2m_version.to_string(), cols[4], "object {id}");
        assert_eq!(model.is_multiple(), cols[5] == "Multiple", "object {id}");
        assert_eq!(model.mandatory, cols[6] == "Mandatory", "object {id}");
        assert_eq!(model.urn, cols[7], "object {id}");
        assert_eq!(model.resources.len().to_string(), cols[8], "object {id}");
        rows += 1;
    }
    assert_eq!(rows, OBJECT_COUNT);
}
