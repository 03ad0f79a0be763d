//! LwM2M TLV (`application/vnd.oma.lwm2m+tlv`, content format 11542; legacy 1542 accepted).
//!
//! Each entry is `type(1) | identifier(1 or 2) | length(0..3) | value`. Type bits 7-6 give
//! the kind ([`Kind`]), bit 5 the identifier width, bits 4-3 the length-field width (0: the
//! length, 0..=7, is in bits 2-0).
//!
//! TLV carries no data types, so values are typed through the [`ModelRegistry`]; a resource
//! the model does not know decodes as Opaque (its raw bytes).
//!
//! Encoding choices (decoders accept every legal alternative):
//! - integers and times use the smallest of 1, 2, 4, 8 bytes (two's complement); unsigned
//!   integers the smallest of 1, 2, 4, 8 bytes as unsigned;
//! - floats are always 8 bytes (binary64), like Leshan and the spec digest's worked
//!   example: lossless, and every decoder accepts it;
//! - an object-level node wraps each instance in an Object Instance entry (required); an
//!   instance-level node is written as bare resources (the wrapper is optional and the
//!   OMA Device example omits it); a resource instance is a lone Resource Instance entry;
//! - identifiers above 255 use the 16-bit form; lengths use the smallest length field.
//!
//! Decoding at an instance path accepts both the bare and the wrapped form (the wrapper's
//! id must match). A Create without instance id is decoded at `/o/<id the client picks>`.

use alloc::boxed::Box;
use alloc::vec::Vec;

use lwm2m_core::{
    ContentFormat, DataType, IdMap, Instance, InstanceId, ModelRegistry, Node, Object, ObjectId, Objlnk, Path,
    PathLevel, Resource, ResourceId, ResourceInstanceId, ResourceValue, Value,
};

use crate::{DecodeError, EncodeError, Limits};

const CF: ContentFormat = ContentFormat::TLV;

/// The four kinds of TLV entry (type bits 7-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `00`: an object instance; the value is resource entries.
    ObjectInstance,
    /// `01`: one instance of a multiple resource.
    ResourceInstance,
    /// `10`: a multiple resource; the value is resource-instance entries.
    MultipleResource,
    /// `11`: a single resource with its value.
    ResourceWithValue,
}

impl Kind {
    const fn bits(self) -> u8 {
        match self {
            Kind::ObjectInstance => 0,
            Kind::ResourceInstance => 1,
            Kind::MultipleResource => 2,
            Kind::ResourceWithValue => 3,
        }
    }

    const fn from_bits(b: u8) -> Kind {
        match b & 3 {
            0 => Kind::ObjectInstance,
            1 => Kind::ResourceInstance,
            2 => Kind::MultipleResource,
            _ => Kind::ResourceWithValue,
        }
    }
}

/// One raw TLV entry, borrowing its value from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The kind.
    pub kind: Kind,
    /// The identifier.
    pub id: u16,
    /// The value bytes (nested entries for containers).
    pub value: &'a [u8],
    /// Byte offset of the entry's type byte in the whole payload.
    pub offset: usize,
    /// Byte offset of the value in the whole payload.
    pub value_offset: usize,
}

/// Iterates over the TLV entries of `buf`, whose first byte is at payload offset `base`.
/// Errors (truncation, length overflow) end the iteration.
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
    failed: bool,
}

impl<'a> Entries<'a> {
    /// Entries of `buf`, reporting offsets relative to `base`.
    pub fn new(buf: &'a [u8], base: usize) -> Self {
        Entries { buf, pos: 0, base, failed: false }
    }

