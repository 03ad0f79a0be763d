//! The Rust code generator: a static model registry and typed modules from DDF files.
//!
//! See [`Generator`]. The generated code needs the `lwm2m-objects` crate at run time (for
//! [`lwm2m_core`], re-exported as `lwm2m_objects::lwm2m_core`, and the typed-handler
//! support in `lwm2m_objects::typed`); [`Generator::runtime_crate`] changes the path.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lwm2m_core::model::{Cardinality, ObjectModel, Operations, ResourceModel};
use lwm2m_core::{DataType, Version};

use crate::error::{DdfError, DdfErrorKind};
use crate::names::{camel, doc_lines, screaming, snake, string_literal};
use crate::parse::{Limits, ObjectDef, Parser};

/// Where descriptions (the long prose of the DDF) go in the generated code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Descriptions {
    /// Not generated: every `description` is empty. Doc comments of typed modules still
    /// carry them.
    Omit,
    /// As string literals in the registry data (the default; right for a few vendor objects).
    #[default]
    Inline,
    /// In a child module `descriptions`, compiled only when the named Cargo feature of the
    /// crate that includes the code is enabled; without it every `description` is empty.
    Feature(String),
}

/// Whether the generated code is piped through `rustfmt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Rustfmt {
    /// Format when a `rustfmt` binary is found (`$RUSTFMT`, else `rustfmt` on `PATH`);
    /// otherwise keep the (valid, deterministic, but unformatted) output. The default.
    #[default]
    IfAvailable,
    /// Format, and fail when `rustfmt` cannot be run.
    Required,
    /// Never format.
    Off,
}

#[derive(Debug, Clone)]
enum Source {
    Dir(PathBuf),
    File(PathBuf),
    Str { name: String, text: String },
}

/// One generated file: a path relative to the output directory, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Relative path (`mod.rs`, `device.rs`, ...), or the single file's name.
    pub path: String,
    /// The Rust source.
    pub contents: String,
}

/// The result of a generator run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Generated {
    /// The files, in a fixed order (root first).
    pub files: Vec<GeneratedFile>,
    /// Whether `rustfmt` formatted them.
    pub formatted: bool,
    /// Number of objects generated.
    pub objects: usize,
    /// Number of resources generated.
    pub resources: usize,
    /// The files read (for `cargo:rerun-if-changed`).
    pub inputs: Vec<PathBuf>,
}

/// Generates Rust from DDF XML, for `cargo xtask codegen` and for users' build scripts.
///
/// ```no_run
/// // build.rs
/// let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("vendor.rs");
/// lwm2m_ddf::Generator::new()
///     .registry_file("ddf/10300.xml")
///     .typed_module(10300, "lamp")
///     .emit_rerun_if_changed(true)
///     .generate_to_file(&out)
///     .unwrap();
/// // src/lib.rs: mod vendor { include!(concat!(env!("OUT_DIR"), "/vendor.rs")); }
/// ```
///
/// The output is deterministic: the same inputs give byte-identical files.
#[derive(Debug, Clone)]
pub struct Generator {
    sources: Vec<Source>,
    typed: Vec<(u16, String)>,
    descriptions: Descriptions,
    runtime: String,
    generated_by: String,
    rustfmt: Rustfmt,
    rustfmt_config: Option<PathBuf>,
    edition: String,
    limits: Limits,
    rerun: bool,
}

impl Default for Generator {
    fn default() -> Self {
        Generator::new()
    }
}

/// A child module of the generated root module.
struct Child {
    name: String,
    cfg: Option<String>,
    body: String,
}

impl Generator {
    /// A generator with no inputs, inline descriptions, runtime crate `::lwm2m_objects`.
    pub fn new() -> Self {
        Generator {
            sources: Vec::new(),
            typed: Vec::new(),
            descriptions: Descriptions::Inline,
            runtime: "::lwm2m_objects".into(),
            generated_by: "lwm2m-ddf".into(),
            rustfmt: Rustfmt::IfAvailable,
            rustfmt_config: None,
            edition: "2024".into(),
            limits: Limits::default(),
            rerun: false,
        }
    }

