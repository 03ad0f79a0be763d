//! The typed modules: a user implements `Device` and `FirmwareUpdate` in typed Rust and the
//! generated glue maps them to and from untyped values.

use std::collections::BTreeMap;

use lwm2m_objects::device::{self, Device};
use lwm2m_objects::firmware_update::{self, FirmwareUpdate};
use lwm2m_objects::lwm2m_core::{
    DataType, IdMap, InstanceId, Operations, ResourceId, ResourceInstanceId, ResourceValue, ResponseCode, Value,
};
use lwm2m_objects::typed::{ObjectError, ObjectInstance};
use lwm2m_objects::{security, server, temperature};

#[derive(Default)]
struct MyDevice {
    time: i64,
    reboots: u32,
}

impl Device for MyDevice {
    fn manufacturer(&self) -> Result<Option<String>, ObjectError> {
        Ok(Some("ACME".into()))
    }
    fn reboot(&mut self, args: &str) -> Result<(), ObjectError> {
        if !args.is_empty() {
            return Err(ObjectError::failed(ResponseCode::BadRequest, "Reboot takes no arguments"));
        }
        self.reboots += 1;
        Ok(())
    }
    fn error_code(&self) -> Result<BTreeMap<ResourceInstanceId, i64>, ObjectError> {
        Ok(BTreeMap::from([(ResourceInstanceId::new(0).unwrap(), 0)]))
    }
    fn current_time(&self) -> Result<Option<i64>, ObjectError> {
        Ok(Some(self.time))
    }
    fn set_current_time(&mut self, value: i64) -> Result<(), ObjectError> {
        self.time = value;
        Ok(())
    }
    fn supported_binding_and_modes(&self) -> Result<String, ObjectError> {
        Ok("UQ".into())
    }
}

#[test]
fn device_reads_writes_and_executes() {
    let mut dev = MyDevice::default();
    assert_eq!(device::read(&dev, device::MANUFACTURER), Ok(ResourceValue::Single(Value::String("ACME".into()))));
    assert_eq!(device::read(&dev, device::MODEL_NUMBER), Err(ObjectError::NotFound), "optional, not implemented");
    assert_eq!(device::read(&dev, device::REBOOT), Err(ObjectError::MethodNotAllowed), "executable");
    assert_eq!(device::read(&dev, ResourceId::new(999).unwrap()), Err(ObjectError::NotFound));
    // Time resources carry Time values; integers and text convert on write.
    device::write(&mut dev, device::CURRENT_TIME, ResourceValue::Single(Value::Integer(1_700_000_000))).unwrap();
    assert_eq!(device::read(&dev, device::CURRENT_TIME), Ok(ResourceValue::Single(Value::Time(1_700_000_000))));
    device::write(&mut dev, device::CURRENT_TIME, ResourceValue::Single(Value::from("5"))).unwrap();
    assert_eq!(dev.time, 5);
    let bad = device::write(&mut dev, device::CURRENT_TIME, ResourceValue::Single(Value::Boolean(true))).unwrap_err();
    assert!(matches!(bad, ObjectError::BadValue { resource, .. } if resource == device::CURRENT_TIME));
    assert_eq!(bad.response_code(), ResponseCode::BadRequest);
    let multi = device::write(&mut dev, device::CURRENT_TIME, ResourceValue::Multiple(IdMap::new())).unwrap_err();
    assert!(matches!(multi, ObjectError::BadValue { .. }));
    assert_eq!(
        device::write(&mut dev, device::MANUFACTURER, ResourceValue::Single(Value::from("x"))),
        Err(ObjectError::MethodNotAllowed),
        "read-only"
    );
    assert_eq!(
        device::write(&mut dev, device::UTC_OFFSET, ResourceValue::Single(Value::from("+01:00"))),
        Err(ObjectError::NotFound),
        "optional writable resource left at its default"
    );
    device::execute(&mut dev, device::REBOOT, "").unwrap();
    assert_eq!(dev.reboots, 1);
    assert_eq!(device::execute(&mut dev, device::REBOOT, "1").unwrap_err().response_code(), ResponseCode::BadRequest);
    assert_eq!(device::execute(&mut dev, device::FACTORY_RESET, ""), Err(ObjectError::NotFound));
    assert_eq!(device::execute(&mut dev, device::MANUFACTURER, ""), Err(ObjectError::MethodNotAllowed));
    let codes = device::read(&dev, device::ERROR_CODE).unwrap();
    assert_eq!(codes, ResourceValue::Multiple(IdMap::from([(ResourceInstanceId::new(0).unwrap(), Value::Integer(0))])));
}