    #[inline(always)]
    fn parse(&mut self) -> Result<Entry<'a>, DecodeError> {
        let start = self.pos;
        let offset = self.base + start;
        let rest = &self.buf[start..];
        let truncated = |needed| DecodeError::Truncated { format: CF, offset, needed, available: rest.len() };
        let ty = rest[0];
        let id_len = if ty & 0x20 != 0 { 2 } else { 1 };
        let len_len = usize::from((ty >> 3) & 3);
        let header = 1 + id_len + len_len;
        if rest.len() < header {
            return Err(truncated(header));
        }
        let id = if id_len == 2 { u16::from_be_bytes([rest[1], rest[2]]) } else { u16::from(rest[1]) };
        let len = if len_len == 0 {
            usize::from(ty & 7)
        } else {
            rest[1 + id_len..header].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        };
        let available = rest.len() - header;
        if len > available {
            return Err(DecodeError::LengthOverflow {
                format: CF,
                offset: offset + 1 + id_len,
                length: len as u64,
                available,
            });
        }
        self.pos = start + header + len;
        Ok(Entry {
            kind: Kind::from_bits(ty >> 6),
            id,
            value: &rest[header..header + len],
            offset,
            value_offset: offset + header,
        })
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, DecodeError>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let r = self.parse();
        self.failed = r.is_err();
        Some(r)
    }
}

// ---------------------------------------------------------------------------------------
// Encoding

fn int_width(v: i64) -> usize {
    if i8::try_from(v).is_ok() {
        1
    } else if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

fn uint_width(v: u64) -> usize {
    if v <= 0xff {
        1
    } else if v <= 0xffff {
        2
    } else if v <= 0xffff_ffff {
        4
    } else {
        8
    }
}

fn value_len(v: &Value) -> usize {
    match v {
        Value::String(s) | Value::Corelnk(s) => s.len(),
        Value::Integer(i) | Value::Time(i) => int_width(*i),
        Value::UnsignedInteger(u) => uint_width(*u),
        Value::Float(_) => 8,
        Value::Boolean(_) => 1,
        Value::Opaque(b) => b.len(),
        Value::Objlnk(_) => 4,
    }
}

const fn header_len(id: u16, len: usize) -> usize {
    let id_len = if id > 0xff { 2 } else { 1 };
    let len_len = if len <= 7 {
        0
    } else if len <= 0xff {
        1
    } else if len <= 0xffff {
        2
    } else {
        3
    };
    1 + id_len + len_len
}

const MAX_LEN: usize = 0xff_ffff;

fn write_header(out: &mut Vec<u8>, kind: Kind, id: u16, len: usize, path: &Path) -> Result<(), EncodeError> {
    if len > MAX_LEN {
        return Err(EncodeError::TooLong { format: CF, path: *path, length: len });
    }
    let mut ty = kind.bits() << 6;
    if id > 0xff {
        ty |= 0x20;
    }
    let len_len = header_len(id, len) - 1 - if id > 0xff { 2 } else { 1 };
    ty |= (len_len as u8) << 3;
    if len_len == 0 {
        ty |= len as u8;
    }
    out.push(ty);
    if id > 0xff {
        out.extend_from_slice(&id.to_be_bytes());
    } else {
        out.push(id as u8);
    }
    let be = (len as u32).to_be_bytes();
    out.extend_from_slice(&be[4 - len_len..]);
    Ok(())
}

fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::String(s) | Value::Corelnk(s) => out.extend_from_slice(s.as_bytes()),
        Value::Integer(i) | Value::Time(i) => {
            let be = i.to_be_bytes();
            out.extend_from_slice(&be[8 - int_width(*i)..]);
        }
        Value::UnsignedInteger(u) => {
            let be = u.to_be_bytes();
            out.extend_from_slice(&be[8 - uint_width(*u)..]);
        }
        Value::Float(f) => out.extend_from_slice(&f.to_be_bytes()),
        Value::Boolean(b) => out.push(u8::from(*b)),
        Value::Opaque(b) => out.extend_from_slice(b),
        Value::Objlnk(l) => {
            out.extend_from_slice(&l.object.to_be_bytes());
            out.extend_from_slice(&l.instance.to_be_bytes());
        }
    }
}

fn resource_content_len(r: &Resource) -> usize {
    match &r.value {
        ResourceValue::Single(v) => value_len(v),
        ResourceValue::Multiple(m) => m
            .iter()
            .map(|(id, v)| {
                let l = value_len(v);
                header_len(id.get(), l) + l
            })
            .sum(),
    }
}

