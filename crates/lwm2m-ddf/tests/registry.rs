//! Every object definition of the OMA registry (`../shared/oma-registry`, or
//! `$LWM2M_REGISTRY_DIR`) parses, validates, and matches the registry's `index.tsv`.
//! Where the registry is not present the test says so and passes.

use std::path::PathBuf;

use lwm2m_core::{Cardinality, DataType, Operations, Version};
use lwm2m_ddf::{Generator, parse_bytes};

fn registry_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LWM2M_REGISTRY_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/oma-registry"));
    if dir.join("index.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: OMA registry not found at {} (set LWM2M_REGISTRY_DIR)", dir.display());
        None
    }
}

#[test]
fn every_registry_file_parses_and_matches_the_index() {
    let Some(dir) = registry_dir() else { return };
    let index = std::fs::read_to_string(dir.join("index.tsv")).unwrap();
    let mut rows = 0;
    let mut total_resources = 0;
    let mut boms = 0;
    for line in index.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [file, id, name, version, lwm2m, multiple, mandatory, urn, count, ..] = cols[..] else {
            panic!("bad index row {line:?}")
        };
        let bytes = std::fs::read(dir.join(file)).unwrap();
        boms += usize::from(bytes.starts_with(b"\xef\xbb\xbf"));
        let defs = parse_bytes(&bytes, file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(defs.len(), 1, "{file}");
        let m = &defs[0].model;
        assert_eq!(m.id.get().to_string(), id, "{file}");
        assert_eq!(m.name, name, "{file}");
        assert_eq!(m.version, version.parse::<Version>().unwrap(), "{file}");
        assert_eq!(m.lwm2m_version, lwm2m.parse::<Version>().unwrap(), "{file}");
        assert_eq!(m.is_multiple(), multiple == "Multiple", "{file}");
        assert_eq!(m.mandatory, mandatory == "Mandatory", "{file}");
        assert_eq!(m.urn, urn, "{file}");
        assert_eq!(m.resources.len().to_string(), count, "{file}");
        assert!(!defs[0].notice.is_empty(), "{file}: licence header kept");
        total_resources += m.resources.len();
        rows += 1;
    }
    assert_eq!(rows, 325);
    assert_eq!(total_resources, 3427);
    assert_eq!(boms, 19, "the registry README says 19 files start with a BOM");
}

#[test]
fn spot_checks() {
    let Some(dir) = registry_dir() else { return };
    let (defs, inputs) = Generator::new().registry_dir(&dir).load().unwrap();
    assert_eq!((defs.len(), inputs.len()), (325, 325));
    let find = |id: u16| &defs.iter().find(|d| d.model.id.get() == id).unwrap().model;
    let res = |o: u16, r: u16| find(o).resources.iter().find(|x| x.id.get() == r).unwrap().clone();

    let manufacturer = res(3, 0);
    assert_eq!(manufacturer.name, "Manufacturer");
    assert_eq!(
        (manufacturer.data_type, manufacturer.mandatory, manufacturer.cardinality),
        (DataType::String, false, Cardinality::Single)
    );
    assert_eq!(manufacturer.operations, Operations::R);
    let state = res(5, 3);
    assert_eq!((&*state.name, state.data_type, &*state.range), ("State", DataType::Integer, "0..3"));
    assert_eq!(find(0).resources.len(), 31);
    assert!(find(0).resources.iter().all(|r| r.operations == Operations::NONE), "Security is bootstrap-only");
    assert_eq!(res(3, 4).operations, Operations::E);
    assert_eq!(res(3, 4).data_type, DataType::None);
    assert_eq!(res(3, 11).cardinality, Cardinality::Multiple);
    // The registry's Temperature object leaves Units empty (units are in resource 5701).
    assert_eq!((res(3303, 5700).data_type, &*res(3303, 5700).units), (DataType::Float, ""));
    assert_eq!(res(3303, 5701).data_type, DataType::String);
    // 20.xml declares the 1.0 schema but uses a 1.1 type; 10482.xml has an untyped readable resource.
    assert!(find(20).resources.iter().any(|r| r.data_type == DataType::UnsignedInteger));
    assert_eq!(res(10482, 5).data_type, DataType::None);
    assert_eq!(res(10482, 5).operations, Operations::R);
}
