//! Notification attributes (`pmin pmax gt lt st epmin epmax`, and `edge con hqmax` of 1.2)
//! in their query-string form.
//!
//! Write-Attributes carries them as CoAP Uri-Query options: `pmin=10`, `pmax=60`, and a
//! bare `pmin` meaning "unset pmin at this level". [`Attribute`] is one such item;
//! [`NotificationAttributes`] is the set stored at one level (object, instance, resource or
//! resource instance), to which a Write-Attributes request is [applied](NotificationAttributes::apply).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use crate::error::AttributeError;

/// The name of a writable notification attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AttributeName {
    /// Minimum period (s).
    Pmin,
    /// Maximum period (s).
    Pmax,
    /// Greater-than threshold.
    Gt,
    /// Less-than threshold.
    Lt,
    /// Step.
    St,
    /// Minimum evaluation period (s, 1.1).
    Epmin,
    /// Maximum evaluation period (s, 1.1).
    Epmax,
    /// Edge: notify on a falling (0) or rising (1) edge of a boolean (1.2).
    Edge,
    /// Send notifications as confirmable (1) or not (0) (1.2).
    Con,
    /// History queue depth while offline (1.2).
    Hqmax,
}

impl AttributeName {
    /// All names, in canonical order.
    pub const ALL: [AttributeName; 10] = [
        AttributeName::Pmin,
        AttributeName::Pmax,
        AttributeName::Gt,
        AttributeName::Lt,
        AttributeName::St,
        AttributeName::Epmin,
        AttributeName::Epmax,
        AttributeName::Edge,
        AttributeName::Con,
        AttributeName::Hqmax,
    ];

    /// The query name (`"pmin"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            AttributeName::Pmin => "pmin",
            AttributeName::Pmax => "pmax",
            AttributeName::Gt => "gt",
            AttributeName::Lt => "lt",
            AttributeName::St => "st",
            AttributeName::Epmin => "epmin",
            AttributeName::Epmax => "epmax",
            AttributeName::Edge => "edge",
            AttributeName::Con => "con",
            AttributeName::Hqmax => "hqmax",
        }
    }
}

impl FromStr for AttributeName {
    type Err = AttributeError;

    fn from_str(s: &str) -> Result<Self, AttributeError> {
        if let Some(n) = AttributeName::ALL.into_iter().find(|n| n.as_str() == s) {
            return Ok(n);
        }
        match s {
            "dim" => Err(AttributeError::ReadOnly { name: "dim" }),
            "ssid" => Err(AttributeError::ReadOnly { name: "ssid" }),
            "uri" => Err(AttributeError::ReadOnly { name: "uri" }),
            "ver" => Err(AttributeError::ReadOnly { name: "ver" }),
            "lwm2m" => Err(AttributeError::ReadOnly { name: "lwm2m" }),
            _ => Err(AttributeError::Unknown { name: s.into() }),
        }
    }
}

impl fmt::Display for AttributeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One attribute of a query: a value to set, or `None` to unset it at this level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Attribute {
    /// `pmin[=seconds]`
    Pmin(Option<u32>),
    /// `pmax[=seconds]`
    Pmax(Option<u32>),
    /// `gt[=number]`
    Gt(Option<f64>),
    /// `lt[=number]`
    Lt(Option<f64>),
    /// `st[=number]` (non-negative)
    St(Option<f64>),
    /// `epmin[=seconds]`
    Epmin(Option<u32>),
    /// `epmax[=seconds]`
    Epmax(Option<u32>),
    /// `edge[=0|1]`
    Edge(Option<bool>),
    /// `con[=0|1]`
    Con(Option<bool>),
    /// `hqmax[=count]`
    Hqmax(Option<u32>),
}

impl Attribute {
    /// The attribute's name.
    pub const fn name(&self) -> AttributeName {
        match self {
            Attribute::Pmin(_) => AttributeName::Pmin,
            Attribute::Pmax(_) => AttributeName::Pmax,
            Attribute::Gt(_) => AttributeName::Gt,
            Attribute::Lt(_) => AttributeName::Lt,
            Attribute::St(_) => AttributeName::St,
            Attribute::Epmin(_) => AttributeName::Epmin,
            Attribute::Epmax(_) => AttributeName::Epmax,
            Attribute::Edge(_) => AttributeName::Edge,
            Attribute::Con(_) => AttributeName::Con,
            Attribute::Hqmax(_) => AttributeName::Hqmax,
        }
    }