fn instance_content_len(i: &Instance) -> usize {
    i.resources
        .values()
        .map(|r| {
            let l = resource_content_len(r);
            header_len(r.id.get(), l) + l
        })
        .sum()
}

fn write_resource(out: &mut Vec<u8>, r: &Resource, path: &Path) -> Result<(), EncodeError> {
    let len = resource_content_len(r);
    match &r.value {
        ResourceValue::Single(v) => {
            write_header(out, Kind::ResourceWithValue, r.id.get(), len, path)?;
            write_value(out, v);
        }
        ResourceValue::Multiple(m) => {
            write_header(out, Kind::MultipleResource, r.id.get(), len, path)?;
            for (id, v) in m {
                write_header(out, Kind::ResourceInstance, id.get(), value_len(v), path)?;
                write_value(out, v);
            }
        }
    }
    Ok(())
}

fn write_instance_resources(out: &mut Vec<u8>, i: &Instance, path: &Path) -> Result<(), EncodeError> {
    for r in i.resources.values() {
        write_resource(out, r, &path.child(r.id.get()).unwrap_or(*path))?;
    }
    Ok(())
}

/// Encodes `node` (at `path`) as TLV.
pub fn encode(path: &Path, node: &Node) -> Result<Vec<u8>, EncodeError> {
    crate::check_node_path(path, node)?;
    let mut out = Vec::new();
    match node {
        Node::Object(o) => {
            let cap = o.instances.values().map(|i| instance_content_len(i) + 4).sum();
            out.reserve(cap);
            for i in o.instances.values() {
                let ipath = path.child(i.id.get()).unwrap_or(*path);
                write_header(&mut out, Kind::ObjectInstance, i.id.get(), instance_content_len(i), &ipath)?;
                write_instance_resources(&mut out, i, &ipath)?;
            }
        }
        Node::Instance(i) => {
            out.reserve(instance_content_len(i));
            write_instance_resources(&mut out, i, path)?;
        }
        Node::Resource(r) => write_resource(&mut out, r, path)?,
        Node::ResourceInstance { id, value } => {
            write_header(&mut out, Kind::ResourceInstance, id.get(), value_len(value), path)?;
            write_value(&mut out, value);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Decoding

struct Decoder<'m, M: ?Sized> {
    types: crate::raw::TypeCache<'m, M>,
    limits: &'m Limits,
    entries: usize,
}

impl<M: ModelRegistry + ?Sized> Decoder<'_, M> {
    #[inline(always)]
    /// How many more entries the limits allow: reservations never exceed it, so a payload of
    /// tiny entries cannot reserve more than `max_entries` slots.
    fn room(&self) -> usize {
        self.limits.max_entries.saturating_sub(self.entries)
    }

    fn count(&mut self) -> Result<(), Boxed> {
        self.entries += 1;
        Ok(self.limits.check_entries(self.entries)?)
    }

    /// The value of entry `e` at `path` (a resource or resource instance).
    fn value(&mut self, path: &Path, e: &Entry<'_>) -> Result<Value, Boxed> {
        let data_type = self.types.data_type(path);
        decode_typed(e.value, e.value_offset, data_type, self.limits, || *path)
    }

    /// Decodes resource entry `e` of the instance at `ipath` (of object `oid`), for a
    /// resource-level request. (Instance payloads go through `resources_into`, which
    /// repeats these steps but stores each value in place.)
    fn resource(&mut self, oid: Option<ObjectId>, ipath: &Path, e: &Entry<'_>) -> Result<Resource, Boxed> {
        self.count()?;
        let rid = ResourceId::new(e.id).ok_or_else(|| malformed(e.offset, "resource id 65535 is reserved"))?;
        let rpath = || ipath.child(e.id).unwrap_or(*ipath);
        let data_type = match oid {
            Some(oid) => self.types.resource_type(oid, rid),
            None => None,
        };
        let value = match e.kind {
            Kind::ResourceWithValue => {
                ResourceValue::Single(decode_typed(e.value, e.value_offset, data_type, self.limits, rpath)?)
            }
            Kind::MultipleResource => ResourceValue::Multiple(self.instances(e, data_type, rpath)?),
            _ => return Err(malformed(e.offset, "expected a resource (type 11) or multiple resource (type 10)").into()),
        };
        Ok(Resource { id: rid, value })
    }

    /// The resource instances of multiple-resource entry `e`, typed as `data_type`.
    fn instances(
        &mut self,
        e: &Entry<'_>,
        data_type: Option<DataType>,
        rpath: impl Fn() -> Path + Copy,
    ) -> Result<IdMap<ResourceInstanceId, Value>, Boxed> {
        let mut m = IdMap::with_capacity(count_entries(e.value, self.room()));
        for child in Entries::new(e.value, e.value_offset) {
            let child = child?;
            self.count()?;
            if child.kind != Kind::ResourceInstance {
                return Err(malformed(child.offset, "a multiple resource may only hold resource instances").into());
            }
            let riid = ResourceInstanceId::new(child.id)
                .ok_or_else(|| malformed(child.offset, "resource instance id 65535 is reserved"))?;
            let ripath = || rpath().child(child.id).unwrap_or_else(rpath);
            let to = IntoInstances { map: &mut m, id: riid };
            let inserted = decode_typed_into(child.value, child.value_offset, data_type, self.limits, ripath, to)?;
            if !inserted {
                return Err(DecodeError::Duplicate { path: ripath() }.into());
            }
        }
        Ok(m)
    }

    /// Decodes the resource entries of `buf` (payload offset `base`) into `inst`, the
    /// instance at `ipath`. `bare`: the entries are the whole payload of an instance
    /// request (no Object Instance wrapper), where a later wrapper entry is its own error.
    ///
    /// The hot loop of an instance decode. Each value is written into the instance's map
    /// from inside the arm that decoded it (`decode_typed_into`), rather than returned as
    /// a `Value` and then moved: merging the arms into one `Value` makes the compiler
    /// assemble it on the stack with narrow stores and copy it with wide loads, a
    /// store-forwarding stall per resource that cost more than the rest of its decode.
    fn resources_into(
        &mut self,
        ipath: &Path,
        buf: &[u8],
        base: usize,
        inst: &mut Instance,
        bare: bool,
    ) -> Result<(), Boxed> {
        let room = self.room();
        let resources = &mut inst.resources;
        resources.reserve(count_entries(buf, room));
        let mut types = match ipath.object_id() {
            Some(oid) => self.types.object_types(oid),
            None => crate::raw::ObjectTypes::NONE,
        };
        for e in Entries::new(buf, base) {
            let e = e?;
            if bare && e.kind == Kind::ObjectInstance {
                self.count()?;
                return Err(malformed(e.offset, "only one object instance entry may be given").into());
            }
            self.count()?;
            let rid = ResourceId::new(e.id).ok_or_else(|| malformed(e.offset, "resource id 65535 is reserved"))?;
            let rpath = || ipath.child(e.id).unwrap_or(*ipath);
            let data_type = types.get(rid);
            let inserted = match e.kind {
                Kind::ResourceWithValue => {
                    let to = IntoResources { map: resources, id: rid };
                    decode_typed_into(e.value, e.value_offset, data_type, self.limits, rpath, to)?
                }
                Kind::MultipleResource => {
                    let m = self.instances(&e, data_type, rpath)?;
                    resources.try_insert(rid, Resource { id: rid, value: ResourceValue::Multiple(m) }).is_ok()
                }
                _ => {
                    return Err(
                        malformed(e.offset, "expected a resource (type 11) or multiple resource (type 10)").into()
                    );
                }
            };
            if !inserted {
                return Err(DecodeError::Duplicate { path: rpath() }.into());
            }
        }
        Ok(())
    }
}

/// Errors inside the decoder travel boxed: a `Result` carrying a boxed error is a word wide
/// instead of the size of [`DecodeError`], so the success path moves less data. Unboxed at
/// the public boundary (`map_err(|e| *e)`); only a failing decode pays for the allocation.
type Boxed = Box<DecodeError>;

fn malformed(offset: usize, reason: &'static str) -> DecodeError {
    DecodeError::Malformed { format: CF, offset, reason }
}

/// Decodes a TLV payload for the request `path` into a node, typing values with `model`.
pub fn decode<M: ModelRegistry + ?Sized>(
    path: &Path,
    payload: &[u8],
    model: &M,
    limits: &Limits,
) -> Result<Node, DecodeError> {
    limits.check_payload(payload.len())?;
    let mut d = Decoder { types: crate::raw::TypeCache::new(model), limits, entries: 0 };
    let outside = |entry: Path| DecodeError::OutsideRequestedPath { requested: *path, entry };
    match path.level() {
        PathLevel::Root => Err(DecodeError::WrongLevel { format: CF, path: *path, level: "root" }),
        PathLevel::Object => {
            let oid = path.object_id().ok_or_else(|| malformed(0, "no object id"))?;
            let mut obj = Object::new(oid);
            obj.instances.reserve(count_entries(payload, d.room()));
            for e in Entries::new(payload, 0) {
                let e = e?;
                d.count().map_err(|e| *e)?;
                if e.kind != Kind::ObjectInstance {
                    return Err(malformed(e.offset, "an object-level payload must wrap each instance (type 00)"));
                }
                let iid = InstanceId::new(e.id).ok_or_else(|| malformed(e.offset, "instance id 65535 is reserved"))?;
                let ipath = path.child(e.id).unwrap_or(*path);
                if obj.instances.contains_key(&iid) {
                    return Err(DecodeError::Duplicate { path: ipath });
                }
                let mut inst = Instance::new(iid);
                d.resources_into(&ipath, e.value, e.value_offset, &mut inst, false).map_err(|e| *e)?;
                obj.insert(inst);
            }
            Ok(Node::Object(obj))
        }
        PathLevel::Instance => {
            let iid = path.instance_id().ok_or_else(|| malformed(0, "no instance id"))?;
            let mut inst = Instance::new(iid);
            let mut it = Entries::new(payload, 0);
            match it.clone().next() {
                None => {}
                Some(Ok(e)) if e.kind == Kind::ObjectInstance => {
                    it.next();
                    d.count().map_err(|e| *e)?;
                    if e.id != iid.get() {
                        return Err(outside(path.parent().and_then(|p| p.child(e.id)).unwrap_or(*path)));
                    }
                    d.resources_into(path, e.value, e.value_offset, &mut inst, false).map_err(|e| *e)?;
                    if let Some(next) = it.next() {
                        let next = next?;
                        if next.kind == Kind::ObjectInstance {
                            d.count().map_err(|e| *e)?;
                            return Err(malformed(next.offset, "only one object instance entry may be given"));
                        }
                        return Err(malformed(next.offset, "resource entry after an object instance entry"));
                    }
                }
                Some(_) => d.resources_into(path, payload, 0, &mut inst, true).map_err(|e| *e)?,
            }
            Ok(Node::Instance(inst))
        }
        PathLevel::Resource => {
            let ipath = path.parent().unwrap_or(*path);
            let mut it = Entries::new(payload, 0);
            let e = it.next().ok_or(DecodeError::Truncated { format: CF, offset: 0, needed: 2, available: 0 })??;
            if e.kind == Kind::ObjectInstance || e.kind == Kind::ResourceInstance {
                return Err(malformed(e.offset, "a resource-level payload must be one resource entry (type 11 or 10)"));
            }
            if Some(e.id) != path.resource_id().map(ResourceId::get) {
                return Err(outside(ipath.child(e.id).unwrap_or(ipath)));
            }
            let r = d.resource(ipath.object_id(), &ipath, &e).map_err(|e| *e)?;
            trailing(it)?;
            Ok(Node::Resource(r))
        }
        PathLevel::ResourceInstance => {
            let rpath = path.parent().unwrap_or(*path);
            let riid = path.resource_instance_id().ok_or_else(|| malformed(0, "no resource instance id"))?;
            let mut it = Entries::new(payload, 0);
            let e = it.next().ok_or(DecodeError::Truncated { format: CF, offset: 0, needed: 2, available: 0 })??;
            trailing(it)?;
            d.count().map_err(|e| *e)?;
            let inner = match e.kind {
                Kind::ResourceInstance => e,
                Kind::MultipleResource if Some(e.id) == path.resource_id().map(ResourceId::get) => {
                    let mut inner_it = Entries::new(e.value, e.value_offset);
                    let inner = inner_it.next().ok_or_else(|| malformed(e.offset, "empty multiple resource"))??;
                    trailing(inner_it)?;
                    if inner.kind != Kind::ResourceInstance {
                        return Err(malformed(inner.offset, "expected a resource instance entry (type 01)"));
                    }
                    inner
                }
                Kind::MultipleResource => {
                    let ipath = rpath.parent().unwrap_or(rpath);
                    return Err(outside(ipath.child(e.id).unwrap_or(ipath)));
                }
                _ => return Err(malformed(e.offset, "expected a resource instance entry (type 01)")),
            };
            if inner.id != riid.get() {
                return Err(outside(rpath.child(inner.id).unwrap_or(rpath)));
            }
            Ok(Node::ResourceInstance { id: riid, value: d.value(path, &inner).map_err(|e| *e)? })
        }
    }
}

/// How many well-formed entries `buf` starts with: a header-only scan, so that a container's
/// map is allocated once at its final size. Stops at the first malformed entry (the decoding
/// pass reports it), and never counts more than `buf` could hold (two bytes per entry) or than
/// `max` (the entries the limits still allow).
fn count_entries(buf: &[u8], max: usize) -> usize {
    let mut n = 0;
    let mut pos = 0;
    while let Some(&ty) = buf.get(pos) {
        if n >= max {
            break;
        }
        let len_len = usize::from((ty >> 3) & 3);
        let len_at = pos + 2 + usize::from((ty >> 5) & 1);
        let len = match len_len {
            0 => usize::from(ty & 7),
            _ => match buf.get(len_at..len_at + len_len) {
                Some(bytes) => bytes.iter().fold(0, |acc, b| (acc << 8) | usize::from(*b)),
                None => break,
            },
        };
        pos = len_at + len_len + len;
        n += 1;
    }
    n
}

fn trailing(mut it: Entries<'_>) -> Result<(), DecodeError> {
    match it.next() {
        None => Ok(()),
        Some(Err(e)) => Err(e),
        Some(Ok(e)) => {
            Err(DecodeError::TrailingBytes { format: CF, offset: e.offset, count: it.buf.len() - (e.offset - it.base) })
        }
    }
}

/// Decodes one TLV value (the bytes after the header) as `data_type` (`None`: unknown,
/// kept as Opaque). `offset` is the value's payload offset, for errors.
pub fn decode_value(
    path: &Path,
    bytes: &[u8],
    offset: usize,
    data_type: Option<DataType>,
    limits: &Limits,
) -> Result<Value, DecodeError> {
    decode_typed(bytes, offset, data_type, limits, || *path).map_err(|e| *e)
}

/// [`decode_value`], with the path (only needed to report an error) computed on demand.
#[inline(always)]
fn decode_typed(
    bytes: &[u8],
    offset: usize,
    data_type: Option<DataType>,
    limits: &Limits,
    path: impl Fn() -> Path,
) -> Result<Value, Boxed> {
    decode_typed_into(bytes, offset, data_type, limits, path, Returned)
}

/// Where `decode_typed_into` puts a decoded value. A trait with always-inlined methods
/// rather than a closure: a closure called from every arm is outlined by the compiler,
/// which brings back the copy through the stack that `decode_typed_into` avoids.
trait Emit {
    /// What the caller gets back.
    type Out;
    /// Takes the value.
    fn emit(self, value: Value) -> Self::Out;
}

/// Returns the value.
struct Returned;

impl Emit for Returned {
    type Out = Value;
    #[inline(always)]
    fn emit(self, value: Value) -> Value {
        value
    }
}

/// Inserts a single resource into an instance's map; `false` if its id was present.
struct IntoResources<'a> {
    map: &'a mut IdMap<ResourceId, Resource>,
    id: ResourceId,
}

