//! Run-time loading of vendor object definitions (feature `ddf`).
#![cfg(feature = "ddf")]

use lwm2m_objects::loader::{DdfErrorKind, DynamicRegistry};
use lwm2m_objects::lwm2m_core::{DataType, ModelRegistry, ObjectId, ResourceId};

const VENDOR: &str = "\u{feff}<?xml version=\"1.0\"?>
<LWM2M><Object ObjectType=\"MODefinition\"><Name>Vendor Counter</Name><ObjectID>10500</ObjectID>
<ObjectURN>urn:oma:lwm2m:x:10500</ObjectURN><MultipleInstances>Multiple</MultipleInstances>
<Mandatory>Optional</Mandatory><Resources>
<Item ID=\"0\"><Name>Count</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances>
<Mandatory>Mandatory</Mandatory><Type>Unsigned Integer</Type><Units>1</Units></Item>
</Resources></Object></LWM2M>";

fn oid(id: u16) -> ObjectId {
    ObjectId::new(id).unwrap()
}

#[test]
fn loaded_objects_extend_the_static_registry() {
    let mut reg = DynamicRegistry::new();
    assert!(reg.object(oid(10500)).is_none());
    assert_eq!(reg.load_str(VENDOR, "vendor.xml").unwrap(), [oid(10500)]);
    let count = reg.resource(oid(10500), ResourceId::new(0).unwrap()).unwrap();
    assert_eq!((&*count.name, count.data_type, &*count.units), ("Count", DataType::UnsignedInteger, "1"));
    assert_eq!(reg.object(oid(3)).unwrap().name, "Device", "falls back to the static registry");
    assert_eq!(reg.loaded().count(), 1);
    assert_eq!(reg.source_of(oid(10500)), Some("vendor.xml:2"));
    // Loading the same id again is refused and changes nothing.
    let err = reg.load_str(VENDOR, "again.xml").unwrap_err();
    assert_eq!(err.to_string(), "again.xml:2:1: object 10500 is defined twice (first in vendor.xml:2)");
    assert_eq!(reg.loaded().count(), 1);
}

#[test]
fn loaded_definitions_may_replace_registry_objects() {
    let mut reg = DynamicRegistry::new();
    let old_device = VENDOR.replace("10500", "3").replace("Vendor Counter", "Old Device");
    reg.load_bytes(old_device.as_bytes(), "3-1_0.xml").unwrap();
    assert_eq!(reg.object(oid(3)).unwrap().name, "Old Device");
    assert_eq!(lwm2m_objects::registry().object(oid(3)).unwrap().name, "Device");
}

#[test]
fn same_validation_errors_as_the_generator() {
    let mut reg = DynamicRegistry::new();
    let bad = VENDOR.replace("Unsigned Integer", "Unsigned");
    let err = reg.load_str(&bad, "bad.xml").unwrap_err();
    assert_eq!(err, lwm2m_ddf::parse_str(&bad, "bad.xml").unwrap_err());
    assert!(matches!(err.kind(), DdfErrorKind::BadType { .. }));
    assert!(
        err.to_string()
            .starts_with("bad.xml:6:33: object 10500 \"Vendor Counter\", resource 0 \"Count\": unknown <Type>"),
        "{err}"
    );
    assert_eq!(reg.loaded().count(), 0);
    let dir = std::env::temp_dir().join(format!("lwm2m-objects-loader-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("10500.xml"), VENDOR).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a DDF").unwrap();
    assert_eq!(reg.load_dir(&dir).unwrap(), [oid(10500)]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(reg.load_file(dir.join("10500.xml")).unwrap_err().kind(), DdfErrorKind::Io { .. }));
}
