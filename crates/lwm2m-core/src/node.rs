//! The node tree: what a Read returns and a Write carries.
//!
//! ```text
//! Object (/3) ─┬─ Instance (/3/0) ─┬─ Resource (/3/0/0)   Single(Value)
//!              │                   └─ Resource (/3/0/7)   Multiple { 0: Value, 1: Value }
//!              └─ Instance (/3/1) ...
//! ```
//!
//! Children are kept in [`IdMap`]s (sorted vectors) keyed by id, so iteration is always in
//! id order and encoders are deterministic, and a decoded instance costs one allocation for
//! its resources plus one per multiple resource. Content formats that carry flat records (SenML, LwM2M JSON)
//! convert with [`Node::to_entries`] and [`Node::from_entries`].

use alloc::string::ToString;
use alloc::vec::Vec;
use core::cmp::Ordering;
use core::fmt;

use crate::error::{NodeError, ValueError};
use crate::id::{InstanceId, ObjectId, ResourceId, ResourceInstanceId};
use crate::id_map::IdMap;
use crate::path::{Path, PathLevel};
use crate::value::Value;

/// An object and the instances of it that a response carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// The object id.
    pub id: ObjectId,
    /// Its instances, by id.
    pub instances: IdMap<InstanceId, Instance>,
}

impl Object {
    /// An object with no instances.
    pub fn new(id: ObjectId) -> Self {
        Object { id, instances: IdMap::new() }
    }

    /// Adds (or replaces) an instance, keyed by its own id.
    pub fn insert(&mut self, instance: Instance) -> Option<Instance> {
        self.instances.insert(instance.id, instance)
    }

    /// Builder form of [`Object::insert`].
    #[must_use]
    pub fn with(mut self, instance: Instance) -> Self {
        self.insert(instance);
        self
    }
}

/// An object instance and its resources.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// The instance id.
    pub id: InstanceId,
    /// Its resources, by id.
    pub resources: IdMap<ResourceId, Resource>,
}

impl Instance {
    /// An instance with no resources.
    pub fn new(id: InstanceId) -> Self {
        Instance { id, resources: IdMap::new() }
    }

    /// Adds (or replaces) a resource, keyed by its own id.
    pub fn insert(&mut self, resource: Resource) -> Option<Resource> {
        self.resources.insert(resource.id, resource)
    }

    /// Builder form of [`Instance::insert`].
    #[must_use]
    pub fn with(mut self, resource: Resource) -> Self {
        self.insert(resource);
        self
    }

    /// The resource with `id`, if present.
    pub fn resource(&self, id: ResourceId) -> Option<&Resource> {
        self.resources.get(&id)
    }
}

/// A resource: one value, or a set of resource instances.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The resource id.
    pub id: ResourceId,
    /// Its value(s).
    pub value: ResourceValue,
}

impl Resource {
    /// A single-instance resource.
    pub fn single(id: ResourceId, value: impl Into<Value>) -> Self {
        Resource { id, value: ResourceValue::Single(value.into()) }
    }

    /// A multiple-instance resource.
    pub fn multiple(id: ResourceId, instances: impl IntoIterator<Item = (ResourceInstanceId, Value)>) -> Self {
        Resource { id, value: ResourceValue::Multiple(instances.into_iter().collect()) }
    }

    /// True for a multiple-instance resource.
    pub fn is_multiple(&self) -> bool {
        matches!(self.value, ResourceValue::Multiple(_))
    }

    /// The value of a single-instance resource.
    pub fn as_single(&self) -> Option<&Value> {
        match &self.value {
            ResourceValue::Single(v) => Some(v),
            ResourceValue::Multiple(_) => None,
        }
    }

    /// The instances of a multiple-instance resource.
    pub fn as_multiple(&self) -> Option<&IdMap<ResourceInstanceId, Value>> {
        match &self.value {
            ResourceValue::Single(_) => None,
            ResourceValue::Multiple(m) => Some(m),
        }
    }
}

/// The content of a [`Resource`].
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceValue {
    /// A single-instance resource's value.
    Single(Value),
    /// A multiple-instance resource's instances (possibly none).
    Multiple(IdMap<ResourceInstanceId, Value>),
}

/// Any node of the tree: what lives at one path.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// An object (`/o`).
    Object(Object),
    /// An object instance (`/o/i`).
    Instance(Instance),
    /// A resource (`/o/i/r`).
    Resource(Resource),
    /// One instance of a multiple-instance resource (`/o/i/r/ri`).
    ResourceInstance {
        /// The resource instance id.
        id: ResourceInstanceId,
        /// Its value.
        value: Value,
    },
}

