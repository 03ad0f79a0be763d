//! Run-time loading of vendor object definitions (feature `ddf`), as Leshan's object
//! loader does: a server learns vendor objects without recompiling.
//!
//! [`DynamicRegistry`] holds the loaded models in a [`ModelSet`] whose parent is the static
//! [`registry()`](crate::registry()), so lookups find loaded objects first and fall back to
//! the OMA registry. Inputs are parsed and validated by `lwm2m-ddf`, with exactly the
//! errors the code generator gives ([`DdfError`]).
//!
//! Rules: a loaded definition may **replace** a registry object with the same id (for
//! example an older version of the Security object); loading the same id **twice** is an
//! error ([`DdfErrorKind::DuplicateObject`]). A failed load changes nothing: a file is
//! validated completely before any of its objects is added.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lwm2m_core::{ModelRegistry, ModelSet, ObjectId, ObjectModel};
use lwm2m_ddf::Parser;
pub use lwm2m_ddf::{DdfError, DdfErrorKind, Limits, ObjectDef};

/// A registry of loaded vendor objects that extends the static registry.
#[derive(Debug)]
pub struct DynamicRegistry {
    set: ModelSet,
    sources: BTreeMap<ObjectId, String>,
    parser: Parser,
}

impl Default for DynamicRegistry {
    fn default() -> Self {
        DynamicRegistry::new()
    }
}

impl DynamicRegistry {
    /// An empty extension of [`crate::registry()`], with default parsing [`Limits`].
    pub fn new() -> Self {
        DynamicRegistry::with_limits(Limits::default())
    }

    /// An empty extension of [`crate::registry()`] that parses under `limits`.
    pub fn with_limits(limits: Limits) -> Self {
        DynamicRegistry {
            set: ModelSet::with_parent(crate::registry()),
            sources: BTreeMap::new(),
            parser: Parser::with_limits(limits),
        }
    }

    /// Loads the definitions in `text`; `source_name` names it in errors. Returns the ids
    /// loaded.
    pub fn load_str(&mut self, text: &str, source_name: &str) -> Result<Vec<ObjectId>, DdfError> {
        let defs = self.parser.parse_str(text, source_name)?;
        self.add(defs)
    }

    /// Loads the definitions in `bytes` (UTF-8, optional byte order mark).
    pub fn load_bytes(&mut self, bytes: &[u8], source_name: &str) -> Result<Vec<ObjectId>, DdfError> {
        let defs = self.parser.parse_bytes(bytes, source_name)?;
        self.add(defs)
    }

    /// Loads the definitions of the file at `path` (errors name the path as given).
    pub fn load_file(&mut self, path: impl AsRef<Path>) -> Result<Vec<ObjectId>, DdfError> {
        let defs = self.parser.parse_file(path)?;
        self.add(defs)
    }

    /// Loads every `*.xml` file of `dir` (not recursive) in file-name order; stops at the
    /// first error, keeping the files loaded before it.
    pub fn load_dir(&mut self, dir: impl AsRef<Path>) -> Result<Vec<ObjectId>, DdfError> {
        let dir = dir.as_ref();
        let io = |e: std::io::Error| {
            DdfError::new(
                &dir.display().to_string(),
                DdfErrorKind::Io { path: dir.to_path_buf(), message: e.to_string() },
            )
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "xml") && p.is_file())
            .collect();
        files.sort();
        let mut loaded = Vec::new();
        for file in files {
            loaded.extend(self.load_file(&file)?);
        }
        Ok(loaded)
    }

    /// The models loaded at run time (not the static ones), in id order.
    pub fn loaded(&self) -> impl Iterator<Item = &ObjectModel> {
        self.set.iter()
    }

    /// The source name a loaded object came from.
    pub fn source_of(&self, id: ObjectId) -> Option<&str> {
        self.sources.get(&id).map(String::as_str)
    }

    fn add(&mut self, defs: Vec<ObjectDef>) -> Result<Vec<ObjectId>, DdfError> {
        for def in &defs {
            if let Some(first) = self.sources.get(&def.model.id) {
                let kind = DdfErrorKind::DuplicateObject { id: def.model.id.get(), first: first.clone() };
                return Err(DdfError::new(&def.source_name, kind).at(def.line, 1));
            }
        }
        let mut ids = Vec::with_capacity(defs.len());
        for def in defs {
            ids.push(def.model.id);
            self.sources.insert(def.model.id, format!("{}:{}", def.source_name, def.line));
            self.set.insert(def.model);
        }
        Ok(ids)
    }
}

impl ModelRegistry for DynamicRegistry {
    fn object(&self, id: ObjectId) -> Option<&ObjectModel> {
        self.set.object(id)
    }
}
