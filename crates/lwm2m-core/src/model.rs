//! Object-model metadata: what an object definition (DDF) says about an object and its
//! resources, and the [`ModelRegistry`] lookup that codecs and roles use to type values.
//!
//! The types hold `Cow<'static, _>` so that the generated registry of `lwm2m-objects` can
//! be plain `static` data while models loaded at run time (vendor XML) own their strings.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use core::fmt;
use core::str::FromStr;

use crate::error::CodeError;
use crate::id::{ObjectId, ResourceId};
use crate::value::DataType;
use crate::version::Version;

/// The operations a resource allows, as in the DDF `<Operations>` element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Operations {
    /// Read (and Observe, Write-Attributes).
    pub read: bool,
    /// Write.
    pub write: bool,
    /// Execute.
    pub execute: bool,
}

impl Operations {
    /// No operation: reachable only by bootstrap (e.g. every Security resource).
    pub const NONE: Operations = Operations { read: false, write: false, execute: false };
    /// `R`
    pub const R: Operations = Operations { read: true, write: false, execute: false };
    /// `W`
    pub const W: Operations = Operations { read: false, write: true, execute: false };
    /// `RW`
    pub const RW: Operations = Operations { read: true, write: true, execute: false };
    /// `E`
    pub const E: Operations = Operations { read: false, write: false, execute: true };

    /// The DDF text (`"R"`, `"RW"`, `"E"`, `""`...).
    pub const fn as_str(self) -> &'static str {
        match (self.read, self.write, self.execute) {
            (false, false, false) => "",
            (true, false, false) => "R",
            (false, true, false) => "W",
            (true, true, false) => "RW",
            (false, false, true) => "E",
            (true, false, true) => "RE",
            (false, true, true) => "WE",
            (true, true, true) => "RWE",
        }
    }

    /// True for an executable resource.
    pub const fn is_executable(self) -> bool {
        self.execute
    }
}

impl FromStr for Operations {
    type Err = CodeError;

    /// Parses the DDF forms `R`, `W`, `RW`, `E` and empty (surrounding whitespace ignored).
    fn from_str(s: &str) -> Result<Self, CodeError> {
        match s.trim() {
            "" => Ok(Operations::NONE),
            "R" => Ok(Operations::R),
            "W" => Ok(Operations::W),
            "RW" => Ok(Operations::RW),
            "E" => Ok(Operations::E),
            _ => Err(CodeError::InvalidOperations { input: s.into() }),
        }
    }
}

impl fmt::Display for Operations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Single or multiple instances (of an object or a resource).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cardinality {
    /// Exactly one instance (objects: always instance 0).
    Single,
    /// Any number of instances.
    Multiple,
}

impl Cardinality {
    /// True for [`Cardinality::Multiple`].
    pub const fn is_multiple(self) -> bool {
        matches!(self, Cardinality::Multiple)
    }
}

/// Metadata of one resource of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceModel {
    /// Resource id.
    pub id: ResourceId,
    /// Name, e.g. `"Manufacturer"`.
    pub name: Cow<'static, str>,
    /// Allowed operations.
    pub operations: Operations,
    /// Single or multiple instances.
    pub cardinality: Cardinality,
    /// Whether the resource is mandatory.
    pub mandatory: bool,
    /// Data type (`None` for executable resources).
    pub data_type: DataType,
    /// The DDF range or enumeration text (e.g. `"0..255"`), empty when none.
    pub range: Cow<'static, str>,
    /// Units (e.g. `"s"`, `"Cel"`), empty when none.
    pub units: Cow<'static, str>,
    /// Description text; may be empty when descriptions are not compiled in.
    pub description: Cow<'static, str>,
}

impl ResourceModel {
    /// True for a multiple-instance resource.
    pub const fn is_multiple(&self) -> bool {
        self.cardinality.is_multiple()
    }
}

/// Metadata of one object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectModel {
    /// Object id.
    pub id: ObjectId,
    /// Name, e.g. `"Device"`.
    pub name: Cow<'static, str>,
    /// URN, e.g. `"urn:oma:lwm2m:oma:3:1.2"`.
    pub urn: Cow<'static, str>,
    /// Object version (1.0 when the DDF gives none).
    pub version: Version,
    /// LwM2M enabler version the definition targets.
    pub lwm2m_version: Version,
    /// Single or multiple instances.
    pub cardinality: Cardinality,
    /// Whether a client must implement the object.
    pub mandatory: bool,
    /// Resources, **sorted by id** (lookups use binary search).
    pub resources: Cow<'static, [ResourceModel]>,
    /// Description text; may be empty when descriptions are not compiled in.
    pub description: Cow<'static, str>,
}

impl ObjectModel {
    /// The resource with `id`, if the object defines it.
    pub fn resource(&self, id: ResourceId) -> Option<&ResourceModel> {
        self.resources.binary_search_by_key(&id, |r| r.id).ok().map(|i| &self.resources[i])
    }

    /// True for a multiple-instance object.
    pub const fn is_multiple(&self) -> bool {
        self.cardinality.is_multiple()
    }
}

/// Looks up object models by id. Codecs use it to type values of formats that carry no
/// types (TLV, opaque bytes); roles use it to validate operations.
///
/// Implemented by the generated registry of `lwm2m-objects`, by [`ModelSet`], and by
/// references, boxes and `Arc`s of implementors.
pub trait ModelRegistry {
    /// The model of object `id`, if known.
    fn object(&self, id: ObjectId) -> Option<&ObjectModel>;