impl Node {
    /// The level at which this node lives.
    pub fn level(&self) -> PathLevel {
        match self {
            Node::Object(_) => PathLevel::Object,
            Node::Instance(_) => PathLevel::Instance,
            Node::Resource(_) => PathLevel::Resource,
            Node::ResourceInstance { .. } => PathLevel::ResourceInstance,
        }
    }

    /// The node's own id (last segment of its path).
    pub fn id(&self) -> u16 {
        match self {
            Node::Object(o) => o.id.get(),
            Node::Instance(i) => i.id.get(),
            Node::Resource(r) => r.id.get(),
            Node::ResourceInstance { id, .. } => id.get(),
        }
    }

    /// Flattens the node at `path` into `(path, value)` entries in path order. `path` must
    /// be the node's own path (its level and last id must match), else an error is returned.
    ///
    /// A multiple-instance resource with no instances yields no entry.
    pub fn to_entries(&self, path: &Path) -> Result<Vec<(Path, &Value)>, NodeError> {
        if path.level() != self.level() || path.ids().last().copied() != Some(self.id()) {
            return Err(NodeError::UnexpectedKind { expected: path.level().name(), found: self.level().name() });
        }
        let mut out = Vec::new();
        match self {
            Node::Object(o) => {
                for inst in o.instances.values() {
                    push_instance(&mut out, path, inst);
                }
            }
            Node::Instance(i) => {
                let parent = path.parent().unwrap_or(Path::ROOT);
                push_instance(&mut out, &parent, i);
            }
            Node::Resource(r) => {
                let parent = path.parent().unwrap_or(Path::ROOT);
                push_resource(&mut out, &parent, r);
            }
            Node::ResourceInstance { value, .. } => out.push((*path, value)),
        }
        Ok(out)
    }

    /// Builds the node at `requested` from flat `(path, value)` entries, as decoded from a
    /// SenML or LwM2M JSON payload. Every entry must lie at or below `requested` and carry a
    /// value at resource or resource-instance level; a resource is multiple exactly when its
    /// entries are at resource-instance level. An object or instance request with no entries
    /// gives an empty node; a resource request with none is an error.
    pub fn from_entries<I>(requested: &Path, entries: I) -> Result<Node, NodeError>
    where
        I: IntoIterator<Item = (Path, Value)>,
    {
        let requested_s = || requested.to_string();
        let mut object: Option<Object> = None;
        let mut instance: Option<Instance> = None;
        let mut resource_instance: Option<(ResourceInstanceId, Value)> = None;
        match requested.level() {
            PathLevel::Root => return Err(NodeError::NotSingleNode { requested: requested_s() }),
            PathLevel::Object => object = requested.object_id().map(Object::new),
            PathLevel::Instance => instance = requested.instance_id().map(Instance::new),
            PathLevel::Resource | PathLevel::ResourceInstance => {}
        }
        for (path, value) in entries {
            if !requested.contains(&path) {
                return Err(NodeError::OutsideRequestedPath { requested: requested_s(), entry: path.to_string() });
            }
            let no_value = || NodeError::NoValueAtLevel { path: path.to_string() };
            if path.depth() < 3 {
                return Err(no_value());
            }
            match requested.level() {
                PathLevel::Object => {
                    let obj = object.get_or_insert_with(|| Object::new(ObjectId::MAX));
                    let iid = path.instance_id().ok_or_else(no_value)?;
                    let inst = obj.instances.get_or_insert_with(iid, || Instance::new(iid));
                    insert_into_instance(inst, &path, value)?;
                }
                PathLevel::ResourceInstance => {
                    if resource_instance.is_some() {
                        return Err(NodeError::Duplicate { path: path.to_string() });
                    }
                    let riid = path.resource_instance_id().ok_or_else(no_value)?;
                    resource_instance = Some((riid, value));
                }
                // Instance and Resource requests accumulate into one instance; for a
                // resource request every entry is under that one resource.
                PathLevel::Root | PathLevel::Instance | PathLevel::Resource => {
                    let inst = instance.get_or_insert_with(|| Instance::new(InstanceId::MAX));
                    insert_into_instance(inst, &path, value)?;
                }
            }
        }
        match requested.level() {
            PathLevel::Object => object.map(Node::Object),
            PathLevel::Instance => instance.map(Node::Instance),
            PathLevel::Resource => instance
                .and_then(|mut i| requested.resource_id().and_then(|r| i.resources.remove(&r)))
                .map(Node::Resource),
            PathLevel::ResourceInstance => resource_instance.map(|(id, value)| Node::ResourceInstance { id, value }),
            PathLevel::Root => None,
        }
        .ok_or_else(|| NodeError::NotSingleNode { requested: requested_s() })
    }
}