impl Emit for IntoResources<'_> {
    type Out = bool;
    #[inline(always)]
    fn emit(self, value: Value) -> bool {
        self.map.try_insert(self.id, Resource { id: self.id, value: ResourceValue::Single(value) }).is_ok()
    }
}

/// Inserts a resource instance into a multiple resource's map; `false` if its id was present.
struct IntoInstances<'a> {
    map: &'a mut IdMap<ResourceInstanceId, Value>,
    id: ResourceInstanceId,
}

impl Emit for IntoInstances<'_> {
    type Out = bool;
    #[inline(always)]
    fn emit(self, value: Value) -> bool {
        self.map.try_insert(self.id, value).is_ok()
    }
}

/// Decodes one value like [`decode_typed`] and hands it to `emit` from the arm that built
/// it, so that a caller storing it writes the value's fields straight to their place (see
/// `Decoder::resources_into`). Always inlined: the point is one `emit` per arm.
#[inline(always)]
fn decode_typed_into<E: Emit>(
    bytes: &[u8],
    offset: usize,
    data_type: Option<DataType>,
    limits: &Limits,
    path: impl Fn() -> Path,
    to: E,
) -> Result<E::Out, Boxed> {
    limits.check_value_len(bytes.len())?;
    let width = |t| Box::new(DecodeError::InvalidWidth { path: path(), data_type: t, width: bytes.len() });
    let Some(t) = data_type else { return Ok(to.emit(Value::Opaque(bytes.to_vec()))) };
    Ok(match t {
        DataType::String | DataType::Corelnk => {
            let s = core::str::from_utf8(bytes)
                .map_err(|e| DecodeError::InvalidUtf8 { format: CF, offset: offset + e.valid_up_to() })?;
            to.emit(if t == DataType::String { Value::String(s.into()) } else { Value::Corelnk(s.into()) })
        }
        DataType::Integer | DataType::Time => {
            let v = match *bytes {
                [a] => i64::from(a as i8),
                [a, b] => i64::from(i16::from_be_bytes([a, b])),
                [a, b, c, d] => i64::from(i32::from_be_bytes([a, b, c, d])),
                [a, b, c, d, e, f, g, h] => i64::from_be_bytes([a, b, c, d, e, f, g, h]),
                _ => return Err(width(t)),
            };
            to.emit(if t == DataType::Time { Value::Time(v) } else { Value::Integer(v) })
        }
        DataType::UnsignedInteger => to.emit(Value::UnsignedInteger(match bytes.len() {
            1 | 2 | 4 | 8 => bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
            _ => return Err(width(t)),
        })),
        DataType::Float => to.emit(Value::Float(match *bytes {
            [a, b, c, d] => f64::from(f32::from_be_bytes([a, b, c, d])),
            [a, b, c, d, e, f, g, h] => f64::from_be_bytes([a, b, c, d, e, f, g, h]),
            _ => return Err(width(t)),
        })),
        DataType::Boolean => match *bytes {
            [0] => to.emit(Value::Boolean(false)),
            [1] => to.emit(Value::Boolean(true)),
            [b] => {
                return Err(Box::new(DecodeError::InvalidValue {
                    path: path(),
                    source: lwm2m_core::error::ValueError::Parse {
                        data_type: t,
                        input: alloc::format!("{b:#04x}"),
                        reason: "a TLV boolean is 0x00 or 0x01",
                    },
                }));
            }
            _ => return Err(width(t)),
        },
        DataType::Opaque => to.emit(Value::Opaque(bytes.to_vec())),
        DataType::Objlnk => match *bytes {
            [a, b, c, d] => to.emit(Value::Objlnk(Objlnk::new(u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d])))),
            _ => return Err(width(t)),
        },
        DataType::None => {
            return Err(Box::new(DecodeError::TypeMismatch { path: path(), expected: t, found: "a value" }));
        }
    })
}