    /// Adds every `*.xml` file of `dir` (not recursive; read in file-name order).
    pub fn registry_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.sources.push(Source::Dir(dir.into()));
        self
    }

    /// Adds one DDF file.
    pub fn registry_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.sources.push(Source::File(path.into()));
        self
    }

    /// Adds DDF text held in memory; `name` names it in errors.
    pub fn registry_str(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.sources.push(Source::Str { name: name.into(), text: text.into() });
        self
    }

    /// Also generates a typed module `module` (a snake_case Rust identifier) for object
    /// `object_id`; its handler trait is named after the module in CamelCase
    /// (`"firmware_update"` gives `FirmwareUpdate`).
    pub fn typed_module(mut self, object_id: u16, module: impl Into<String>) -> Self {
        self.typed.push((object_id, module.into()));
        self
    }

    /// Where descriptions go (default [`Descriptions::Inline`]).
    pub fn descriptions(mut self, descriptions: Descriptions) -> Self {
        self.descriptions = descriptions;
        self
    }

    /// The path of the runtime crate in generated code (default `::lwm2m_objects`;
    /// `lwm2m-objects` itself uses `crate`).
    pub fn runtime_crate(mut self, path: impl Into<String>) -> Self {
        self.runtime = path.into();
        self
    }

    /// The command named in the preamble (default `lwm2m-ddf`).
    pub fn generated_by(mut self, command: impl Into<String>) -> Self {
        self.generated_by = command.into();
        self
    }

    /// Whether to run `rustfmt` (default [`Rustfmt::IfAvailable`]).
    pub fn rustfmt(mut self, mode: Rustfmt) -> Self {
        self.rustfmt = mode;
        self
    }

    /// A `rustfmt.toml` to format with (default: rustfmt's defaults).
    pub fn rustfmt_config(mut self, path: impl Into<PathBuf>) -> Self {
        self.rustfmt_config = Some(path.into());
        self
    }

    /// The edition passed to `rustfmt` (default `2024`).
    pub fn edition(mut self, edition: impl Into<String>) -> Self {
        self.edition = edition.into();
        self
    }

    /// Limits for parsing the inputs.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether [`Generator::generate_to_file`] and [`Generator::generate_to_dir`] print
    /// `cargo:rerun-if-changed=` lines for every input (for build scripts; default off).
    pub fn emit_rerun_if_changed(mut self, yes: bool) -> Self {
        self.rerun = yes;
        self
    }

    /// Parses and validates every input; object ids must be unique across inputs.
    /// Returns the definitions sorted by object id, and the files read.
    pub fn load(&self) -> Result<(Vec<ObjectDef>, Vec<PathBuf>), DdfError> {
        let parser = Parser::with_limits(self.limits);
        let mut defs: BTreeMap<u16, ObjectDef> = BTreeMap::new();
        let mut inputs = Vec::new();
        let mut add = |found: Vec<ObjectDef>| -> Result<(), DdfError> {
            for def in found {
                let id = def.model.id.get();
                if let Some(first) = defs.get(&id) {
                    let kind =
                        DdfErrorKind::DuplicateObject { id, first: format!("{}:{}", first.source_name, first.line) };
                    return Err(DdfError::new(&def.source_name, kind).at(def.line, 1));
                }
                defs.insert(id, def);
            }
            Ok(())
        };
        for source in &self.sources {
            match source {
                Source::Dir(dir) => {
                    let io = |e: std::io::Error| {
                        DdfError::new(
                            &dir.display().to_string(),
                            DdfErrorKind::Io { path: dir.clone(), message: e.to_string() },
                        )
                    };
                    let mut files = Vec::new();
                    for entry in std::fs::read_dir(dir).map_err(io)? {
                        let path = entry.map_err(io)?.path();
                        if path.extension().is_some_and(|e| e == "xml") && path.is_file() {
                            files.push(path);
                        }
                    }
                    files.sort();
                    for path in files {
                        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                        let bytes = std::fs::read(&path).map_err(|e| {
                            DdfError::new(&name, DdfErrorKind::Io { path: path.clone(), message: e.to_string() })
                        })?;
                        add(parser.parse_bytes(&bytes, &name)?)?;
                        inputs.push(path);
                    }
                }
                Source::File(path) => {
                    add(parser.parse_file(path)?)?;
                    inputs.push(path.clone());
                }
                Source::Str { name, text } => add(parser.parse_str(text, name)?)?,
            }
        }
        Ok((defs.into_values().collect(), inputs))
    }

    /// Generates the directory layout: `mod.rs` (the registry), `descriptions.rs` (with
    /// [`Descriptions::Feature`]) and one `<module>.rs` per typed module.
    pub fn generate_files(&self) -> Result<Generated, DdfError> {
        self.generate(true)
    }

    /// Generates everything into one file (child modules inline), named `generated.rs`.
    pub fn generate_single(&self) -> Result<Generated, DdfError> {
        self.generate(false)
    }

    /// Generates one file and writes it to `path` when its contents changed (so an
    /// unchanged output does not trigger rebuilds). Include it with `include!`.
    pub fn generate_to_file(&self, path: impl AsRef<Path>) -> Result<Generated, DdfError> {
        let path = path.as_ref();
        let generated = self.generate_single()?;
        if let Some(file) = generated.files.first() {
            write_if_changed(path, &file.contents)?;
        }
        self.print_rerun(&generated);
        Ok(generated)
    }

    /// Generates the directory layout into `dir`, writing only files whose contents changed.
    pub fn generate_to_dir(&self, dir: impl AsRef<Path>) -> Result<Generated, DdfError> {
        let dir = dir.as_ref();
        let generated = self.generate_files()?;
        for file in &generated.files {
            write_if_changed(&dir.join(&file.path), &file.contents)?;
        }
        self.print_rerun(&generated);
        Ok(generated)
    }

    fn print_rerun(&self, generated: &Generated) {
        if self.rerun {
            for input in &generated.inputs {
                println!("cargo:rerun-if-changed={}", input.display());
            }
        }
    }

    fn generate(&self, directory: bool) -> Result<Generated, DdfError> {
        let (defs, inputs) = self.load()?;
        let codegen_error = |message: String| DdfError::new("<generator>", DdfErrorKind::Codegen { message });
        let mut children = Vec::new();
        if let Descriptions::Feature(_) = self.descriptions {
            children.push(Child { name: "descriptions".into(), cfg: None, body: descriptions_module(&defs) });
        }
        let mut seen_modules = BTreeMap::new();
        for (id, module) in &self.typed {
            if snake(module, "") != *module {
                return Err(codegen_error(format!("typed module name {module:?} is not a snake_case identifier")));
            }
            if seen_modules.insert(module.clone(), *id).is_some() || module == "descriptions" {
                return Err(codegen_error(format!("typed module name {module:?} is used twice")));
            }
            let index = defs
                .binary_search_by_key(id, |d| d.model.id.get())
                .map_err(|_| codegen_error(format!("typed module {module:?}: object {id} is not among the inputs")))?;
            let def = &defs[index];
            children.push(Child { name: module.clone(), cfg: None, body: typed_module(self, def, index, module) });
        }
        if let (Descriptions::Feature(feature), Some(first)) = (&self.descriptions, children.first_mut()) {
            first.cfg = Some(format!("#[cfg(feature = {})]", string_literal(feature)));
        }
        let root = self.root_module(&defs);
        let preamble = format!(
            "// Generated by `{}`, do not edit: change the object definitions (DDF XML) or the generator, then regenerate.\n\n",
            self.generated_by
        );
        let mut files = Vec::new();
        if directory {
            let mut text = preamble.clone();
            text.push_str(&root);
            for child in &children {
                text.push('\n');
                if let Some(cfg) = &child.cfg {
                    text.push_str(cfg);
                    text.push('\n');
                }
                let vis = if child.name == "descriptions" { "" } else { "pub " };
                let _ = writeln!(text, "{vis}mod {};", child.name);
            }
            files.push(GeneratedFile { path: "mod.rs".into(), contents: text });
            for child in children {
                files.push(GeneratedFile {
                    path: format!("{}.rs", child.name),
                    contents: format!("{preamble}{}", child.body),
                });
            }
        } else {
            let mut text = preamble;
            text.push_str(&root);
            for child in &children {
                text.push('\n');
                if let Some(cfg) = &child.cfg {
                    text.push_str(cfg);
                    text.push('\n');
                }
                let vis = if child.name == "descriptions" { "" } else { "pub " };
                let _ = writeln!(text, "{vis}mod {} {{\n{}\n}}", child.name, child.body);
            }
            files.push(GeneratedFile { path: "generated.rs".into(), contents: text });
        }
        let mut formatted = false;
        if self.rustfmt != Rustfmt::Off {
            match self.format_all(&mut files) {
                Ok(()) => formatted = true,
                Err(FormatError::NotFound(message)) if self.rustfmt == Rustfmt::IfAvailable => {
                    let _ = message;
                }
                Err(FormatError::NotFound(message) | FormatError::Failed(message)) => {
                    return Err(codegen_error(format!("rustfmt: {message}")));
                }
            }
        }
        let resources = defs.iter().map(|d| d.model.resources.len()).sum();
        Ok(Generated { files, formatted, objects: defs.len(), resources, inputs })
    }

    fn format_all(&self, files: &mut [GeneratedFile]) -> Result<(), FormatError> {
        for file in files.iter_mut() {
            file.contents = self.format(&file.contents)?;
        }
        Ok(())
    }

    fn format(&self, text: &str) -> Result<String, FormatError> {
        let rustfmt = std::env::var_os("RUSTFMT").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("rustfmt"));
        let mut cmd = Command::new(&rustfmt);
        cmd.arg("--edition").arg(&self.edition).arg("--emit").arg("stdout").arg("--quiet");
        if let Some(config) = &self.rustfmt_config {
            cmd.arg("--config-path").arg(config);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| FormatError::NotFound(format!("cannot run {}: {e}", rustfmt.display())))?;
        let mut stdin = child.stdin.take().ok_or_else(|| FormatError::Failed("no stdin".into()))?;
        let input = text.to_owned();
        // Write from another thread so a full stdout pipe cannot deadlock us.
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let output = child.wait_with_output().map_err(|e| FormatError::Failed(e.to_string()))?;
        writer
            .join()
            .map_err(|_| FormatError::Failed("writer thread panicked".into()))?
            .map_err(|e| FormatError::Failed(format!("writing to rustfmt: {e}")))?;
        if !output.status.success() {
            return Err(FormatError::Failed(format!(
                "{} failed ({}): {}",
                rustfmt.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        String::from_utf8(output.stdout).map_err(|_| FormatError::Failed("output is not UTF-8".into()))
    }

    fn description_expr(&self, key: &str, text: &str) -> String {
        match self.descriptions {
            Descriptions::Omit => "\"\"".into(),
            Descriptions::Inline => string_literal(text),
            Descriptions::Feature(_) => {
                if text.is_empty() {
                    "\"\"".into()
                } else {
                    format!("desc!({key})")
                }
            }
        }
    }

    fn root_module(&self, defs: &[ObjectDef]) -> String {
        let rt = &self.runtime;
        let total: usize = defs.iter().map(|d| d.model.resources.len()).sum();
        let mut s = String::new();
        let _ = writeln!(
            s,
            "use ::std::borrow::Cow;\n\
             use {rt}::lwm2m_core::{{Cardinality, DataType, ModelRegistry, ObjectId, ObjectModel, Operations, ResourceId, ResourceModel, Version}};\n"
        );
        if let Descriptions::Feature(feature) = &self.descriptions {
            let feature = string_literal(feature);
            let _ = writeln!(
                s,
                "#[cfg(feature = {feature})]\nmacro_rules! desc {{\n    ($name:ident) => {{\n        descriptions::$name\n    }};\n}}\n\
                 #[cfg(not(feature = {feature}))]\nmacro_rules! desc {{\n    ($name:ident) => {{\n        \"\"\n    }};\n}}\n"
            );
        }
        let _ = writeln!(
            s,
            "/// The number of object definitions in [`OBJECTS`].\npub const OBJECT_COUNT: usize = {};\n\n\
             /// The number of resource definitions over all objects.\npub const RESOURCE_COUNT: usize = {total};\n",
            defs.len()
        );
        s.push_str(
            "/// The generated object models as a [`ModelRegistry`]: a lookup is a binary search over [`OBJECTS`].\n\
             #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]\n\
             pub struct Registry;\n\n\
             impl Registry {\n\
             /// Every object model, sorted by id.\n\
             pub fn objects(&self) -> &'static [ObjectModel] {\n&OBJECTS\n}\n}\n\n\
             impl ModelRegistry for Registry {\n\
             fn object(&self, id: ObjectId) -> Option<&ObjectModel> {\n\
             OBJECTS.binary_search_by_key(&id, |o| o.id).ok().and_then(|i| OBJECTS.get(i))\n}\n}\n\n",
        );
        s.push_str(
            "#[allow(clippy::too_many_arguments)] // one argument per DDF field keeps the tables readable\n\
             const fn object(id: u16, name: &'static str, urn: &'static str, version: (u8, u8), lwm2m_version: (u8, u8), \
             cardinality: Cardinality, mandatory: bool, resources: &'static [ResourceModel], description: &'static str) -> ObjectModel {\n\
             let Some(id) = ObjectId::new(id) else { panic!(\"object id 65535 is reserved\") };\n\
             ObjectModel { id, name: Cow::Borrowed(name), urn: Cow::Borrowed(urn), version: Version::new(version.0, version.1), \
             lwm2m_version: Version::new(lwm2m_version.0, lwm2m_version.1), cardinality, mandatory, \
             resources: Cow::Borrowed(resources), description: Cow::Borrowed(description) }\n}\n\n\
             #[allow(clippy::too_many_arguments)] // one argument per DDF field keeps the tables readable\n\
             const fn res(id: u16, name: &'static str, operations: Operations, cardinality: Cardinality, mandatory: bool, \
             data_type: DataType, range: &'static str, units: &'static str, description: &'static str) -> ResourceModel {\n\
             let Some(id) = ResourceId::new(id) else { panic!(\"resource id 65535 is reserved\") };\n\
             ResourceModel { id, name: Cow::Borrowed(name), operations, cardinality, mandatory, data_type, \
             range: Cow::Borrowed(range), units: Cow::Borrowed(units), description: Cow::Borrowed(description) }\n}\n\n",
        );
        let _ =
            writeln!(s, "/// Every object model, sorted by id.\npub static OBJECTS: [ObjectModel; {}] = [", defs.len());
        for def in defs {
            let m = &def.model;
            let id = m.id.get();
            let _ = writeln!(
                s,
                "object({id}, {}, {}, {}, {}, {}, {}, &R_{id}, {}),",
                string_literal(&m.name),
                string_literal(&m.urn),
                version(m.version),
                version(m.lwm2m_version),
                cardinality(m.cardinality),
                m.mandatory,
                self.description_expr(&format!("O{id}"), &object_description(def)),
            );
        }
        s.push_str("];\n\n");
        for def in defs {
            let m = &def.model;
            let id = m.id.get();
            let _ = writeln!(s, "static R_{id}: [ResourceModel; {}] = [", m.resources.len());
            for r in m.resources.iter() {
                let _ = writeln!(
                    s,
                    "res({}, {}, {}, {}, {}, {}, {}, {}, {}),",
                    r.id.get(),
                    string_literal(&r.name),
                    operations(r.operations),
                    cardinality(r.cardinality),
                    r.mandatory,
                    data_type(r.data_type),
                    string_literal(&r.range),
                    string_literal(&r.units),
                    self.description_expr(&format!("O{id}_{}", r.id.get()), &r.description),
                );
            }
            s.push_str("];\n\n");
        }
        if !matches!(self.descriptions, Descriptions::Feature(_)) {
            s.push_str(&notices(defs));
        }
        s
    }
}

enum FormatError {
    NotFound(String),
    Failed(String),
}

fn write_if_changed(path: &Path, contents: &str) -> Result<(), DdfError> {
    let io = |e: std::io::Error| {
        DdfError::new(
            &path.display().to_string(),
            DdfErrorKind::Io { path: path.to_path_buf(), message: e.to_string() },
        )
    };
    if std::fs::read_to_string(path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(path, contents).map_err(io)
}

fn object_description(def: &ObjectDef) -> String {
    let d1 = def.model.description.trim();
    let d2 = def.description2.trim();
    match (d1.is_empty(), d2.is_empty()) {
        (_, true) => d1.to_owned(),
        (true, false) => d2.to_owned(),
        (false, false) => format!("{d1}\n\n{d2}"),
    }
}

fn version(v: Version) -> String {
    format!("({}, {})", v.major, v.minor)
}

fn cardinality(c: Cardinality) -> &'static str {
    match c {
        Cardinality::Single => "Cardinality::Single",
        Cardinality::Multiple => "Cardinality::Multiple",
    }
}

fn operations(o: Operations) -> &'static str {
    match o.as_str() {
        "R" => "Operations::R",
        "W" => "Operations::W",
        "RW" => "Operations::RW",
        "E" => "Operations::E",
        _ => "Operations::NONE",
    }
}

fn data_type(t: DataType) -> &'static str {
    match t {
        DataType::String => "DataType::String",
        DataType::Integer => "DataType::Integer",
        DataType::UnsignedInteger => "DataType::UnsignedInteger",
        DataType::Float => "DataType::Float",
        DataType::Boolean => "DataType::Boolean",
        DataType::Opaque => "DataType::Opaque",
        DataType::Time => "DataType::Time",
        DataType::Objlnk => "DataType::Objlnk",
        DataType::Corelnk => "DataType::Corelnk",
        DataType::None => "DataType::None",
    }
}

