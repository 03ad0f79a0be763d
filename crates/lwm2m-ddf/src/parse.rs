//! The DDF XML parser and schema validation.
//!
//! # What is validated
//!
//! Everything `LWM2M.xsd` (1.0.1) and `LWM2M-v1_1.xsd` (1.1) constrain, with the leniency
//! the published registry itself needs:
//!
//! - the root is `<LWM2M>` with at least one `<Object>`; every `<Object>` has an
//!   `ObjectType` attribute and every resource `<Item>` an `ID` attribute;
//! - `<ObjectID>` and `Item/@ID` are decimal `xs:unsignedShort`s, and not 65535 (reserved
//!   by LwM2M as `MAX_ID`);
//! - `<Operations>` is one of `R`, `W`, `RW`, `E` or empty; `<MultipleInstances>` is
//!   `Single` or `Multiple`; `<Mandatory>` is `Mandatory` or `Optional`; `<Type>` is one of
//!   the types of the 1.1 schema (a superset of 1.0: it adds `Unsigned Integer` and
//!   `Corelnk`) or empty;
//! - `<LWM2MVersion>` and `<ObjectVersion>` are `major.minor` (empty or absent means 1.0);
//! - no element outside the schema, no element twice, no text between elements, no
//!   resource id twice in one object, no object id twice in one file;
//! - names are not empty (the generator derives Rust identifiers from them).
//!
//! Leniencies, each needed by files of the OMA registry itself: elements may come in any
//! order (the schema says `xs:sequence`, but 146 registry items put `<Type>` second);
//! the descriptive elements `<Description1>`, `<Description2>`, `<RangeEnumeration>`,
//! `<Units>` and `<Description>` may be missing (145 items lack `<RangeEnumeration>`);
//! surrounding whitespace is ignored in enumerations, ids and names; the 1.1 types are
//! accepted in a file that declares the 1.0 schema (`20.xml` does); a readable resource
//! with an empty `<Type>` is kept as [`DataType::None`] (`10482.xml` has one).
//! A UTF-8 byte order mark is skipped. DTDs are refused (no entity expansion).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use lwm2m_core::model::{Cardinality, ObjectModel, Operations, ResourceModel};
use lwm2m_core::{DataType, ObjectId, ResourceId, Version};
use roxmltree::{Document, Node};

use crate::error::{DdfError, DdfErrorKind, ObjectRef};

/// One object definition read from DDF XML: the model plus what the model does not hold.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ObjectDef {
    /// The object model. Its `description` is `<Description1>`; resources are sorted by id.
    pub model: ObjectModel,
    /// `<Description2>` (empty when absent).
    pub description2: String,
    /// The source name the definition was read from (file path or caller-chosen name).
    pub source_name: String,
    /// The XML comments before the root element: in registry files, the licence notice.
    pub notice: String,
    /// The `<Object>` element's line in the source.
    pub line: u32,
}

/// Limits that bound the work an untrusted DDF input can cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest accepted input, in bytes (default 4 MiB; the largest registry file is
    /// about 100 KiB).
    pub max_input_bytes: usize,
    /// Most XML nodes in one document (default 1,000,000).
    pub max_nodes: u32,
    /// Most `<Object>`s in one document (default 256).
    pub max_objects: usize,
    /// Most resources in one object (default 4096).
    pub max_resources: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_input_bytes: 4 << 20, max_nodes: 1_000_000, max_objects: 256, max_resources: 4096 }
    }
}

impl Limits {
    /// Sets [`Limits::max_input_bytes`].
    pub fn max_input_bytes(mut self, bytes: usize) -> Self {
        self.max_input_bytes = bytes;
        self
    }

    /// Sets [`Limits::max_objects`].
    pub fn max_objects(mut self, count: usize) -> Self {
        self.max_objects = count;
        self
    }

    /// Sets [`Limits::max_resources`].
    pub fn max_resources(mut self, count: usize) -> Self {
        self.max_resources = count;
        self
    }
}

/// Parses and validates DDF documents under configurable [`Limits`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Parser {
    limits: Limits,
}

impl Parser {
    /// A parser with default limits.
    pub fn new() -> Self {
        Parser::default()
    }