    /// True when this item unsets the attribute.
    pub const fn is_unset(&self) -> bool {
        match self {
            Attribute::Pmin(v)
            | Attribute::Pmax(v)
            | Attribute::Epmin(v)
            | Attribute::Epmax(v)
            | Attribute::Hqmax(v) => v.is_none(),
            Attribute::Gt(v) | Attribute::Lt(v) | Attribute::St(v) => v.is_none(),
            Attribute::Edge(v) | Attribute::Con(v) => v.is_none(),
        }
    }

    /// Parses one query item, `name=value` or a bare `name`.
    pub fn parse(item: &str) -> Result<Attribute, AttributeError> {
        let (name, value) = match item.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (item, None),
        };
        let name: AttributeName = name.parse()?;
        let invalid = |reason| AttributeError::InvalidValue {
            name: name.as_str(),
            value: value.unwrap_or_default().into(),
            reason,
        };
        let seconds = |v: Option<&str>| -> Result<Option<u32>, AttributeError> {
            v.map(|v| {
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid("expected a non-negative integer"));
                }
                v.parse::<u32>().map_err(|_| invalid("expected an integer in 0..=4294967295"))
            })
            .transpose()
        };
        let number = |v: Option<&str>| -> Result<Option<f64>, AttributeError> {
            v.map(|v| {
                let ok = !v.is_empty()
                    && v.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
                match ok.then(|| v.parse::<f64>().ok()).flatten() {
                    Some(f) if f.is_finite() => Ok(f),
                    _ => Err(invalid("expected a finite decimal number")),
                }
            })
            .transpose()
        };
        let flag = |v: Option<&str>| -> Result<Option<bool>, AttributeError> {
            v.map(|v| match v {
                "0" => Ok(false),
                "1" => Ok(true),
                _ => Err(invalid("expected 0 or 1")),
            })
            .transpose()
        };
        Ok(match name {
            AttributeName::Pmin => Attribute::Pmin(seconds(value)?),
            AttributeName::Pmax => Attribute::Pmax(seconds(value)?),
            AttributeName::Gt => Attribute::Gt(number(value)?),
            AttributeName::Lt => Attribute::Lt(number(value)?),
            AttributeName::St => {
                let st = number(value)?;
                if st.is_some_and(|s| s < 0.0) {
                    return Err(invalid("the step must not be negative"));
                }
                Attribute::St(st)
            }
            AttributeName::Epmin => Attribute::Epmin(seconds(value)?),
            AttributeName::Epmax => Attribute::Epmax(seconds(value)?),
            AttributeName::Edge => Attribute::Edge(flag(value)?),
            AttributeName::Con => Attribute::Con(flag(value)?),
            AttributeName::Hqmax => Attribute::Hqmax(seconds(value)?),
        })
    }

    /// Parses the Uri-Query items of a request (`["pmin=10", "pmax"]`) into attributes,
    /// refusing a repeated name.
    pub fn parse_query_items<'a, I>(items: I) -> Result<Vec<Attribute>, AttributeError>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut out: Vec<Attribute> = Vec::new();
        for item in items {
            let attr = Attribute::parse(item)?;
            if out.iter().any(|a| a.name() == attr.name()) {
                return Err(AttributeError::Duplicate { name: attr.name().as_str() });
            }
            out.push(attr);
        }
        Ok(out)
    }

    /// Parses a whole query string (`pmin=10&pmax=60`, with or without a leading `?`).
    pub fn parse_query(query: &str) -> Result<Vec<Attribute>, AttributeError> {
        let query = query.strip_prefix('?').unwrap_or(query);
        if query.is_empty() {
            return Ok(Vec::new());
        }
        Attribute::parse_query_items(query.split('&'))
    }

    /// Formats attributes as a query string without the leading `?` (`pmin=10&pmax`).
    pub fn format_query(attrs: &[Attribute]) -> String {
        let mut s = String::new();
        for (i, a) in attrs.iter().enumerate() {
            if i > 0 {
                s.push('&');
            }
            s.push_str(&a.to_string());
        }
        s
    }
}

