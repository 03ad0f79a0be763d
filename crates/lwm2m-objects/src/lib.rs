//! The OMA LwM2M registry objects as Rust: a static model registry of all 325 registry
//! objects implementing [`lwm2m_core::ModelRegistry`], typed modules for the objects a
//! device uses most, and (feature `ddf`) run-time loading of vendor object definitions.
//!
//! # Design
//!
//! Everything here except [`typed`] and [`loader`] is **generated** by `cargo xtask codegen`
//! from the object definition files (DDF XML) of the OMA registry, with the
//! [`lwm2m-ddf`](https://docs.rs/lwm2m-ddf) generator that users' build scripts can call for
//! their own vendor objects. The generated code is committed; a test in `xtask` fails when
//! it is stale.
//!
//! - **Registry** — [`registry()`] returns the [`Registry`] of every object: id, name,
//!   URN, object and LwM2M versions, cardinality, mandatory flag, and every resource's
//!   id, name, operations, cardinality, mandatory flag, type, range/enumeration and units.
//!   It is plain `static` data (nothing is parsed at run time); a lookup is a binary search
//!   over [`OBJECTS`] (sorted by id), then over the object's resources. Descriptions are
//!   empty unless the `descriptions` feature is on (they are large).
//! - **Typed modules** — for objects 0 [`security`], 1 [`server`], 2 [`access_control`],
//!   3 [`device`], 4 [`connectivity_monitoring`], 5 [`firmware_update`], 6 [`location`],
//!   7 [`connectivity_statistics`], 9 [`software_management`], 10 [`cellular_connectivity`],
//!   19 [`binary_app_data_container`], 3303 [`temperature`] and 3311 [`light_control`].
//!   Each has resource-id constants, a `Resource` enum with metadata, a handler trait with
//!   one method per resource, and `read` / `write` / `execute` functions plus an `Adapter`
//!   that turn the typed trait into the untyped [`ObjectInstance`](typed::ObjectInstance)
//!   the client role drives.
//!
//! # Handler traits
//!
//! A trait such as [`device::Device`] stands for **one instance** of its object (the client
//! keeps the instances). Its methods follow the DDF:
//!
//! - a readable resource (`R`, `RW`) has a getter named after it (`manufacturer`), a
//!   writable one (`W`, `RW`) a setter (`set_current_time`), an executable one (`E`) a
//!   method taking the Execute arguments (`reboot(&mut self, args: &str)`);
//! - a resource with no operations (all of the Security object: only the Bootstrap
//!   interface reaches it) has both, since the bootstrap server writes it and the client
//!   reads it;
//! - types: String and Corelnk are `String`, Integer and Time `i64` (Time in Unix seconds),
//!   Unsigned Integer `u64`, Float `f64`, Boolean `bool`, Opaque `Vec<u8>`, Objlnk
//!   [`Objlnk`](lwm2m_core::Objlnk); a multiple-instance resource is a
//!   `BTreeMap<ResourceInstanceId, T>`;
//! - **mandatory** resources are required methods; **optional** ones have defaults, so an
//!   implementation only writes what it supports: an optional getter returns
//!   `Result<Option<T>, ObjectError>` with default `Ok(None)` ("this instance does not
//!   have the resource": omitted from instance reads, 4.04 for a direct read), optional
//!   setters and executables default to `Err(ObjectError::NotFound)`.
//!
//! ```
//! use lwm2m_objects::device::{self, Device};
//! use lwm2m_objects::typed::{ObjectError, ObjectInstance};
//! use lwm2m_objects::lwm2m_core::{InstanceId, ResourceInstanceId, ResourceValue, Value};
//! use std::collections::BTreeMap;
//!
//! struct MyDevice {
//!     rebooted: bool,
//! }
//!
//! impl Device for MyDevice {
//!     fn manufacturer(&self) -> Result<Option<String>, ObjectError> {
//!         Ok(Some("ACME".into()))
//!     }
//!     fn reboot(&mut self, _args: &str) -> Result<(), ObjectError> {
//!         self.rebooted = true;
//!         Ok(())
//!     }
//!     fn error_code(&self) -> Result<BTreeMap<ResourceInstanceId, i64>, ObjectError> {
//!         Ok(BTreeMap::from([(ResourceInstanceId::new(0).unwrap(), 0)]))
//!     }
//!     fn supported_binding_and_modes(&self) -> Result<String, ObjectError> {
//!         Ok("U".into())
//!     }
//! }
//!
//! let mut instance = device::Adapter(MyDevice { rebooted: false });
//! assert_eq!(instance.read(device::MANUFACTURER)?, ResourceValue::Single(Value::from("ACME")));
//! assert_eq!(instance.read(device::MODEL_NUMBER), Err(ObjectError::NotFound));
//! instance.execute(device::REBOOT, "")?;
//! assert!(instance.0.rebooted);
//! assert_eq!(instance.read_all(InstanceId::new(0).unwrap())?.resources.len(), 3);
//! # Ok::<(), ObjectError>(())
//! ```
//!
//! # Versions
//!
//! The registry holds the **latest** version of each object (e.g. Security 1.2 with 31
//! resources, Firmware Update 1.2). Older versions only lack optional resources or values,
//! so an application serving an older version implements fewer optional methods and
//! registers the object with the right `ver=`; [`device::VERSION`] and friends give the
//! generated version.
//!
//! # Vendor objects
//!
//! At build time, call `lwm2m_ddf::Generator` from a build script (see the
//! `vendor-object` example); at run time, enable feature `ddf` and use
//! [`loader::DynamicRegistry`], which extends [`registry()`] with definitions loaded from
//! files or strings, validated exactly as the generator validates them.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use lwm2m_core;

mod generated;
#[cfg(feature = "ddf")]
pub mod loader;
pub mod typed;

pub use generated::{
    OBJECT_COUNT, OBJECTS, RESOURCE_COUNT, Registry, access_control, binary_app_data_container, cellular_connectivity,
    connectivity_monitoring, connectivity_statistics, device, firmware_update, light_control, location, security,
    server, software_management, temperature,
};

static REGISTRY: Registry = Registry;

/// The static registry of every OMA registry object (see [`Registry`]).
///
/// ```
/// use lwm2m_objects::lwm2m_core::{DataType, ModelRegistry, ObjectId, ResourceId};
///
/// let manufacturer = lwm2m_objects::registry()
///     .resource(ObjectId::new(3).unwrap(), ResourceId::new(0).unwrap())
///     .unwrap();
/// assert_eq!(manufacturer.name, "Manufacturer");
/// assert_eq!(manufacturer.data_type, DataType::String);
/// ```
pub fn registry() -> &'static Registry {
    &REGISTRY
}
