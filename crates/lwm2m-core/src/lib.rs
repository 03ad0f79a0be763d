//! The LwM2M resource model: the vocabulary every other crate of the SDK speaks.
//!
//! `lwm2m-core` sits at the bottom of the layering
//! (`core -> codec -> transport -> client / server / bootstrap -> cli`). It knows nothing
//! about bytes on the wire or sockets; it defines *what* is exchanged:
//!
//! - [`id`]: the 16-bit identifiers of objects, instances, resources and resource
//!   instances, and the Short Server ID.
//! - [`path`]: LwM2M paths (`/3/0/1/2`), their ordering and prefix relations, and the
//!   alternate root path a client may register (`/lwm2m`).
//! - [`value`]: the LwM2M data types and a [`Value`] carrying one of them, with checked
//!   conversions; [`text`]: [`Text`], the small-string type of String and Corelnk values.
//! - [`id_map`]: [`IdMap`], the sorted-vector map from ids to children the node tree uses.
//! - [`node`]: the node tree ([`Object`] > [`Instance`] > [`Resource`] > resource instances)
//!   that Read returns and Write carries, plus timestamped values for notifications and Send.
//! - [`model`]: object-model metadata ([`ObjectModel`], [`ResourceModel`]) and the
//!   [`ModelRegistry`] lookup trait that codecs and roles use to type values; the
//!   `lwm2m-objects` crate implements it from the OMA registry.
//! - [`attributes`]: notification attributes (`pmin pmax gt lt st epmin epmax edge con
//!   hqmax`) in their query-string form, with the consistency rules of the specification.
//! - [`binding`], [`version`], [`operation`], [`code`], [`content_format`]: binding modes,
//!   enabler versions, interface operations, response codes and content-format numbers.
//!
//! # Example
//!
//! ```
//! use lwm2m_core::{Instance, InstanceId, Node, Path, Resource, ResourceId, Value};
//!
//! // A Device object instance with a Manufacturer and a Battery Level.
//! let device = Instance::new(InstanceId::new(0).unwrap())
//!     .with(Resource::single(ResourceId::new(0).unwrap(), "ACME"))
//!     .with(Resource::single(ResourceId::new(9).unwrap(), Value::Integer(95)));
//! let node = Node::Instance(device);
//!
//! // Flatten it into (path, value) records, as SenML carries them.
//! let at: Path = "/3/0".parse()?;
//! let entries = node.to_entries(&at)?;
//! assert_eq!(entries[1].0.to_string(), "/3/0/9");
//! assert_eq!(entries[1].1.as_i64(), Some(95));
//! # Ok::<(), lwm2m_core::Error>(())
//! ```
//!
//! # Errors
//!
//! Every parser returns a typed, `#[non_exhaustive]` error naming the offending input and
//! the rule it broke; [`Error`] gathers them for callers that do not care which one. No
//! function of this crate panics on untrusted input.
//!
//! # `no_std`
//!
//! The crate is `#![no_std]` with `alloc` when the default `std` feature is disabled:
//! `cargo build -p lwm2m-core --no-default-features`.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;

pub mod attributes;
pub mod binding;
pub mod code;
pub mod content_format;
pub mod error;
pub mod id;
pub mod id_map;
pub mod model;
pub mod node;
pub mod operation;
pub mod path;
pub mod text;
pub mod value;
pub mod version;

pub use attributes::{Attribute, AttributeName, NotificationAttributes};
pub use binding::{BindingMode, Transport};
pub use code::ResponseCode;
pub use content_format::ContentFormat;
pub use error::Error;
pub use id::{InstanceId, ObjectId, ResourceId, ResourceInstanceId, ShortServerId};
pub use id_map::IdMap;
pub use model::{Cardinality, ModelRegistry, ModelSet, NoModel, ObjectModel, Operations, ResourceModel};
pub use node::{Instance, Node, Object, Resource, ResourceValue, Timestamp, TimestampedNode};
pub use operation::{Method, Operation};
pub use path::{AlternateRoot, Path, PathLevel};
pub use text::Text;
pub use value::{DataType, Objlnk, Value};
pub use version::{LwM2mVersion, Version};