#[test]
fn adapter_reads_whole_instances() {
    let adapter: Box<dyn ObjectInstance> = Box::new(device::Adapter(MyDevice::default()));
    assert_eq!(adapter.model().id, device::ID);
    let instance = adapter.read_all(InstanceId::new(0).unwrap()).unwrap();
    let ids: Vec<u16> = instance.resources.keys().map(|r| r.get()).collect();
    assert_eq!(ids, [0, 11, 13, 16], "implemented readable resources only");
}

#[test]
fn resource_enum_metadata() {
    use device::Resource;
    assert_eq!(Resource::ALL.len(), 23);
    assert_eq!(Resource::Manufacturer.id(), device::MANUFACTURER);
    assert_eq!(Resource::from_id(ResourceId::new(4).unwrap()), Some(Resource::Reboot));
    assert_eq!(Resource::from_id(ResourceId::new(40).unwrap()), None);
    assert_eq!(Resource::Reboot.operations(), Operations::E);
    assert!(Resource::Reboot.is_mandatory());
    assert!(Resource::ErrorCode.is_multiple());
    assert_eq!(Resource::CurrentTime.data_type(), DataType::Time);
    assert_eq!(Resource::SupportedBindingAndModes.to_string(), "Supported Binding and Modes");
    for r in Resource::ALL {
        assert_eq!(Resource::from_id(r.id()), Some(r));
        assert_eq!(r.model().id, r.id());
    }
    assert_eq!(device::model().name, "Device");
    assert_eq!(device::VERSION, device::model().version);
    assert_eq!(security::model().resources.len(), security::Resource::ALL.len());
    assert_eq!(server::Resource::from_id(server::LIFETIME), Some(server::Resource::Lifetime));
    assert_eq!(temperature::Resource::SensorValue.data_type(), DataType::Float);
}

/// A firmware updater that accepts pushed packages and reports its state machine.
#[derive(Default)]
struct Updater {
    package: Vec<u8>,
    uri: String,
    state: i64,
    result: i64,
}

impl FirmwareUpdate for Updater {
    fn set_package(&mut self, value: Vec<u8>) -> Result<(), ObjectError> {
        self.package = value;
        self.state = 2; // Downloaded
        Ok(())
    }
    fn package_uri(&self) -> Result<String, ObjectError> {
        Ok(self.uri.clone())
    }
    fn set_package_uri(&mut self, value: String) -> Result<(), ObjectError> {
        self.uri = value;
        Ok(())
    }
    fn update(&mut self, _args: &str) -> Result<(), ObjectError> {
        if self.state != 2 {
            return Err(ObjectError::failed(ResponseCode::MethodNotAllowed, "nothing downloaded"));
        }
        self.state = 0;
        self.result = 1; // success
        Ok(())
    }
    fn state(&self) -> Result<i64, ObjectError> {
        Ok(self.state)
    }
    fn update_result(&self) -> Result<i64, ObjectError> {
        Ok(self.result)
    }
    fn firmware_update_protocol_support(&self) -> Result<Option<BTreeMap<ResourceInstanceId, i64>>, ObjectError> {
        Ok(Some(BTreeMap::from([(ResourceInstanceId::new(0).unwrap(), 0)]))) // CoAP
    }
    fn firmware_update_delivery_method(&self) -> Result<i64, ObjectError> {
        Ok(1) // push only
    }
}

#[test]
fn firmware_update_flow() {
    let mut fw: Box<dyn ObjectInstance> = Box::new(firmware_update::Adapter(Updater::default()));
    assert_eq!(fw.execute(firmware_update::UPDATE, "").unwrap_err().response_code(), ResponseCode::MethodNotAllowed);
    assert_eq!(fw.read(firmware_update::PACKAGE), Err(ObjectError::MethodNotAllowed), "Package is write-only");
    fw.write(firmware_update::PACKAGE, ResourceValue::Single(Value::Opaque(vec![1, 2, 3]))).unwrap();
    assert_eq!(fw.read(firmware_update::STATE), Ok(ResourceValue::Single(Value::Integer(2))));
    fw.execute(firmware_update::UPDATE, "").unwrap();
    assert_eq!(fw.read(firmware_update::UPDATE_RESULT), Ok(ResourceValue::Single(Value::Integer(1))));
    fw.write(firmware_update::PACKAGE_URI, ResourceValue::Single(Value::from("coap://[::1]/fw"))).unwrap();
    let all = fw.read_all(InstanceId::new(0).unwrap()).unwrap();
    let ids: Vec<u16> = all.resources.keys().map(|r| r.get()).collect();
    assert_eq!(ids, [1, 3, 5, 8, 9]);
    assert_eq!(fw.execute(firmware_update::CANCEL, ""), Err(ObjectError::NotFound));
}