/// The licence notices of the inputs, each distinct text once with the files it covers.
fn notices(defs: &[ObjectDef]) -> String {
    let mut by_text: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for def in defs {
        let text = def.notice.trim();
        if !text.is_empty() {
            by_text.entry(text).or_default().push(format!("{} ({})", def.source_name, def.model.id));
        }
    }
    if by_text.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "// Licence notices of the object definitions this file was generated from, each distinct\n\
         // notice once, with the definitions it covers.\n",
    );
    for (text, sources) in by_text {
        s.push_str("//\n// ---- ");
        s.push_str(&sources.join(", "));
        s.push('\n');
        for line in text.lines() {
            let line = line.trim_end();
            if line.is_empty() {
                s.push_str("//\n");
            } else {
                let _ = writeln!(s, "// {line}");
            }
        }
    }
    s
}

fn descriptions_module(defs: &[ObjectDef]) -> String {
    let mut s = String::from(
        "//! Object and resource descriptions (the DDF prose), compiled only with the descriptions feature.\n\n",
    );
    for def in defs {
        let id = def.model.id.get();
        let d = object_description(def);
        if !d.is_empty() {
            let _ = writeln!(s, "pub(super) const O{id}: &str = {};", string_literal(&d));
        }
        for r in def.model.resources.iter() {
            if !r.description.is_empty() {
                let _ =
                    writeln!(s, "pub(super) const O{id}_{}: &str = {};", r.id.get(), string_literal(&r.description));
            }
        }
    }
    s.push('\n');
    s.push_str(&notices(defs));
    s
}

