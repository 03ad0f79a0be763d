//! The build-script path end to end: generated model, typed trait, dispatch glue, and
//! agreement with the run-time loader on the same XML.

use lwm2m_objects::lwm2m_core::{
    DataType, InstanceId, ModelRegistry, ObjectId, Operations, ResourceId, ResourceInstanceId, ResourceValue, Value,
};
use lwm2m_objects::typed::{ObjectError, ObjectInstance};
use vendor_object::{Lamp, OBJECTS, Registry, acme_lamp};

#[test]
fn generated_model_matches_the_xml() {
    let model = acme_lamp::model();
    assert_eq!((model.id.get(), &*model.name), (32800, "ACME Lamp"));
    assert_eq!(model.description, "A dimmable lamp with a usage log.", "descriptions inline by default");
    assert_eq!((OBJECTS.len(), vendor_object::OBJECT_COUNT, vendor_object::RESOURCE_COUNT), (1, 1, 5));
    let dimmer = Registry.resource(acme_lamp::ID, acme_lamp::DIMMER).unwrap();
    assert_eq!((dimmer.operations, dimmer.data_type, &*dimmer.range), (Operations::RW, DataType::Integer, "0..100"));
    assert_eq!(acme_lamp::Resource::BurnHours.data_type(), DataType::Float);
    assert!(acme_lamp::Resource::BurnHours.is_multiple());
    assert_eq!(acme_lamp::Resource::OnOff.name(), "On/Off");
    // The combined registry knows the vendor object and the OMA ones.
    let all = vendor_object::registry();
    assert!(all.object(ObjectId::new(32800).unwrap()).is_some());
    assert_eq!(all.object(ObjectId::new(3).unwrap()).unwrap().name, "Device");
}

#[test]
fn runtime_loader_agrees_with_the_build_script() {
    let xml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/ddf/acme-lamp.xml")).unwrap();
    let mut loaded = lwm2m_objects::loader::DynamicRegistry::new();
    loaded.load_str(&xml, "acme-lamp.xml").unwrap();
    assert_eq!(loaded.object(acme_lamp::ID).unwrap(), acme_lamp::model());
}

#[test]
fn typed_handler_through_the_glue() {
    let mut lamp = acme_lamp::Adapter(Lamp { burn_hours: vec![1.5, 20.0], ..Lamp::default() });
    lamp.write(acme_lamp::ON_OFF, ResourceValue::Single(Value::Boolean(true))).unwrap();
    assert!(lamp.0.on);
    lamp.write(acme_lamp::DIMMER, ResourceValue::Single(Value::Integer(40))).unwrap();
    let err = lamp.write(acme_lamp::DIMMER, ResourceValue::Single(Value::Integer(140))).unwrap_err();
    assert!(matches!(err, ObjectError::BadValue { .. }));
    assert_eq!(lamp.0.dimmer, 40);
    lamp.execute(acme_lamp::BLINK, "0='3'").unwrap();
    lamp.execute(acme_lamp::BLINK, "").unwrap();
    assert_eq!(lamp.0.blinks, 4);
    assert!(lamp.execute(acme_lamp::BLINK, "x").is_err());
    assert_eq!(lamp.read(acme_lamp::SERIAL), Err(ObjectError::NotFound), "optional, not implemented");
    let ResourceValue::Multiple(hours) = lamp.read(acme_lamp::BURN_HOURS).unwrap() else {
        panic!("Burn Hours is a multiple-instance resource")
    };
    assert_eq!(hours.get(&ResourceInstanceId::new(1).unwrap()), Some(&Value::Float(20.0)));
    assert_eq!(hours.len(), 2);
    let instance = lamp.read_all(InstanceId::new(0).unwrap()).unwrap();
    assert_eq!(instance.resources.keys().map(|r| r.get()).collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(lamp.read(ResourceId::new(9).unwrap()), Err(ObjectError::NotFound));
}