fn insert_into_instance(inst: &mut Instance, path: &Path, value: Value) -> Result<(), NodeError> {
    let Some(rid) = path.resource_id() else {
        return Err(NodeError::NoValueAtLevel { path: path.to_string() });
    };
    match path.resource_instance_id() {
        None => {
            if let Some(existing) = inst.resources.get(&rid) {
                return Err(if existing.is_multiple() {
                    NodeError::MixedResource { path: path.to_string() }
                } else {
                    NodeError::Duplicate { path: path.to_string() }
                });
            }
            inst.insert(Resource::single(rid, value));
        }
        Some(riid) => {
            let res = inst.resources.get_or_insert_with(rid, || Resource::multiple(rid, []));
            match &mut res.value {
                ResourceValue::Single(_) => {
                    return Err(NodeError::MixedResource { path: path.parent().unwrap_or(Path::ROOT).to_string() });
                }
                ResourceValue::Multiple(m) => {
                    if m.try_insert(riid, value).is_err() {
                        return Err(NodeError::Duplicate { path: path.to_string() });
                    }
                }
            }
        }
    }
    Ok(())
}

fn push_instance<'a>(out: &mut Vec<(Path, &'a Value)>, object_path: &Path, inst: &'a Instance) {
    let Some(ipath) = object_path.child(inst.id.get()) else { return };
    for res in inst.resources.values() {
        push_resource(out, &ipath, res);
    }
}

fn push_resource<'a>(out: &mut Vec<(Path, &'a Value)>, instance_path: &Path, res: &'a Resource) {
    let Some(rpath) = instance_path.child(res.id.get()) else { return };
    match &res.value {
        ResourceValue::Single(v) => out.push((rpath, v)),
        ResourceValue::Multiple(m) => {
            for (riid, v) in m {
                if let Some(p) = rpath.child(riid.get()) {
                    out.push((p, v));
                }
            }
        }
    }
}

impl From<Object> for Node {
    fn from(v: Object) -> Self {
        Node::Object(v)
    }
}
impl From<Instance> for Node {
    fn from(v: Instance) -> Self {
        Node::Instance(v)
    }
}
impl From<Resource> for Node {
    fn from(v: Resource) -> Self {
        Node::Resource(v)
    }
}

/// A point in time attached to a value: seconds since the Unix epoch, possibly fractional
/// (SenML `t`/`bt`, LwM2M JSON `t`). Always finite.
#[derive(Clone, Copy, PartialEq)]
pub struct Timestamp(f64);

impl Timestamp {
    /// A timestamp from whole seconds.
    pub fn from_secs(secs: i64) -> Self {
        Timestamp(secs as f64)
    }

    /// A timestamp from (possibly fractional) seconds; refuses NaN and infinities.
    pub fn from_secs_f64(secs: f64) -> Result<Self, ValueError> {
        if secs.is_finite() { Ok(Timestamp(secs)) } else { Err(ValueError::NotFinite { what: "timestamp" }) }
    }

    /// Seconds since the epoch.
    pub fn as_secs_f64(self) -> f64 {
        self.0
    }
}

impl Eq for Timestamp {}

impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A node at a path, with the time its value was taken: one element of a notification or
/// Send payload carrying a time series.
#[derive(Debug, Clone, PartialEq)]
pub struct TimestampedNode {
    /// When the value was measured; `None` means "now" / not stated.
    pub timestamp: Option<Timestamp>,
    /// The path of `node`.
    pub path: Path,
    /// The node.
    pub node: Node,
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn oid(v: u16) -> ObjectId {
        ObjectId::new(v).unwrap()
    }
    fn iid(v: u16) -> InstanceId {
        InstanceId::new(v).unwrap()
    }
    fn rid(v: u16) -> ResourceId {
        ResourceId::new(v).unwrap()
    }
    fn riid(v: u16) -> ResourceInstanceId {
        ResourceInstanceId::new(v).unwrap()
    }
    fn p(s: &str) -> Path {
        s.parse().unwrap()
    }

    fn device() -> Instance {
        Instance::new(iid(0))
            .with(Resource::single(rid(0), "ACME"))
            .with(Resource::multiple(rid(7), [(riid(0), Value::Integer(3800)), (riid(1), Value::Integer(5000))]))
            .with(Resource::single(rid(9), Value::Integer(95)))
    }