    /// The model of resource `resource` of object `object`, if known.
    fn resource(&self, object: ObjectId, resource: ResourceId) -> Option<&ResourceModel> {
        self.object(object).and_then(|o| o.resource(resource))
    }
}

impl<T: ModelRegistry + ?Sized> ModelRegistry for &T {
    fn object(&self, id: ObjectId) -> Option<&ObjectModel> {
        (**self).object(id)
    }
}

impl<T: ModelRegistry + ?Sized> ModelRegistry for Box<T> {
    fn object(&self, id: ObjectId) -> Option<&ObjectModel> {
        (**self).object(id)
    }
}

impl<T: ModelRegistry + ?Sized> ModelRegistry for Arc<T> {
    fn object(&self, id: ObjectId) -> Option<&ObjectModel> {
        (**self).object(id)
    }
}

/// A registry that knows no object: everything decodes untyped (opaque) where a format
/// needs a model.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoModel;

impl ModelRegistry for NoModel {
    fn object(&self, _id: ObjectId) -> Option<&ObjectModel> {
        None
    }
}

/// An owned, growable registry; later inserts replace earlier ones with the same id.
/// Lookups in a [`ModelSet`] fall back to an optional parent registry, so run-time
/// (vendor) models can extend a static one.
#[derive(Default)]
pub struct ModelSet {
    objects: BTreeMap<ObjectId, ObjectModel>,
    parent: Option<Box<dyn ModelRegistry + Send + Sync>>,
}

impl ModelSet {
    /// An empty set.
    pub fn new() -> Self {
        ModelSet::default()
    }

    /// An empty set that falls back to `parent` for ids it does not hold.
    pub fn with_parent(parent: impl ModelRegistry + Send + Sync + 'static) -> Self {
        ModelSet { objects: BTreeMap::new(), parent: Some(Box::new(parent)) }
    }

    /// Adds or replaces an object model; returns the one it replaced.
    pub fn insert(&mut self, model: ObjectModel) -> Option<ObjectModel> {
        self.objects.insert(model.id, model)
    }

    /// The models held directly (not the parent's), in id order.
    pub fn iter(&self) -> impl Iterator<Item = &ObjectModel> {
        self.objects.values()
    }

    /// Number of models held directly.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// True when no model is held directly.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

impl fmt::Debug for ModelSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelSet")
            .field("objects", &self.objects.keys().collect::<alloc::vec::Vec<_>>())
            .field("has_parent", &self.parent.is_some())
            .finish()
    }
}

impl ModelRegistry for ModelSet {
    fn object(&self, id: ObjectId) -> Option<&ObjectModel> {
        self.objects.get(&id).or_else(|| self.parent.as_ref().and_then(|p| p.object(id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESOURCES: &[ResourceModel] = &[
        ResourceModel {
            id: ResourceId::new(0).unwrap(),
            name: Cow::Borrowed("Manufacturer"),
            operations: Operations::R,
            cardinality: Cardinality::Single,
            mandatory: false,
            data_type: DataType::String,
            range: Cow::Borrowed(""),
            units: Cow::Borrowed(""),
            description: Cow::Borrowed(""),
        },
        ResourceModel {
            id: ResourceId::new(4).unwrap(),
            name: Cow::Borrowed("Reboot"),
            operations: Operations::E,
            cardinality: Cardinality::Single,
            mandatory: true,
            data_type: DataType::None,
            range: Cow::Borrowed(""),
            units: Cow::Borrowed(""),
            description: Cow::Borrowed(""),
        },
    ];

    /// A static model is constructible in const context, as generated code needs.
    static DEVICE: ObjectModel = ObjectModel {
        id: ObjectId::new(3).unwrap(),
        name: Cow::Borrowed("Device"),
        urn: Cow::Borrowed("urn:oma:lwm2m:oma:3"),
        version: Version::V1_0,
        lwm2m_version: Version::V1_0,
        cardinality: Cardinality::Single,
        mandatory: true,
        resources: Cow::Borrowed(RESOURCES),
        description: Cow::Borrowed(""),
    };

    struct Static;
    impl ModelRegistry for Static {
        fn object(&self, id: ObjectId) -> Option<&ObjectModel> {
            (id == DEVICE.id).then_some(&DEVICE)
        }
    }

    #[test]
    fn lookups() {
        let o3 = ObjectId::new(3).unwrap();
        assert_eq!(Static.resource(o3, ResourceId::new(4).unwrap()).unwrap().name, "Reboot");
        assert!(Static.resource(o3, ResourceId::new(1).unwrap()).is_none());
        assert!(NoModel.object(o3).is_none());

        let mut set = ModelSet::with_parent(Static);
        assert_eq!(set.object(o3).unwrap().name, "Device");
        let mut vendor = DEVICE.clone();
        vendor.id = ObjectId::new(10_300).unwrap();
        vendor.name = Cow::Owned("Vendor".into());
        set.insert(vendor);
        assert_eq!(set.len(), 1);
        assert_eq!(set.object(ObjectId::new(10_300).unwrap()).unwrap().name, "Vendor");
        let by_ref: &dyn ModelRegistry = &set;
        assert!(by_ref.object(o3).is_some());
    }

    #[test]
    fn operations_text() {
        for s in ["", "R", "W", "RW", "E"] {
            assert_eq!(s.parse::<Operations>().unwrap().as_str(), s);
        }
        assert!(" RW ".parse::<Operations>().unwrap().write);
        assert!("X".parse::<Operations>().is_err());
    }
}
