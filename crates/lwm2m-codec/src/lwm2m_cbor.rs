//! LwM2M CBOR (`application/vnd.oma.lwm2m+cbor`, content format 11544, LwM2M 1.2): nested
//! maps keyed by identifiers.
//!
//! A key is one unsigned integer (the next path segment) or an array of them (several
//! segments at once); a value is either a nested map or the resource (instance) value,
//! written as in the CBOR single-value format. Example: `{[3,0]: {0: "ACME", 7: {0: 3800}}}`.
//!
//! Decoding accepts every combination of single and array keys, definite and indefinite
//! maps, and requires absolute paths (starting with the object id). Encoding writes the
//! node's own path as the one top-level key (a plain integer for an object, an array
//! below), then one nesting level per remaining segment; composite payloads nest from the
//! object id.

use alloc::string::ToString;
use alloc::vec::Vec;

use lwm2m_core::error::NodeError;
use lwm2m_core::{ContentFormat, ModelRegistry, Node, Path, Value};

use crate::cbor_io::{Item, Reader, Writer};
use crate::tree::Sink;
use crate::{DecodeError, EncodeError, Limits};

const CF: ContentFormat = ContentFormat::LWM2M_CBOR;

/// Decodes an LwM2M CBOR payload into `sink`.
pub(crate) fn decode_into<M: ModelRegistry + ?Sized, S: Sink>(
    payload: &[u8],
    model: &M,
    limits: &Limits,
    sink: &mut S,
) -> Result<(), DecodeError> {
    limits.check_payload(payload.len())?;
    let mut r = Reader::new(payload, CF, limits);
    let mut d = Walk { types: crate::raw::TypeCache::new(model), limits, sink, entries: 0 };
    let at = r.offset();
    match r.next()? {
        Item::Map(len) => d.map(&mut r, Path::ROOT, len, at, 1)?,
        _ => return Err(r.malformed(at, "an LwM2M CBOR payload is a map")),
    }
    r.finish()
}

struct Walk<'a, M: ?Sized, S> {
    types: crate::raw::TypeCache<'a, M>,
    limits: &'a Limits,
    sink: &'a mut S,
    entries: usize,
}

impl<M: ModelRegistry + ?Sized, S: Sink> Walk<'_, M, S> {
    fn map<'p>(
        &mut self,
        r: &mut Reader<'p>,
        prefix: Path,
        len: Option<u64>,
        at: usize,
        depth: usize,
    ) -> Result<(), DecodeError> {
        self.limits.check_depth(depth)?;
        if let Some(n) = len {
            self.sink.children_hint(&prefix, r.check_count(n, at)?);
        }
        let mut i = 0u64;
        loop {
            match len {
                Some(n) if i >= n => break,
                None if r.peek_break()? => break,
                _ => {}
            }
            i += 1;
            let key_at = r.offset();
            let mut path = prefix;
            match r.next()? {
                Item::UInt(id) => path = self.child(r, path, id, key_at)?,
                Item::Array(Some(n)) if n > 0 => {
                    for _ in 0..r.check_count(n, key_at)? {
                        let id_at = r.offset();
                        match r.next()? {
                            Item::UInt(id) => path = self.child(r, path, id, id_at)?,
                            _ => return Err(r.malformed(id_at, "a path key holds unsigned integers only")),
                        }
                    }
                }
                _ => return Err(r.malformed(key_at, "a key is an identifier or a non-empty array of identifiers")),
            }
            let value_at = r.offset();
            match r.next()? {
                Item::Map(len) => self.map(r, path, len, value_at, depth + 1)?,
                item => {
                    if path.depth() < 3 {
                        return Err(NodeError::NoValueAtLevel { path: path.to_string() }.into());
                    }
                    self.entries += 1;
                    self.limits.check_entries(self.entries)?;
                    let raw = r.raw_value(item, value_at)?;
                    let value = raw.typed(&path, self.types.data_type(&path))?;
                    self.sink.entry(path, value, None)?;
                }
            }
        }
        Ok(())
    }

    fn child(&self, r: &Reader<'_>, path: Path, id: u64, at: usize) -> Result<Path, DecodeError> {
        let id = u16::try_from(id).map_err(|_| r.malformed(at, "identifier above 65535"))?;
        if path.depth() >= 4 {
            return Err(r.malformed(at, "path deeper than object/instance/resource/resource instance"));
        }
        path.child(id).ok_or_else(|| r.malformed(at, "identifier 65535 is reserved"))
    }
}

fn write_key(w: &mut Writer<'_>, ids: &[u16]) {
    if let [id] = ids {
        w.uint(u64::from(*id));
    } else {
        w.array(ids.len());
        for id in ids {
            w.uint(u64::from(*id));
        }
    }
}

/// Writes the entries (sorted, all sharing the first `level` ids) as a map keyed by the id
/// at `level`.
fn write_level(w: &mut Writer<'_>, entries: &[(Path, &Value)], level: usize) -> Result<(), EncodeError> {
    let mut groups = 0;
    let mut prev = None;
    for (p, _) in entries {
        let id = p.ids().get(level).copied();
        if id.is_none() {
            return Err(NodeError::MixedResource { path: p.to_string() }.into());
        }
        if id != prev {
            groups += 1;
            prev = id;
        }
    }
    w.map(groups);
    let mut rest = entries;
    while let Some((first, _)) = rest.first() {
        let id = first.ids()[level];
        let n = rest.iter().take_while(|(p, _)| p.ids().get(level) == Some(&id)).count();
        let (group, tail) = rest.split_at(n);
        w.uint(u64::from(id));
        match group {
            [(p, v)] if p.depth() == level + 1 => crate::cbor::write_value(w, v),
            _ => {
                if group.iter().any(|(p, _)| p.depth() == level + 1) {
                    return Err(NodeError::MixedResource { path: group[0].0.to_string() }.into());
                }
                write_level(w, group, level + 1)?;
            }
        }
        rest = tail;
    }
    Ok(())
}

/// Encodes `node` at `path`.
pub(crate) fn encode_node(path: &Path, node: &Node) -> Result<Vec<u8>, EncodeError> {
    let entries = node.to_entries(path)?;
    let mut out = Vec::with_capacity(entries.len() * 12 + 8);
    let mut w = Writer { out: &mut out };
    w.map(1);
    write_key(&mut w, path.ids());
    match entries.as_slice() {
        [(p, v)] if p == path => crate::cbor::write_value(&mut w, v),
        _ => write_level(&mut w, &entries, path.depth())?,
    }
    Ok(out)
}

/// Encodes composite entries (any paths, resource level or below), nesting from the object id.
pub(crate) fn encode_entries(entries: &[(Path, &Value)]) -> Result<Vec<u8>, EncodeError> {
    let mut sorted: Vec<(Path, &Value)> = entries.to_vec();
    sorted.sort_by_key(|e| e.0);
    for pair in sorted.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(NodeError::Duplicate { path: pair[0].0.to_string() }.into());
        }
    }
    if let Some((p, _)) = sorted.iter().find(|(p, _)| p.depth() < 3) {
        return Err(NodeError::NoValueAtLevel { path: p.to_string() }.into());
    }
    let mut out = Vec::with_capacity(sorted.len() * 12 + 8);
    write_level(&mut Writer { out: &mut out }, &sorted, 0)?;
    Ok(out)
}