impl fmt::Display for Attribute {
    /// `name=value`, or the bare name for an unset.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name().as_str())?;
        match *self {
            Attribute::Pmin(Some(v))
            | Attribute::Pmax(Some(v))
            | Attribute::Epmin(Some(v))
            | Attribute::Epmax(Some(v))
            | Attribute::Hqmax(Some(v)) => write!(f, "={v}"),
            Attribute::Gt(Some(v)) | Attribute::Lt(Some(v)) | Attribute::St(Some(v)) => write!(f, "={v}"),
            Attribute::Edge(Some(v)) | Attribute::Con(Some(v)) => write!(f, "={}", u8::from(v)),
            _ => Ok(()),
        }
    }
}

/// The notification attributes set at one level of the tree. `None` means "not set here"
/// (inherit from the level above, or the server's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NotificationAttributes {
    /// Minimum period (s).
    pub pmin: Option<u32>,
    /// Maximum period (s).
    pub pmax: Option<u32>,
    /// Greater-than threshold.
    pub gt: Option<f64>,
    /// Less-than threshold.
    pub lt: Option<f64>,
    /// Step.
    pub st: Option<f64>,
    /// Minimum evaluation period (s).
    pub epmin: Option<u32>,
    /// Maximum evaluation period (s).
    pub epmax: Option<u32>,
    /// Edge (1.2).
    pub edge: Option<bool>,
    /// Confirmable notifications (1.2).
    pub con: Option<bool>,
    /// History queue depth (1.2).
    pub hqmax: Option<u32>,
}

impl NotificationAttributes {
    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == NotificationAttributes::default()
    }

    /// Applies set/unset items in order, then checks the result with
    /// [`validate`](Self::validate). On error `self` is left unchanged, as a refused
    /// Write-Attributes must change nothing.
    pub fn apply(&mut self, attrs: &[Attribute]) -> Result<(), AttributeError> {
        let mut next = *self;
        for a in attrs {
            match *a {
                Attribute::Pmin(v) => next.pmin = v,
                Attribute::Pmax(v) => next.pmax = v,
                Attribute::Gt(v) => next.gt = v,
                Attribute::Lt(v) => next.lt = v,
                Attribute::St(v) => next.st = v,
                Attribute::Epmin(v) => next.epmin = v,
                Attribute::Epmax(v) => next.epmax = v,
                Attribute::Edge(v) => next.edge = v,
                Attribute::Con(v) => next.con = v,
                Attribute::Hqmax(v) => next.hqmax = v,
            }
        }
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// Checks the rules between attributes: `lt < gt`, `lt + 2*st < gt`, `epmin < epmax`.
    pub fn validate(&self) -> Result<(), AttributeError> {
        if let (Some(lt), Some(gt)) = (self.lt, self.gt) {
            if lt >= gt {
                return Err(AttributeError::LtNotBelowGt { lt, gt });
            }
            if let Some(st) = self.st {
                if lt + 2.0 * st >= gt {
                    return Err(AttributeError::StepTooLarge { lt, st, gt });
                }
            }
        }
        if let (Some(epmin), Some(epmax)) = (self.epmin, self.epmax) {
            if epmin >= epmax {
                return Err(AttributeError::EpminNotBelowEpmax { epmin, epmax });
            }
        }
        Ok(())
    }

    /// The attributes that are set, in canonical order.
    pub fn to_attributes(&self) -> Vec<Attribute> {
        let mut v = Vec::new();
        let mut push = |present: bool, a: Attribute| {
            if present {
                v.push(a);
            }
        };
        push(self.pmin.is_some(), Attribute::Pmin(self.pmin));
        push(self.pmax.is_some(), Attribute::Pmax(self.pmax));
        push(self.gt.is_some(), Attribute::Gt(self.gt));
        push(self.lt.is_some(), Attribute::Lt(self.lt));
        push(self.st.is_some(), Attribute::St(self.st));
        push(self.epmin.is_some(), Attribute::Epmin(self.epmin));
        push(self.epmax.is_some(), Attribute::Epmax(self.epmax));
        push(self.edge.is_some(), Attribute::Edge(self.edge));
        push(self.con.is_some(), Attribute::Con(self.con));
        push(self.hqmax.is_some(), Attribute::Hqmax(self.hqmax));
        v
    }

    /// Fills every attribute not set here from `parent` (the level above).
    #[must_use]
    pub fn inherit(&self, parent: &NotificationAttributes) -> NotificationAttributes {
        NotificationAttributes {
            pmin: self.pmin.or(parent.pmin),
            pmax: self.pmax.or(parent.pmax),
            gt: self.gt.or(parent.gt),
            lt: self.lt.or(parent.lt),
            st: self.st.or(parent.st),
            epmin: self.epmin.or(parent.epmin),
            epmax: self.epmax.or(parent.epmax),
            edge: self.edge.or(parent.edge),
            con: self.con.or(parent.con),
            hqmax: self.hqmax.or(parent.hqmax),
        }
    }
}

