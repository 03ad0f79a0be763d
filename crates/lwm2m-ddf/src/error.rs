//! Errors of the DDF parser and the code generator.
//!
//! A [`DdfError`] says *where* (source name, line and column, object, resource) and
//! [`DdfErrorKind`] says *which rule* of the schema was broken. Its `Display` form is one
//! line, e.g.
//!
//! ```text
//! bad_type.xml:16:9: object 10300 "Vendor Lamp", resource 2 "Level": unknown <Type> "Integr" (expected one of: String, Integer, Unsigned Integer, Float, Boolean, Opaque, Time, Objlnk, Corelnk or empty)
//! ```

use std::fmt;
use std::path::PathBuf;

/// A DDF file (or string) that could not be read, parsed or validated: where (source
/// name, line and column, object, resource) and which rule ([`DdfErrorKind`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DdfError {
    inner: Box<Inner>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    source_name: String,
    position: Option<(u32, u32)>,
    object: Option<ObjectRef>,
    resource: Option<ObjectRef>,
    kind: DdfErrorKind,
}

/// An object or resource named in an error: its id and name, when they are known at the
/// point of the error (a missing `<ObjectID>` leaves the id unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// The numeric id.
    pub id: Option<u16>,
    /// The name; empty when unknown.
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.id {
            Some(id) => write!(f, "{id}")?,
            None => f.write_str("?")?,
        }
        if !self.name.is_empty() {
            write!(f, " {:?}", self.name)?;
        }
        Ok(())
    }
}

impl DdfError {
    /// An error about `source_name` with no position or object context.
    pub fn new(source_name: &str, kind: DdfErrorKind) -> Self {
        DdfError {
            inner: Box::new(Inner {
                source_name: source_name.to_owned(),
                position: None,
                object: None,
                resource: None,
                kind,
            }),
        }
    }

    /// The same error at 1-based `line` and `column`.
    pub fn at(mut self, line: u32, column: u32) -> Self {
        self.inner.position = Some((line, column));
        self
    }

    /// The same error in `object` (and `resource`, when given).
    pub fn in_object(mut self, object: Option<ObjectRef>, resource: Option<ObjectRef>) -> Self {
        self.inner.object = object;
        self.inner.resource = resource;
        self
    }

    /// The source name: the file path as given to the parser (`"3.xml"`), or the name a
    /// caller chose for an in-memory string.
    pub fn source_name(&self) -> &str {
        &self.inner.source_name
    }

    /// 1-based line and column of the offending XML node, when known.
    pub fn position(&self) -> Option<(u32, u32)> {
        self.inner.position
    }

    /// The object (id and name, as far as known) the error is in.
    pub fn object(&self) -> Option<&ObjectRef> {
        self.inner.object.as_ref()
    }

    /// The resource (id and name, as far as known) the error is in.
    pub fn resource(&self) -> Option<&ObjectRef> {
        self.inner.resource.as_ref()
    }

    /// The rule that was broken.
    pub fn kind(&self) -> &DdfErrorKind {
        &self.inner.kind
    }
}

impl fmt::Display for DdfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.inner;
        f.write_str(&e.source_name)?;
        if let Some((line, col)) = e.position {
            write!(f, ":{line}:{col}")?;
        }
        f.write_str(": ")?;
        if let Some(object) = &e.object {
            write!(f, "object {object}")?;
            if let Some(resource) = &e.resource {
                write!(f, ", resource {resource}")?;
            }
            f.write_str(": ")?;
        }
        write!(f, "{}", e.kind)
    }
}

impl std::error::Error for DdfError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.kind.source()
    }
}

