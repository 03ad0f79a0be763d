//! Shared test helpers: a small object model (Device 3, Access Control 2, Server 1,
//! Temperature 3303 per the OMA registry) and a synthetic object 9999 whose resource `r`
//! has data type `TYPES[r % 9]`, used by the property tests.
#![allow(dead_code, unreachable_pub)]

use std::borrow::Cow;

use lwm2m_core::{
    Cardinality, DataType, ModelSet, ObjectId, ObjectModel, Operations, ResourceId, ResourceModel, Version,
};

fn res(id: u16, name: &'static str, multiple: bool, data_type: DataType) -> ResourceModel {
    ResourceModel {
        id: ResourceId::new(id).unwrap(),
        name: Cow::Borrowed(name),
        operations: if data_type == DataType::None { Operations::E } else { Operations::RW },
        cardinality: if multiple { Cardinality::Multiple } else { Cardinality::Single },
        mandatory: false,
        data_type,
        range: Cow::Borrowed(""),
        units: Cow::Borrowed(""),
        description: Cow::Borrowed(""),
    }
}

fn object(id: u16, name: &'static str, resources: Vec<ResourceModel>) -> ObjectModel {
    ObjectModel {
        id: ObjectId::new(id).unwrap(),
        name: Cow::Borrowed(name),
        urn: Cow::Owned(format!("urn:oma:lwm2m:oma:{id}")),
        version: Version::V1_0,
        lwm2m_version: Version::V1_0,
        cardinality: Cardinality::Multiple,
        mandatory: false,
        resources: Cow::Owned(resources),
        description: Cow::Borrowed(""),
    }
}

/// The data types of object 9999's resources, by `id % 9`.
pub const TYPES: [DataType; 9] = [
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

pub fn model() -> ModelSet {
    use DataType::*;
    let mut set = ModelSet::new();
    set.insert(object(
        3,
        "Device",
        vec![
            res(0, "Manufacturer", false, String),
            res(1, "Model Number", false, String),
            res(2, "Serial Number", false, String),
            res(3, "Firmware Version", false, String),
            res(4, "Reboot", false, None),
            res(5, "Factory Reset", false, None),
            res(6, "Available Power Sources", true, Integer),
            res(7, "Power Source Voltage", true, Integer),
            res(8, "Power Source Current", true, Integer),
            res(9, "Battery Level", false, Integer),
            res(10, "Memory Free", false, Integer),
            res(11, "Error Code", true, Integer),
            res(12, "Reset Error Code", false, None),
            res(13, "Current Time", false, Time),
            res(14, "UTC Offset", false, String),
            res(15, "Timezone", false, String),
            res(16, "Supported Binding and Modes", false, String),
            res(17, "Device Type", false, String),
            res(18, "Hardware Version", false, String),
            res(19, "Software Version", false, String),
            res(20, "Battery Status", false, Integer),
            res(21, "Memory Total", false, Integer),
            res(22, "ExtDevInfo", true, Objlnk),
        ],
    ));
    set.insert(object(
        2,
        "LwM2M Access Control",
        vec![
            res(0, "Object ID", false, Integer),
            res(1, "Object Instance ID", false, Integer),
            res(2, "ACL", true, Integer),
            res(3, "Access Control Owner", false, Integer),
        ],
    ));
    set.insert(object(
        1,
        "LwM2M Server",
        vec![
            res(0, "Short Server ID", false, Integer),
            res(1, "Lifetime", false, Integer),
            res(6, "Notification Storing", false, Boolean),
            res(7, "Binding", false, String),
            res(10, "APN Link", false, Objlnk),
            res(11, "TLS-DTLS Alert Code", false, UnsignedInteger),
            res(12, "Last Bootstrapped", false, Time),
        ],
    ));
    set.insert(object(
        3303,
        "Temperature",
        vec![res(5700, "Sensor Value", false, Float), res(5701, "Units", false, String)],
    ));
    let synthetic = (0..64u16).map(|r| res(r, "synthetic", false, TYPES[usize::from(r % 9)])).collect();
    set.insert(object(9999, "Synthetic", synthetic));
    set
}

pub fn hex(s: &str) -> Vec<u8> {
    let clean: std::string::String = s.chars().filter(char::is_ascii_hexdigit).collect();
    (0..clean.len()).step_by(2).map(|i| u8::from_str_radix(&clean[i..i + 2], 16).unwrap()).collect()
}

pub fn path(s: &str) -> lwm2m_core::Path {
    s.parse().unwrap()
}