    /// A parser with `limits`.
    pub fn with_limits(limits: Limits) -> Self {
        Parser { limits }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Reads and parses the file at `path`; errors name it by `path` as given.
    pub fn parse_file(&self, path: impl AsRef<Path>) -> Result<Vec<ObjectDef>, DdfError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let io = |e: std::io::Error| {
            DdfError::new(&name, DdfErrorKind::Io { path: path.to_path_buf(), message: e.to_string() })
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > self.limits.max_input_bytes as u64 {
            let size = usize::try_from(len).unwrap_or(usize::MAX);
            return Err(DdfError::new(&name, DdfErrorKind::TooLarge { size, limit: self.limits.max_input_bytes }));
        }
        let bytes = std::fs::read(path).map_err(io)?;
        self.parse_bytes(&bytes, &name)
    }

    /// Parses UTF-8 bytes (an optional byte order mark is skipped); `source_name` names the
    /// input in errors.
    pub fn parse_bytes(&self, bytes: &[u8], source_name: &str) -> Result<Vec<ObjectDef>, DdfError> {
        if bytes.len() > self.limits.max_input_bytes {
            return Err(DdfError::new(
                source_name,
                DdfErrorKind::TooLarge { size: bytes.len(), limit: self.limits.max_input_bytes },
            ));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|e| DdfError::new(source_name, DdfErrorKind::NotUtf8 { valid_up_to: e.valid_up_to() }))?;
        self.parse_str(text, source_name)
    }

    /// Parses text (an optional leading byte order mark is skipped); `source_name` names the
    /// input in errors.
    pub fn parse_str(&self, text: &str, source_name: &str) -> Result<Vec<ObjectDef>, DdfError> {
        if text.len() > self.limits.max_input_bytes {
            return Err(DdfError::new(
                source_name,
                DdfErrorKind::TooLarge { size: text.len(), limit: self.limits.max_input_bytes },
            ));
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let options =
            roxmltree::ParsingOptions { allow_dtd: false, nodes_limit: self.limits.max_nodes, ..Default::default() };
        let doc = Document::parse_with_options(text, options)
            .map_err(|e| DdfError::new(source_name, DdfErrorKind::Xml { message: e.to_string() }))?;
        DocParser { doc: &doc, source_name, limits: self.limits }.document()
    }
}

/// Parses DDF text with default [`Limits`]; see [`Parser::parse_str`].
pub fn parse_str(text: &str, source_name: &str) -> Result<Vec<ObjectDef>, DdfError> {
    Parser::new().parse_str(text, source_name)
}

/// Parses DDF bytes with default [`Limits`]; see [`Parser::parse_bytes`].
pub fn parse_bytes(bytes: &[u8], source_name: &str) -> Result<Vec<ObjectDef>, DdfError> {
    Parser::new().parse_bytes(bytes, source_name)
}

/// Reads and parses a DDF file with default [`Limits`]; see [`Parser::parse_file`].
pub fn parse_file(path: impl AsRef<Path>) -> Result<Vec<ObjectDef>, DdfError> {
    Parser::new().parse_file(path)
}

const OBJECT_ELEMENTS: &[&str] = &[
    "Name",
    "Description1",
    "ObjectID",
    "ObjectURN",
    "LWM2MVersion",
    "ObjectVersion",
    "MultipleInstances",
    "Mandatory",
    "Resources",
    "Description2",
];

const ITEM_ELEMENTS: &[&str] =
    &["Name", "Operations", "MultipleInstances", "Mandatory", "Type", "RangeEnumeration", "Units", "Description"];

/// The data types of `LWM2M-v1_1.xsd`, by their exact schema spelling.
const TYPES: &[(&str, DataType)] = &[
    ("String", DataType::String),
    ("Integer", DataType::Integer),
    ("Float", DataType::Float),
    ("Boolean", DataType::Boolean),
    ("Opaque", DataType::Opaque),
    ("Time", DataType::Time),
    ("Objlnk", DataType::Objlnk),
    ("Unsigned Integer", DataType::UnsignedInteger),
    ("Corelnk", DataType::Corelnk),
    ("", DataType::None),
];

struct DocParser<'d, 'input> {
    doc: &'d Document<'input>,
    source_name: &'d str,
    limits: Limits,
}

/// Where in the document we are, for error context.
#[derive(Default, Clone)]
struct Context {
    object: Option<ObjectRef>,
    resource: Option<ObjectRef>,
}

/// The child elements of one element, by (schema) name.
struct Children<'a, 'input> {
    map: BTreeMap<&'static str, Node<'a, 'input>>,
    items: Vec<Node<'a, 'input>>,
}

impl<'d, 'input> DocParser<'d, 'input> {
    fn error(&self, node: Option<Node<'_, '_>>, ctx: &Context, kind: DdfErrorKind) -> DdfError {
        let e = DdfError::new(self.source_name, kind).in_object(ctx.object.clone(), ctx.resource.clone());
        match node {
            Some(n) => {
                let (line, col) = self.position(n);
                e.at(line, col)
            }
            None => e,
        }
    }

    fn position(&self, node: Node<'_, '_>) -> (u32, u32) {
        let pos = self.doc.text_pos_at(node.range().start);
        (pos.row, pos.col)
    }

    fn document(&self) -> Result<Vec<ObjectDef>, DdfError> {
        let root = self.doc.root_element();
        let ctx = Context::default();
        if root.tag_name().name() != "LWM2M" {
            return Err(self.error(
                Some(root),
                &ctx,
                DdfErrorKind::WrongRoot { found: root.tag_name().name().to_owned() },
            ));
        }
        let notice = self
            .doc
            .root()
            .children()
            .take_while(|n| !n.is_element())
            .filter(Node::is_comment)
            .filter_map(|n| n.text())
            .collect::<Vec<_>>()
            .join("\n");
        let mut objects: Vec<ObjectDef> = Vec::new();
        let mut seen: BTreeMap<u16, u32> = BTreeMap::new();
        for child in root.children() {
            if child.is_element() {
                if child.tag_name().name() != "Object" {
                    return Err(self.error(
                        Some(child),
                        &ctx,
                        DdfErrorKind::UnexpectedElement {
                            element: child.tag_name().name().to_owned(),
                            parent: "LWM2M",
                        },
                    ));
                }
                if objects.len() >= self.limits.max_objects {
                    return Err(self.error(
                        Some(child),
                        &ctx,
                        DdfErrorKind::TooManyObjects { limit: self.limits.max_objects },
                    ));
                }
                let def = self.object(child, &notice)?;
                let id = def.model.id.get();
                if let Some(first_line) = seen.insert(id, def.line) {
                    let ctx = Context {
                        object: Some(ObjectRef { id: Some(id), name: def.model.name.to_string() }),
                        resource: None,
                    };
                    return Err(self.error(
                        Some(child),
                        &ctx,
                        DdfErrorKind::DuplicateObject { id, first: format!("{}:{first_line}", self.source_name) },
                    ));
                }
                objects.push(def);
            } else {
                self.no_text(child, "LWM2M", &ctx)?;
            }
        }
        if objects.is_empty() {
            return Err(self.error(Some(root), &ctx, DdfErrorKind::NoObject));
        }
        Ok(objects)
    }

    /// Fails on non-whitespace text where only elements belong.
    fn no_text(&self, node: Node<'_, '_>, parent: &'static str, ctx: &Context) -> Result<(), DdfError> {
        if node.is_text() {
            let text = node.text().unwrap_or("").trim();
            if !text.is_empty() {
                let text: String = text.chars().take(40).collect();
                return Err(self.error(Some(node), ctx, DdfErrorKind::UnexpectedText { text, parent }));
            }
        }
        Ok(())
    }

    /// Collects the children of `node`, allowing each of `allowed` once and (when
    /// `repeated` is given) any number of that element.
    fn children<'a>(
        &self,
        node: Node<'a, 'input>,
        parent: &'static str,
        allowed: &[&'static str],
        repeated: Option<&'static str>,
        ctx: &Context,
    ) -> Result<Children<'a, 'input>, DdfError> {
        let mut out = Children { map: BTreeMap::new(), items: Vec::new() };
        for child in node.children() {
            if !child.is_element() {
                self.no_text(child, parent, ctx)?;
                continue;
            }
            let name = child.tag_name().name();
            if repeated == Some(name) {
                out.items.push(child);
                continue;
            }
            let Some(&known) = allowed.iter().find(|a| **a == name) else {
                return Err(self.error(
                    Some(child),
                    ctx,
                    DdfErrorKind::UnexpectedElement { element: name.to_owned(), parent },
                ));
            };
            if out.map.insert(known, child).is_some() {
                return Err(self.error(Some(child), ctx, DdfErrorKind::DuplicateElement { element: known }));
            }
        }
        Ok(out)
    }

    /// The text of a leaf element (all text and CDATA children); child elements are errors.
    fn text(&self, node: Node<'_, '_>, element: &'static str, ctx: &Context) -> Result<String, DdfError> {
        let mut out = String::new();
        for child in node.children() {
            if child.is_element() {
                return Err(self.error(
                    Some(child),
                    ctx,
                    DdfErrorKind::UnexpectedElement { element: child.tag_name().name().to_owned(), parent: element },
                ));
            }
            if child.is_text() {
                out.push_str(child.text().unwrap_or(""));
            }
        }
        Ok(out)
    }

    fn required<'a>(
        &self,
        children: &Children<'a, 'input>,
        owner: Node<'_, '_>,
        element: &'static str,
        ctx: &Context,
    ) -> Result<(Node<'a, 'input>, String), DdfError> {
        match children.map.get(element) {
            Some(&node) => Ok((node, self.text(node, element, ctx)?)),
            None => Err(self.error(Some(owner), ctx, DdfErrorKind::MissingElement { element })),
        }
    }

    fn optional(
        &self,
        children: &Children<'_, 'input>,
        element: &'static str,
        ctx: &Context,
    ) -> Result<String, DdfError> {
        match children.map.get(element) {
            Some(&node) => self.text(node, element, ctx),
            None => Ok(String::new()),
        }
    }

    fn name(&self, children: &Children<'_, 'input>, owner: Node<'_, '_>, ctx: &Context) -> Result<String, DdfError> {
        let (node, text) = self.required(children, owner, "Name", ctx)?;
        let name = text.trim();
        if name.is_empty() {
            return Err(self.error(Some(node), ctx, DdfErrorKind::Empty { element: "Name" }));
        }
        Ok(name.to_owned())
    }

    fn cardinality(
        &self,
        children: &Children<'_, 'input>,
        owner: Node<'_, '_>,
        ctx: &Context,
    ) -> Result<Cardinality, DdfError> {
        let (node, text) = self.required(children, owner, "MultipleInstances", ctx)?;
        match text.trim() {
            "Single" => Ok(Cardinality::Single),
            "Multiple" => Ok(Cardinality::Multiple),
            _ => Err(self.error(
                Some(node),
                ctx,
                DdfErrorKind::BadEnumeration {
                    element: "MultipleInstances",
                    input: text,
                    expected: "Single, Multiple",
                },
            )),
        }
    }

    fn mandatory(&self, children: &Children<'_, 'input>, owner: Node<'_, '_>, ctx: &Context) -> Result<bool, DdfError> {
        let (node, text) = self.required(children, owner, "Mandatory", ctx)?;
        match text.trim() {
            "Mandatory" => Ok(true),
            "Optional" => Ok(false),
            _ => Err(self.error(
                Some(node),
                ctx,
                DdfErrorKind::BadEnumeration { element: "Mandatory", input: text, expected: "Mandatory, Optional" },
            )),
        }
    }

    fn version(
        &self,
        children: &Children<'_, 'input>,
        element: &'static str,
        ctx: &Context,
    ) -> Result<Version, DdfError> {
        let text = self.optional(children, element, ctx)?;
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(Version::V1_0);
        }
        trimmed.parse().map_err(|_| {
            self.error(
                children.map.get(element).copied(),
                ctx,
                DdfErrorKind::BadVersion { element, input: text.clone() },
            )
        })
    }