/// The Rust type of a resource value in the typed trait.
fn rust_type(t: DataType) -> &'static str {
    match t {
        DataType::String | DataType::Corelnk => "String",
        DataType::Integer | DataType::Time => "i64",
        DataType::UnsignedInteger => "u64",
        DataType::Float => "f64",
        DataType::Boolean => "bool",
        DataType::Opaque => "Vec<u8>",
        DataType::Objlnk => "lc::Objlnk",
        DataType::None => "lc::Value",
    }
}

/// Names of one resource in a typed module.
struct ResNames<'a> {
    model: &'a ResourceModel,
    index: usize,
    constant: String,
    variant: String,
    getter: Option<String>,
    setter: Option<String>,
    exec: Option<String>,
}

fn unique(name: String, id: u16, used: &mut BTreeMap<String, ()>) -> String {
    let name = if used.contains_key(&name) { format!("{name}_{id}") } else { name };
    used.insert(name.clone(), ());
    name
}

fn typed_names(model: &ObjectModel) -> Vec<ResNames<'_>> {
    let mut consts = BTreeMap::new();
    // Reserve names the module defines itself.
    consts.insert("ID".to_owned(), ());
    consts.insert("VERSION".to_owned(), ());
    let mut variants = BTreeMap::new();
    let mut methods = BTreeMap::new();
    let mut out = Vec::new();
    for (index, r) in model.resources.iter().enumerate() {
        let id = r.id.get();
        let fallback_snake = format!("resource_{id}");
        let constant = unique(screaming(&r.name, &fallback_snake.to_ascii_uppercase()), id, &mut consts);
        let variant = unique(camel(&r.name, &format!("Resource{id}")), id, &mut variants);
        let base = snake(&r.name, &fallback_snake);
        let ops = r.operations;
        let bootstrap_only = ops == Operations::NONE;
        let (mut getter, mut setter, mut exec) = (None, None, None);
        if ops.execute {
            exec = Some(unique(base.clone(), id, &mut methods));
        } else {
            if ops.read || bootstrap_only {
                getter = Some(unique(base.clone(), id, &mut methods));
            }
            if ops.write || bootstrap_only {
                let plain = base.trim_end_matches('_');
                setter = Some(unique(format!("set_{plain}"), id, &mut methods));
            }
        }
        out.push(ResNames { model: r, index, constant, variant, getter, setter, exec });
    }
    out
}