impl FromStr for NotificationAttributes {
    type Err = AttributeError;

    /// Parses a query string (`pmin=10&pmax=60`) onto an empty set.
    fn from_str(s: &str) -> Result<Self, AttributeError> {
        let mut attrs = NotificationAttributes::default();
        attrs.apply(&Attribute::parse_query(s)?)?;
        Ok(attrs)
    }
}

impl fmt::Display for NotificationAttributes {
    /// The query form of the attributes that are set (`pmin=10&pmax=60`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Attribute::format_query(&self.to_attributes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    #[test]
    fn parse_items() {
        assert_eq!(Attribute::parse("pmin=10").unwrap(), Attribute::Pmin(Some(10)));
        assert_eq!(Attribute::parse("pmin").unwrap(), Attribute::Pmin(None));
        assert_eq!(Attribute::parse("gt=42.2").unwrap(), Attribute::Gt(Some(42.2)));
        assert_eq!(Attribute::parse("lt=-5").unwrap(), Attribute::Lt(Some(-5.0)));
        assert_eq!(Attribute::parse("edge=1").unwrap(), Attribute::Edge(Some(true)));
        assert_eq!(Attribute::parse("con=0").unwrap(), Attribute::Con(Some(false)));
        assert_eq!(Attribute::parse("hqmax=5").unwrap(), Attribute::Hqmax(Some(5)));
        assert!(Attribute::parse("pmin").unwrap().is_unset());
    }

    #[test]
    fn parse_errors_name_the_attribute() {
        assert_eq!(Attribute::parse("foo=1").unwrap_err(), AttributeError::Unknown { name: "foo".into() });
        assert_eq!(Attribute::parse("dim=2").unwrap_err(), AttributeError::ReadOnly { name: "dim" });
        assert!(matches!(Attribute::parse("pmin=-1"), Err(AttributeError::InvalidValue { name: "pmin", .. })));
        assert!(matches!(Attribute::parse("pmin="), Err(AttributeError::InvalidValue { name: "pmin", .. })));
        assert!(matches!(Attribute::parse("pmax=99999999999"), Err(AttributeError::InvalidValue { .. })));
        assert!(matches!(Attribute::parse("gt=abc"), Err(AttributeError::InvalidValue { name: "gt", .. })));
        assert!(matches!(Attribute::parse("gt=inf"), Err(AttributeError::InvalidValue { .. })));
        assert!(matches!(Attribute::parse("st=-1"), Err(AttributeError::InvalidValue { name: "st", .. })));
        assert!(matches!(Attribute::parse("edge=2"), Err(AttributeError::InvalidValue { name: "edge", .. })));
        assert_eq!(Attribute::parse_query("pmin=1&pmin=2").unwrap_err(), AttributeError::Duplicate { name: "pmin" });
        let msg = Attribute::parse("pmin=x").unwrap_err().to_string();
        assert!(msg.contains("pmin") && msg.contains("\"x\""), "{msg}");
    }