    fn object(&self, node: Node<'_, 'input>, notice: &str) -> Result<ObjectDef, DdfError> {
        // Identify the object first so that every later error can name it.
        let peek = |name: &str| {
            node.children()
                .find(|c| c.is_element() && c.tag_name().name() == name)
                .map(|c| c.children().filter(Node::is_text).filter_map(|t| t.text()).collect::<String>())
        };
        let parsed_id = peek("ObjectID").and_then(|t| t.trim().parse::<ObjectId>().ok());
        let raw_name = peek("Name").map(|n| n.trim().to_owned()).unwrap_or_default();
        let mut ctx =
            Context { object: Some(ObjectRef { id: parsed_id.map(ObjectId::get), name: raw_name }), resource: None };
        let children = self.children(node, "Object", OBJECT_ELEMENTS, None, &ctx)?;
        if node.attribute("ObjectType").is_none() {
            return Err(self.error(
                Some(node),
                &ctx,
                DdfErrorKind::MissingAttribute { element: "Object", attribute: "ObjectType" },
            ));
        }
        let name = self.name(&children, node, &ctx)?;
        let (id_node, raw_id) = self.required(&children, node, "ObjectID", &ctx)?;
        let id = parsed_id.ok_or_else(|| {
            self.error(Some(id_node), &ctx, DdfErrorKind::BadId { what: "<ObjectID>", input: raw_id })
        })?;
        let (_, urn) = self.required(&children, node, "ObjectURN", &ctx)?;
        let lwm2m_version = self.version(&children, "LWM2MVersion", &ctx)?;
        let version = self.version(&children, "ObjectVersion", &ctx)?;
        let cardinality = self.cardinality(&children, node, &ctx)?;
        let mandatory = self.mandatory(&children, node, &ctx)?;
        let description = self.optional(&children, "Description1", &ctx)?.trim().to_owned();
        let description2 = self.optional(&children, "Description2", &ctx)?.trim().to_owned();
        let resources_node = children
            .map
            .get("Resources")
            .copied()
            .ok_or_else(|| self.error(Some(node), &ctx, DdfErrorKind::MissingElement { element: "Resources" }))?;
        let items = self.children(resources_node, "Resources", &[], Some("Item"), &ctx)?.items;
        if items.is_empty() {
            return Err(self.error(Some(resources_node), &ctx, DdfErrorKind::MissingElement { element: "Item" }));
        }
        let mut resources: BTreeMap<u16, (u32, ResourceModel)> = BTreeMap::new();
        for item in items {
            if resources.len() >= self.limits.max_resources {
                return Err(self.error(
                    Some(item),
                    &ctx,
                    DdfErrorKind::TooManyResources { limit: self.limits.max_resources },
                ));
            }
            let (line, resource) = self.resource(item, &mut ctx)?;
            let rid = resource.id.get();
            if let Some((first_line, _)) = resources.get(&rid) {
                let kind = DdfErrorKind::DuplicateResource { id: rid, first_line: *first_line };
                return Err(self.error(Some(item), &ctx, kind));
            }
            resources.insert(rid, (line, resource));
            ctx.resource = None;
        }
        let model = ObjectModel {
            id,
            name: Cow::Owned(name),
            urn: Cow::Owned(urn.trim().to_owned()),
            version,
            lwm2m_version,
            cardinality,
            mandatory,
            resources: Cow::Owned(resources.into_values().map(|(_, r)| r).collect()),
            description: Cow::Owned(description),
        };
        Ok(ObjectDef {
            model,
            description2,
            source_name: self.source_name.to_owned(),
            notice: notice.to_owned(),
            line: self.position(node).0,
        })
    }