    #[test]
    fn flatten_and_rebuild_instance() {
        let node = Node::Instance(device());
        let entries = node.to_entries(&p("/3/0")).unwrap();
        let paths: Vec<_> = entries.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(paths, ["/3/0/0", "/3/0/7/0", "/3/0/7/1", "/3/0/9"]);
        let rebuilt = Node::from_entries(&p("/3/0"), entries.into_iter().map(|(p, v)| (p, v.clone()))).unwrap();
        assert_eq!(rebuilt, node);
    }

    #[test]
    fn flatten_and_rebuild_object_and_resource() {
        let node = Node::Object(
            Object::new(oid(3)).with(device()).with(Instance::new(iid(1)).with(Resource::single(rid(0), "B"))),
        );
        let entries: Vec<_> = node.to_entries(&p("/3")).unwrap().into_iter().map(|(p, v)| (p, v.clone())).collect();
        assert_eq!(entries.len(), 5);
        assert_eq!(Node::from_entries(&p("/3"), entries).unwrap(), node);

        let res = Node::Resource(Resource::multiple(rid(7), [(riid(3), Value::Integer(1))]));
        let entries: Vec<_> = res.to_entries(&p("/3/0/7")).unwrap().into_iter().map(|(p, v)| (p, v.clone())).collect();
        assert_eq!(Node::from_entries(&p("/3/0/7"), entries).unwrap(), res);

        let single = Node::Resource(Resource::single(rid(9), Value::Integer(1)));
        assert_eq!(Node::from_entries(&p("/3/0/9"), [(p("/3/0/9"), Value::Integer(1))]).unwrap(), single);

        let ri = Node::from_entries(&p("/3/0/7/1"), [(p("/3/0/7/1"), Value::Integer(1))]).unwrap();
        assert_eq!(ri, Node::ResourceInstance { id: riid(1), value: Value::Integer(1) });
    }

    #[test]
    fn empty_object_and_instance() {
        assert_eq!(Node::from_entries(&p("/3"), []).unwrap(), Node::Object(Object::new(oid(3))));
        assert_eq!(Node::from_entries(&p("/3/1"), []).unwrap(), Node::Instance(Instance::new(iid(1))));
        assert!(matches!(Node::from_entries(&p("/3/0/1"), []), Err(NodeError::NotSingleNode { .. })));
        assert!(matches!(Node::from_entries(&Path::ROOT, []), Err(NodeError::NotSingleNode { .. })));
    }

    #[test]
    fn entry_errors() {
        let v = || Value::Integer(1);
        assert!(matches!(
            Node::from_entries(&p("/3/0"), [(p("/4/0/1"), v())]),
            Err(NodeError::OutsideRequestedPath { .. })
        ));
        assert!(matches!(Node::from_entries(&p("/3"), [(p("/3/0"), v())]), Err(NodeError::NoValueAtLevel { .. })));
        assert!(matches!(
            Node::from_entries(&p("/3/0"), [(p("/3/0/1"), v()), (p("/3/0/1"), v())]),
            Err(NodeError::Duplicate { .. })
        ));
        assert!(matches!(
            Node::from_entries(&p("/3/0"), [(p("/3/0/1"), v()), (p("/3/0/1/0"), v())]),
            Err(NodeError::MixedResource { .. })
        ));
        assert!(matches!(
            Node::from_entries(&p("/3/0"), [(p("/3/0/1/0"), v()), (p("/3/0/1"), v())]),
            Err(NodeError::MixedResource { .. })
        ));
        assert!(matches!(
            Node::from_entries(&p("/3/0/1"), [(p("/3/0/1/0"), v()), (p("/3/0/1/0"), v())]),
            Err(NodeError::Duplicate { .. })
        ));
        assert!(matches!(
            Node::from_entries(&p("/3/0/1/0"), [(p("/3/0/1/0"), v()), (p("/3/0/1/0"), v())]),
            Err(NodeError::Duplicate { .. })
        ));
        assert!(Node::Instance(device()).to_entries(&p("/3/1")).is_err());
        assert!(Node::Instance(device()).to_entries(&p("/3")).is_err());
    }

    #[test]
    fn timestamps() {
        assert!(Timestamp::from_secs_f64(f64::NAN).is_err());
        let a = Timestamp::from_secs(10);
        let b = Timestamp::from_secs_f64(10.5).unwrap();
        assert!(a < b);
        assert_eq!(b.as_secs_f64(), 10.5);
        let mut v = vec![b, a];
        v.sort();
        assert_eq!(v, [a, b]);
    }
}