/// A match pattern for sorted ids, with runs written as ranges (`0..=3 | 7`).
fn id_pattern(ids: &[u16]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let start = ids[i];
        let mut end = start;
        while i + 1 < ids.len() && ids[i + 1] == end + 1 {
            i += 1;
            end = ids[i];
        }
        parts.push(if end > start { format!("{start}..={end}") } else { start.to_string() });
        i += 1;
    }
    parts.join(" | ")
}

fn push_doc(s: &mut String, lines: &[String]) {
    for line in lines {
        if line.is_empty() {
            s.push_str("///\n");
        } else {
            let _ = writeln!(s, "/// {line}");
        }
    }
}

fn resource_summary(object: u16, r: &ResourceModel) -> String {
    let mut parts = vec![
        if r.operations == Operations::NONE {
            "no operations (bootstrap only)".to_owned()
        } else {
            r.operations.to_string()
        },
        if r.mandatory { "mandatory".into() } else { "optional".into() },
        if r.is_multiple() { "multiple".into() } else { "single".into() },
    ];
    if r.data_type != DataType::None {
        parts.push(r.data_type.ddf_name().to_owned());
    }
    if !r.range.is_empty() {
        parts.push(format!("range {}", r.range));
    }
    if !r.units.is_empty() {
        parts.push(format!("units {}", r.units));
    }
    format!("`/{object}/i/{}`, {}", r.id.get(), doc_lines(&parts.join(", ")).join(" "))
}