/// The rule a DDF document broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DdfErrorKind {
    /// The file could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// The input is larger than the configured limit.
    #[error("input is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The limit ([`crate::Limits::max_input_bytes`]).
        limit: usize,
    },
    /// The input is not UTF-8 text.
    #[error("input is not valid UTF-8 (at byte {valid_up_to})")]
    NotUtf8 {
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
    /// The input is not well-formed XML.
    #[error("malformed XML: {message}")]
    Xml {
        /// The XML parser's message (it includes the position).
        message: String,
    },
    /// The root element is not `<LWM2M>`.
    #[error("root element is <{found}>, expected <LWM2M>")]
    WrongRoot {
        /// The root element's name.
        found: String,
    },
    /// `<LWM2M>` contains no `<Object>`.
    #[error("<LWM2M> contains no <Object> (the schema requires at least one)")]
    NoObject,
    /// A required element is missing.
    #[error("missing required element <{element}>")]
    MissingElement {
        /// The element name.
        element: &'static str,
    },
    /// A required attribute is missing.
    #[error("missing required attribute {attribute}= on <{element}>")]
    MissingAttribute {
        /// The element name.
        element: &'static str,
        /// The attribute name.
        attribute: &'static str,
    },
    /// An element the schema does not allow at this place.
    #[error("unexpected element <{element}> inside <{parent}>")]
    UnexpectedElement {
        /// The element found.
        element: String,
        /// Its parent.
        parent: &'static str,
    },
    /// Text content where the schema allows only elements.
    #[error("unexpected text {text:?} inside <{parent}>")]
    UnexpectedText {
        /// The text (shortened).
        text: String,
        /// The element containing it.
        parent: &'static str,
    },
    /// An element that may appear once appears again.
    #[error("element <{element}> appears more than once")]
    DuplicateElement {
        /// The element name.
        element: &'static str,
    },
    /// A required text element is empty.
    #[error("<{element}> is empty")]
    Empty {
        /// The element name.
        element: &'static str,
    },
    /// An id that is not a decimal number in `0..=65534` (`xs:unsignedShort`; 65535 is
    /// reserved by LwM2M).
    #[error("{what} {input:?} is not an id in 0..=65534")]
    BadId {
        /// `"<ObjectID>"` or `"resource ID="`.
        what: &'static str,
        /// The text found.
        input: String,
    },
    /// A value outside the schema's enumeration for this element.
    #[error("unknown <{element}> {input:?} (expected one of: {expected})")]
    BadEnumeration {
        /// The element name (`Operations`, `MultipleInstances`, `Mandatory`).
        element: &'static str,
        /// The text found.
        input: String,
        /// The allowed values.
        expected: &'static str,
    },
    /// A data type name the schemas do not define.
    #[error(
        "unknown <Type> {input:?} (expected one of: String, Integer, Unsigned Integer, Float, Boolean, Opaque, Time, Objlnk, Corelnk or empty)"
    )]
    BadType {
        /// The text found.
        input: String,
    },
    /// A version that is not `major.minor`.
    #[error("<{element}> {input:?} is not a major.minor version")]
    BadVersion {
        /// `LWM2MVersion` or `ObjectVersion`.
        element: &'static str,
        /// The text found.
        input: String,
    },
    /// Two resources of one object share an id.
    #[error("duplicate resource id {id} (first defined at line {first_line})")]
    DuplicateResource {
        /// The id.
        id: u16,
        /// Line of the first definition.
        first_line: u32,
    },
    /// Two objects share an id (in one file, or across the inputs of a generator or registry).
    #[error("object {id} is defined twice (first in {first})")]
    DuplicateObject {
        /// The id.
        id: u16,
        /// Where it was first defined (source name).
        first: String,
    },
    /// An object has more resources than the configured limit.
    #[error("more than {limit} resources")]
    TooManyResources {
        /// The limit ([`crate::Limits::max_resources`]).
        limit: usize,
    },
    /// A file holds more objects than the configured limit.
    #[error("more than {limit} objects")]
    TooManyObjects {
        /// The limit ([`crate::Limits::max_objects`]).
        limit: usize,
    },
    /// The code generator was asked for something the definitions cannot give.
    #[error("code generation: {message}")]
    Codegen {
        /// What went wrong.
        message: String,
    },
}