    fn resource(&self, item: Node<'_, 'input>, ctx: &mut Context) -> Result<(u32, ResourceModel), DdfError> {
        let raw_id = item.attribute("ID");
        let parsed_id = raw_id.and_then(|t| t.trim().parse::<ResourceId>().ok());
        ctx.resource = Some(ObjectRef { id: parsed_id.map(ResourceId::get), name: String::new() });
        let children = self.children(item, "Item", ITEM_ELEMENTS, None, ctx)?;
        if let Some(&n) = children.map.get("Name") {
            let name = self.text(n, "Name", ctx)?.trim().to_owned();
            ctx.resource = Some(ObjectRef { id: parsed_id.map(ResourceId::get), name });
        }
        let Some(raw_id) = raw_id else {
            return Err(self.error(
                Some(item),
                ctx,
                DdfErrorKind::MissingAttribute { element: "Item", attribute: "ID" },
            ));
        };
        let id = parsed_id.ok_or_else(|| {
            self.error(Some(item), ctx, DdfErrorKind::BadId { what: "resource ID=", input: raw_id.to_owned() })
        })?;
        let name = self.name(&children, item, ctx)?;
        let (ops_node, ops_text) = self.required(&children, item, "Operations", ctx)?;
        let operations = match ops_text.trim() {
            "" => Operations::NONE,
            "R" => Operations::R,
            "W" => Operations::W,
            "RW" => Operations::RW,
            "E" => Operations::E,
            _ => {
                return Err(self.error(
                    Some(ops_node),
                    ctx,
                    DdfErrorKind::BadEnumeration {
                        element: "Operations",
                        input: ops_text,
                        expected: "R, W, RW, E or empty",
                    },
                ));
            }
        };
        let cardinality = self.cardinality(&children, item, ctx)?;
        let mandatory = self.mandatory(&children, item, ctx)?;
        let (type_node, type_text) = self.required(&children, item, "Type", ctx)?;
        let data_type = TYPES
            .iter()
            .find(|(name, _)| *name == type_text.trim())
            .map(|(_, t)| *t)
            .ok_or_else(|| self.error(Some(type_node), ctx, DdfErrorKind::BadType { input: type_text.clone() }))?;
        let range = self.optional(&children, "RangeEnumeration", ctx)?.trim().to_owned();
        let units = self.optional(&children, "Units", ctx)?.trim().to_owned();
        let description = self.optional(&children, "Description", ctx)?.trim().to_owned();
        let line = self.position(item).0;
        Ok((
            line,
            ResourceModel {
                id,
                name: Cow::Owned(name),
                operations,
                cardinality,
                mandatory,
                data_type,
                range: Cow::Owned(range),
                units: Cow::Owned(units),
                description: Cow::Owned(description),
            },
        ))
    }
}