fn typed_module(generator: &Generator, def: &ObjectDef, index: usize, module: &str) -> String {
    let rt = &generator.runtime;
    let m = &def.model;
    let oid = m.id.get();
    let trait_name = camel(module, "Handler");
    let names = typed_names(m);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "//! Object {oid} {} (object version {}, LwM2M {}): typed access.",
        doc_lines(&format!("\"{}\"", m.name)).join(" "),
        m.version,
        m.lwm2m_version
    );
    let _ = writeln!(
        s,
        "//!\n\
         //! - [`Resource`] lists the resources with their metadata; the constants are their ids.\n\
         //! - Implement [`{trait_name}`] for one instance of the object.\n\
         //! - [`read()`], [`write()`], [`execute()`] and [`Adapter`] connect the trait to `Value`s for the client role."
    );
    let desc = doc_lines(&m.description);
    if !desc.is_empty() {
        s.push_str("//!\n");
        for line in desc {
            if line.is_empty() {
                s.push_str("//!\n");
            } else {
                let _ = writeln!(s, "//! {line}");
            }
        }
    }
    let _ = writeln!(
        s,
        "\nuse {rt}::lwm2m_core as lc;\nuse {rt}::typed as rt;\n\n\
         /// The object id, {oid}.\npub const ID: lc::ObjectId = lc::ObjectId::new({oid}).unwrap();\n\n\
         /// The object version this module was generated from.\npub const VERSION: lc::Version = lc::Version::new({}, {});\n\n\
         /// The object's model in the generated registry.\npub fn model() -> &'static lc::ObjectModel {{\n&super::OBJECTS[{index}]\n}}\n",
        m.version.major, m.version.minor
    );
    for n in &names {
        let _ = writeln!(
            s,
            "/// Resource id of {} ({}).\npub const {}: lc::ResourceId = lc::ResourceId::new({}).unwrap();",
            doc_lines(&format!("\"{}\"", n.model.name)).join(" "),
            resource_summary(oid, n.model),
            n.constant,
            n.model.id.get()
        );
    }
    // The resource enum.
    let _ = writeln!(
        s,
        "\n/// The resources of object {oid}.\n#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]\n#[non_exhaustive]\npub enum Resource {{"
    );
    for n in &names {
        let _ = writeln!(
            s,
            "/// {} ({}).\n{},",
            doc_lines(&format!("\"{}\"", n.model.name)).join(" "),
            resource_summary(oid, n.model),
            n.variant
        );
    }
    s.push_str("}\n\nimpl Resource {\n");
    let _ = writeln!(s, "/// Every resource, in id order.\npub const ALL: [Resource; {}] = [", names.len());
    for n in &names {
        let _ = writeln!(s, "Resource::{},", n.variant);
    }
    s.push_str("];\n\n/// The resource id.\npub const fn id(self) -> lc::ResourceId {\nmatch self {\n");
    for n in &names {
        let _ = writeln!(s, "Resource::{} => {},", n.variant, n.constant);
    }
    s.push_str("}\n}\n\n/// The resource with id `id`, if the object defines it.\npub fn from_id(id: lc::ResourceId) -> Option<Resource> {\nmatch id.get() {\n");
    for n in &names {
        let _ = writeln!(s, "{} => Some(Resource::{}),", n.model.id.get(), n.variant);
    }
    let _ = writeln!(
        s,
        "_ => None,\n}}\n}}\n\n/// The resource's model (name, operations, type, ...).\npub fn model(self) -> &'static lc::ResourceModel {{\nmatch self {{"
    );
    for n in &names {
        let _ = writeln!(s, "Resource::{} => &super::R_{oid}[{}],", n.variant, n.index);
    }
    s.push_str(
        "}\n}\n\n\
         /// The resource's name as in the object definition.\npub fn name(self) -> &'static str {\nlet model = self.model();\n&model.name\n}\n\n\
         /// The operations the resource allows.\npub fn operations(self) -> lc::Operations {\nself.model().operations\n}\n\n\
         /// The resource's data type.\npub fn data_type(self) -> lc::DataType {\nself.model().data_type\n}\n\n\
         /// Whether the resource is mandatory.\npub fn is_mandatory(self) -> bool {\nself.model().mandatory\n}\n\n\
         /// Whether the resource has multiple instances.\npub fn is_multiple(self) -> bool {\nself.model().is_multiple()\n}\n}\n\n\
         impl ::core::fmt::Display for Resource {\nfn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {\nf.write_str(self.name())\n}\n}\n\n",
    );
    // The handler trait.
    let _ = writeln!(
        s,
        "/// One instance of object {oid} {}, in typed Rust.\n///\n\
         /// Mandatory resources are required methods. Optional ones have defaults that make the\n\
         /// resource absent: getters return `Ok(None)`, setters and executables\n\
         /// `Err(ObjectError::NotFound)`. Multiple-instance resources map resource instance ids to values.\n\
         pub trait {trait_name} {{",
        doc_lines(&format!("\"{}\"", m.name)).join(" ")
    );
    for n in &names {
        let r = n.model;
        let ty = rust_type(r.data_type);
        let ty = if r.is_multiple() {
            format!("::std::collections::BTreeMap<lc::ResourceInstanceId, {ty}>")
        } else {
            ty.to_owned()
        };
        let desc = doc_lines(&r.description);
        let summary = resource_summary(oid, r);
        let title = doc_lines(&format!("\"{}\"", r.name)).join(" ");
        if let Some(getter) = &n.getter {
            let _ = writeln!(s, "/// Reads {title} ({summary}).");
            if !desc.is_empty() {
                s.push_str("///\n");
                push_doc(&mut s, &desc);
            }
            if r.mandatory {
                let _ = writeln!(s, "fn {getter}(&self) -> Result<{ty}, rt::ObjectError>;\n");
            } else {
                let _ = writeln!(
                    s,
                    "///\n/// `Ok(None)` (the default) means this instance does not have the resource.\n\
                     fn {getter}(&self) -> Result<Option<{ty}>, rt::ObjectError> {{\nOk(None)\n}}\n"
                );
            }
        }
        if let Some(setter) = &n.setter {
            let _ = writeln!(s, "/// Writes {title} ({summary}).");
            if n.getter.is_none() && !desc.is_empty() {
                s.push_str("///\n");
                push_doc(&mut s, &desc);
            }
            if r.mandatory {
                let _ = writeln!(s, "fn {setter}(&mut self, value: {ty}) -> Result<(), rt::ObjectError>;\n");
            } else {
                let _ = writeln!(
                    s,
                    "///\n/// The default fails with `ObjectError::NotFound`: the resource is absent.\n\
                     fn {setter}(&mut self, value: {ty}) -> Result<(), rt::ObjectError> {{\nlet _ = value;\nErr(rt::ObjectError::NotFound)\n}}\n"
                );
            }
        }
        if let Some(exec) = &n.exec {
            let _ = writeln!(
                s,
                "/// Executes {title} ({summary}); `args` is the Execute payload (e.g. `0='x',1`), often empty."
            );
            if !desc.is_empty() {
                s.push_str("///\n");
                push_doc(&mut s, &desc);
            }
            if r.mandatory {
                let _ = writeln!(s, "fn {exec}(&mut self, args: &str) -> Result<(), rt::ObjectError>;\n");
            } else {
                let _ = writeln!(
                    s,
                    "///\n/// The default fails with `ObjectError::NotFound`: the resource is absent.\n\
                     fn {exec}(&mut self, args: &str) -> Result<(), rt::ObjectError> {{\nlet _ = args;\nErr(rt::ObjectError::NotFound)\n}}\n"
                );
            }
        }
    }
    s.push_str("}\n\n");
    // Dispatch glue.
    let has_getter = names.iter().any(|n| n.getter.is_some());
    let has_setter = names.iter().any(|n| n.setter.is_some());
    let has_exec = names.iter().any(|n| n.exec.is_some());
    let ids = |pred: &dyn Fn(&ResNames<'_>) -> bool| {
        id_pattern(&names.iter().filter(|n| pred(n)).map(|n| n.model.id.get()).collect::<Vec<_>>())
    };
    let _ = writeln!(
        s,
        "/// Reads resource `resource` of the instance `handler` as an untyped value.\n///\n\
         /// Fails with `NotFound` for an id the object does not define or the instance lacks,\n\
         /// and with `MethodNotAllowed` for an executable or write-only resource. Access control and\n\
         /// interface rules (e.g. Security is bootstrap-only) are the caller's business.\n\
         pub fn read<H: {trait_name} + ?Sized>({}: &H, resource: lc::ResourceId) -> Result<lc::ResourceValue, rt::ObjectError> {{\nmatch resource.get() {{",
        if has_getter { "handler" } else { "_handler" }
    );
    for n in &names {
        if let Some(getter) = &n.getter {
            let f = match (n.model.mandatory, n.model.is_multiple()) {
                (true, false) => "Ok(rt::single",
                (true, true) => "Ok(rt::multiple",
                (false, false) => "rt::optional_single",
                (false, true) => "rt::optional_multiple",
            };
            let close = if n.model.mandatory { ")" } else { "" };
            let _ = writeln!(
                s,
                "{} => {f}(handler.{getter}()?, lc::DataType::{}){close},",
                n.model.id.get(),
                data_type(n.model.data_type).trim_start_matches("DataType::")
            );
        }
    }
    let not_readable = ids(&|n| n.getter.is_none());
    if !not_readable.is_empty() {
        let _ = writeln!(s, "{not_readable} => Err(rt::ObjectError::MethodNotAllowed),");
    }
    s.push_str("_ => Err(rt::ObjectError::NotFound),\n}\n}\n\n");
    let _ = writeln!(
        s,
        "/// Writes `value` to resource `resource` of the instance `handler`, converting it to the\n\
         /// resource's type (see `Value::convert`).\n///\n\
         /// Fails with `NotFound` for an unknown id, `MethodNotAllowed` for a resource that is not\n\
         /// writable, and `BadValue` when the value does not convert or its cardinality is wrong.\n\
         pub fn write<H: {trait_name} + ?Sized>({}: &mut H, resource: lc::ResourceId, value: lc::ResourceValue) -> Result<(), rt::ObjectError> {{\nmatch resource.get() {{",
        if has_setter { "handler" } else { "_handler" }
    );
    for n in &names {
        if let Some(setter) = &n.setter {
            let f = if n.model.is_multiple() { "decode_multiple" } else { "decode_single" };
            let _ = writeln!(
                s,
                "{} => handler.{setter}(rt::{f}(value, lc::DataType::{}, resource)?),",
                n.model.id.get(),
                data_type(n.model.data_type).trim_start_matches("DataType::")
            );
        }
    }
    let not_writable = ids(&|n| n.setter.is_none());
    if !not_writable.is_empty() {
        let _ = writeln!(s, "{not_writable} => {{\ndrop(value);\nErr(rt::ObjectError::MethodNotAllowed)\n}}");
    }
    s.push_str("_ => {\ndrop(value);\nErr(rt::ObjectError::NotFound)\n}\n}\n}\n\n");
    let _ = writeln!(
        s,
        "/// Executes resource `resource` of the instance `handler` with the Execute arguments `args`.\n///\n\
         /// Fails with `NotFound` for an unknown id and `MethodNotAllowed` for a resource that is not executable.\n\
         pub fn execute<H: {trait_name} + ?Sized>({}: &mut H, resource: lc::ResourceId, args: &str) -> Result<(), rt::ObjectError> {{\n{}match resource.get() {{",
        if has_exec { "handler" } else { "_handler" },
        if has_exec { "" } else { "let _ = args;\n" }
    );
    for n in &names {
        if let Some(exec) = &n.exec {
            let _ = writeln!(s, "{} => handler.{exec}(args),", n.model.id.get());
        }
    }
    let not_exec = ids(&|n| n.exec.is_none());
    if !not_exec.is_empty() {
        let _ = writeln!(s, "{not_exec} => Err(rt::ObjectError::MethodNotAllowed),");
    }
    s.push_str("_ => Err(rt::ObjectError::NotFound),\n}\n}\n\n");
    let _ = writeln!(
        s,
        "/// Wraps a [`{trait_name}`] implementation as an untyped [`ObjectInstance`](rt::ObjectInstance),\n\
         /// so the client role can drive it like any other object instance.\n\
         #[derive(Debug, Clone, Default, PartialEq)]\npub struct Adapter<H>(pub H);\n\n\
         impl<H: {trait_name}> rt::ObjectInstance for Adapter<H> {{\n\
         fn model(&self) -> &lc::ObjectModel {{\nmodel()\n}}\n\n\
         fn read(&self, resource: lc::ResourceId) -> Result<lc::ResourceValue, rt::ObjectError> {{\nread(&self.0, resource)\n}}\n\n\
         fn write(&mut self, resource: lc::ResourceId, value: lc::ResourceValue) -> Result<(), rt::ObjectError> {{\nwrite(&mut self.0, resource, value)\n}}\n\n\
         fn execute(&mut self, resource: lc::ResourceId, args: &str) -> Result<(), rt::ObjectError> {{\nexecute(&mut self.0, resource, args)\n}}\n}}"
    );
    s
}