    #[test]
    fn query_round_trip_and_rules() {
        let q = "pmin=10&pmax=60&gt=50&lt=42.2&st=1";
        let attrs: NotificationAttributes = q.parse().unwrap();
        assert_eq!(attrs.pmin, Some(10));
        assert_eq!(attrs.to_string(), q);
        assert_eq!(Attribute::format_query(&Attribute::parse_query("?pmin&gt=1").unwrap()), "pmin&gt=1");
        assert!(matches!("gt=1&lt=2".parse::<NotificationAttributes>(), Err(AttributeError::LtNotBelowGt { .. })));
        assert!(matches!(
            "gt=10&lt=2&st=4".parse::<NotificationAttributes>(),
            Err(AttributeError::StepTooLarge { .. })
        ));
        assert!(matches!(
            "epmin=10&epmax=5".parse::<NotificationAttributes>(),
            Err(AttributeError::EpminNotBelowEpmax { .. })
        ));
        assert!("".parse::<NotificationAttributes>().unwrap().is_empty());
    }

    #[test]
    fn apply_unsets_and_is_atomic() {
        let mut attrs: NotificationAttributes = "pmin=10&pmax=60&gt=50".parse().unwrap();
        attrs.apply(&Attribute::parse_query("pmin&pmax=120").unwrap()).unwrap();
        assert_eq!(attrs.pmin, None);
        assert_eq!(attrs.pmax, Some(120));
        let before = attrs;
        assert!(attrs.apply(&[Attribute::Pmax(Some(1)), Attribute::Lt(Some(60.0))]).is_err());
        assert_eq!(attrs, before);
    }

    #[test]
    fn inheritance() {
        let resource: NotificationAttributes = "pmin=5".parse().unwrap();
        let instance: NotificationAttributes = "pmin=10&pmax=60".parse().unwrap();
        let eff = resource.inherit(&instance);
        assert_eq!((eff.pmin, eff.pmax), (Some(5), Some(60)));
        assert_eq!(
            vec![AttributeName::Pmin, AttributeName::Pmax],
            eff.to_attributes().iter().map(Attribute::name).collect::<Vec<_>>()
        );
    }

    fn arb_attrs() -> impl Strategy<Value = NotificationAttributes> {
        let f = || prop::option::of(-1.0e9f64..1.0e9);
        (
            prop::option::of(any::<u32>()),
            prop::option::of(any::<u32>()),
            f(),
            f(),
            prop::option::of(0.0f64..1.0e6),
            prop::option::of(any::<u32>()),
            prop::option::of(any::<u32>()),
            prop::option::of(any::<bool>()),
            prop::option::of(any::<bool>()),
            prop::option::of(any::<u32>()),
        )
            .prop_map(|(pmin, pmax, gt, lt, st, epmin, epmax, edge, con, hqmax)| NotificationAttributes {
                pmin,
                pmax,
                gt,
                lt,
                st,
                epmin,
                epmax,
                edge,
                con,
                hqmax,
            })
            .prop_filter("consistent", |a| a.validate().is_ok())
    }

    proptest! {
        #[test]
        fn attributes_round_trip(attrs in arb_attrs()) {
            let text = attrs.to_string();
            prop_assert_eq!(text.parse::<NotificationAttributes>().unwrap(), attrs);
        }

        #[test]
        fn items_round_trip(attrs in arb_attrs(), unset in prop::collection::vec(0usize..10, 0..3)) {
            let mut items = attrs.to_attributes();
            for i in unset {
                let name = AttributeName::ALL[i];
                if !items.iter().any(|a| a.name() == name) {
                    items.push(Attribute::parse(name.as_str()).unwrap());
                }
            }
            let q = Attribute::format_query(&items);
            prop_assert_eq!(Attribute::parse_query(&q).unwrap(), items);
        }

        #[test]
        fn arbitrary_queries_never_panic(q in "[a-z=&0-9.\\-]{0,40}") {
            let _ = q.parse::<NotificationAttributes>();
        }
    }
}
