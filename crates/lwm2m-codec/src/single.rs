//! Helpers shared by the single-value formats (plain text, opaque, CBOR).

use lwm2m_core::{ContentFormat, Node, Path, PathLevel, ResourceValue, Value};

use crate::{DecodeError, EncodeError};

/// The one value a single-value format can carry from `node` at `path`.
pub(crate) fn the_value<'n>(format: ContentFormat, path: &Path, node: &'n Node) -> Result<&'n Value, EncodeError> {
    crate::check_node_path(path, node)?;
    match node {
        Node::Resource(r) => match &r.value {
            ResourceValue::Single(v) => Ok(v),
            ResourceValue::Multiple(_) => {
                Err(EncodeError::NotSingleValue { format, path: *path, level: "multiple-instance resource" })
            }
        },
        Node::ResourceInstance { value, .. } => Ok(value),
        other => Err(EncodeError::NotSingleValue { format, path: *path, level: other.level().name() }),
    }
}

/// The node a single decoded value forms at `path` (a resource or a resource instance).
pub(crate) fn node_at(format: ContentFormat, path: &Path, value: Value) -> Result<Node, DecodeError> {
    match (path.level(), path.resource_id(), path.resource_instance_id()) {
        (PathLevel::Resource, Some(rid), _) => Ok(Node::Resource(lwm2m_core::Resource::single(rid, value))),
        (PathLevel::ResourceInstance, _, Some(id)) => Ok(Node::ResourceInstance { id, value }),
        (level, ..) => Err(DecodeError::WrongLevel { format, path: *path, level: level.name() }),
    }
}
