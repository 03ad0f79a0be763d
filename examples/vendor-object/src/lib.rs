//! Example: a vendor LwM2M object generated from its own DDF XML by a build script
//! (`build.rs` calls `lwm2m_ddf::Generator`), with a typed handler implementing the
//! generated trait.
//!
//! The generated file holds a [`Registry`] of the vendor objects, the [`OBJECTS`] table and
//! the typed module [`acme_lamp`]; [`Lamp`] implements [`acme_lamp::AcmeLamp`].
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use lwm2m_objects::lwm2m_core::{ModelSet, ResourceInstanceId};
use lwm2m_objects::typed::ObjectError;

mod generated {
    include!(concat!(env!("OUT_DIR"), "/acme.rs"));
}

pub use generated::{OBJECT_COUNT, OBJECTS, RESOURCE_COUNT, Registry, acme_lamp};

/// A registry that knows the vendor objects and, through its parent, every OMA object.
pub fn registry() -> ModelSet {
    let mut set = ModelSet::with_parent(lwm2m_objects::registry());
    for object in &OBJECTS {
        set.insert(object.clone());
    }
    set
}

/// One lamp: the typed implementation of the vendor object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lamp {
    /// Lit or not.
    pub on: bool,
    /// Brightness 0..=100.
    pub dimmer: i64,
    /// Hours per bulb.
    pub burn_hours: Vec<f64>,
    /// Blinks so far.
    pub blinks: u32,
}

impl acme_lamp::AcmeLamp for Lamp {
    fn on_off(&self) -> Result<bool, ObjectError> {
        Ok(self.on)
    }

    fn set_on_off(&mut self, value: bool) -> Result<(), ObjectError> {
        self.on = value;
        Ok(())
    }

    fn dimmer(&self) -> Result<Option<i64>, ObjectError> {
        Ok(Some(self.dimmer))
    }

    fn set_dimmer(&mut self, value: i64) -> Result<(), ObjectError> {
        if !(0..=100).contains(&value) {
            return Err(ObjectError::BadValue {
                resource: acme_lamp::DIMMER,
                reason: format!("{value} is not in 0..100"),
            });
        }
        self.dimmer = value;
        Ok(())
    }

    fn burn_hours(&self) -> Result<BTreeMap<ResourceInstanceId, f64>, ObjectError> {
        let mut out = BTreeMap::new();
        for (i, hours) in self.burn_hours.iter().enumerate() {
            let id = u16::try_from(i).ok().and_then(ResourceInstanceId::new);
            let id = id.ok_or_else(|| ObjectError::internal("too many bulbs"))?;
            out.insert(id, *hours);
        }
        Ok(out)
    }

    fn blink(&mut self, args: &str) -> Result<(), ObjectError> {
        // Accepts "" (once) or "0='n'".
        let count = match args.strip_prefix("0='").and_then(|a| a.strip_suffix('\'')) {
            Some(n) => n.parse::<u32>().map_err(|_| ObjectError::BadValue {
                resource: acme_lamp::BLINK,
                reason: format!("bad blink count {n:?}"),
            })?,
            None if args.is_empty() => 1,
            None => {
                return Err(ObjectError::BadValue {
                    resource: acme_lamp::BLINK,
                    reason: format!("bad arguments {args:?}"),
                });
            }
        };
        self.blinks += count;
        Ok(())
    }
}
