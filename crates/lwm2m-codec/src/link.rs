//! CoRE Link Format (`application/link-format`, content format 40, RFC 6690), parsed with
//! `nom`, and the LwM2M payloads built on it: registration object lists, Discover and
//! Bootstrap-Discover responses.
//!
//! Syntax accepted: `<target>` followed by `;name`, `;name=token` or `;name="quoted"`
//! parameters, links separated by `,`. Quoted strings use RFC 2616 `quoted-pair`
//! escaping (`\"`, `\\`) both ways. ASCII whitespace around separators is tolerated on
//! input (some clients emit line breaks) and never produced.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

use lwm2m_core::{AlternateRoot, ContentFormat, Path, Version};
use nom::IResult;
use nom::Parser;
use nom::bytes::complete::{take_till, take_while1};
use nom::character::complete::char;

use crate::{DecodeError, Limits};

const CF: ContentFormat = ContentFormat::LINK_FORMAT;

/// One parameter of a link: `name`, `name=value` or `name="value"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkParam {
    /// Parameter name (`rt`, `ct`, `ver`, `dim`, `pmin`...).
    pub name: String,
    /// Value, unescaped; `None` for a bare flag.
    pub value: Option<String>,
    /// Whether the value was (or must be) written as a quoted string.
    pub quoted: bool,
}

impl LinkParam {
    /// `name=value`, quoted only if the value needs it.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        LinkParam { name: name.into(), value: Some(value.into()), quoted: false }
    }

    /// `name="value"`, always quoted (as LwM2M writes `rt="oma.lwm2m"`).
    pub fn quoted(name: impl Into<String>, value: impl Into<String>) -> Self {
        LinkParam { name: name.into(), value: Some(value.into()), quoted: true }
    }

    /// A bare `name` flag.
    pub fn flag(name: impl Into<String>) -> Self {
        LinkParam { name: name.into(), value: None, quoted: false }
    }
}

/// One link: a target URI reference and its parameters, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The URI reference between `<` and `>`.
    pub target: String,
    /// The parameters.
    pub params: Vec<LinkParam>,
}

impl Link {
    /// A link with no parameters.
    pub fn new(target: impl Into<String>) -> Self {
        Link { target: target.into(), params: Vec::new() }
    }

    /// Builder: appends a parameter.
    #[must_use]
    pub fn with(mut self, param: LinkParam) -> Self {
        self.params.push(param);
        self
    }

    /// The first parameter named `name`.
    pub fn param(&self, name: &str) -> Option<&LinkParam> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The value of the first parameter named `name` (`Some("")` never stands for a flag:
    /// flags give `None`, use [`Link::param`] to test them).
    pub fn value(&self, name: &str) -> Option<&str> {
        self.param(name).and_then(|p| p.value.as_deref())
    }
}

fn is_ptoken(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'()*+-./:<=>?@[]^_`{|}~".contains(c)
}

fn is_parmname(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$&+-.^_`|~*".contains(c)
}

fn ws(i: &str) -> &str {
    i.trim_start_matches([' ', '\t', '\r', '\n'])
}

fn quoted(input: &str) -> IResult<&str, String> {
    let unterminated = || nom::Err::Failure(nom::error::Error::new(input, nom::error::ErrorKind::Escaped));
    let (mut i, _) = char('"').parse(input)?;
    let mut out = String::new();
    loop {
        let mut chars = i.chars();
        match chars.next() {
            None => return Err(unterminated()),
            Some('"') => return Ok((chars.as_str(), out)),
            Some('\\') => match chars.next() {
                Some(c) => {
                    out.push(c);
                    i = chars.as_str();
                }
                None => return Err(unterminated()),
            },
            Some(c) => {
                out.push(c);
                i = chars.as_str();
            }
        }
    }
}

fn param(i: &str) -> IResult<&str, LinkParam> {
    let (i, name) = take_while1(is_parmname).parse(i)?;
    let Some(rest) = i.strip_prefix('=') else {
        return Ok((i, LinkParam::flag(name)));
    };
    if rest.starts_with('"') {
        let (i, v) = quoted(rest)?;
        Ok((i, LinkParam::quoted(name, v)))
    } else {
        let (i, v) = take_while1(is_ptoken).parse(rest)?;
        Ok((i, LinkParam::new(name, v)))
    }
}

/// One link with at most `max_params` parameters; more fail with `ErrorKind::TooLarge`.
fn link(i: &str, max_params: usize) -> IResult<&str, Link> {
    let (i, _) = char('<').parse(i)?;
    let (i, target) = take_till(|c| c == '>').parse(i)?;
    let (mut i, _) = char('>').parse(i)?;
    let mut l = Link::new(target);
    loop {
        let rest = ws(i);
        let Some(rest) = rest.strip_prefix(';') else { break };
        if l.params.len() >= max_params {
            return Err(nom::Err::Failure(nom::error::Error::new(rest, nom::error::ErrorKind::TooLarge)));
        }
        let (rest, p) = param(ws(rest))?;
        l.params.push(p);
        i = rest;
    }
    Ok((i, l))
}

/// Parses a link-format payload into links.
pub fn parse(payload: &[u8], limits: &Limits) -> Result<Vec<Link>, DecodeError> {
    limits.check_payload(payload.len())?;
    let text =
        core::str::from_utf8(payload).map_err(|e| DecodeError::InvalidUtf8 { format: CF, offset: e.valid_up_to() })?;
    let offset = |rest: &str| text.len() - rest.len();
    let mut out = Vec::new();
    // Links and their parameters both count against `max_entries`.
    let mut values = 0usize;
    let mut i = ws(text);
    if i.is_empty() {
        return Ok(out);
    }
    loop {
        let budget = limits.max_entries.saturating_sub(values + 1);
        let (rest, l) = link(i, budget).map_err(|e| {
            if let nom::Err::Failure(f) = &e
                && f.code == nom::error::ErrorKind::TooLarge
            {
                return limits.check_entries(limits.max_entries.saturating_add(1)).err().unwrap_or(
                    DecodeError::Malformed { format: CF, offset: offset(f.input), reason: "too many link parameters" },
                );
            }
            let (at, reason) = match &e {
                nom::Err::Error(e) | nom::Err::Failure(e) if e.code == nom::error::ErrorKind::Escaped => {
                    (offset(e.input), "unterminated quoted string")
                }
                nom::Err::Error(e) | nom::Err::Failure(e) => {
                    (offset(e.input), "expected <target> followed by ;name[=value] parameters")
                }
                nom::Err::Incomplete(_) => (text.len(), "unexpected end of input"),
            };
            DecodeError::Malformed { format: CF, offset: at, reason }
        })?;
        values += 1 + l.params.len();
        out.push(l);
        limits.check_entries(values)?;
        let rest = ws(rest);
        if rest.is_empty() {
            break;
        }
        let Some(rest) = rest.strip_prefix(',') else {
            return Err(DecodeError::Malformed {
                format: CF,
                offset: offset(rest),
                reason: "expected ',' between links",
            });
        };
        i = ws(rest);
    }
    Ok(out)
}

impl fmt::Display for LinkParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        let Some(v) = &self.value else { return Ok(()) };
        if self.quoted || v.is_empty() || !v.chars().all(is_ptoken) {
            f.write_str("=\"")?;
            for c in v.chars() {
                if c == '"' || c == '\\' {
                    f.write_char('\\')?;
                }
                f.write_char(c)?;
            }
            f.write_char('"')
        } else {
            write!(f, "={v}")
        }
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.target)?;
        for p in &self.params {
            write!(f, ";{p}")?;
        }
        Ok(())
    }
}

/// Formats links as a link-format payload (`,`-separated, no whitespace).
pub fn format(links: &[Link]) -> String {
    let mut s = String::new();
    for (i, l) in links.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{l}");
    }
    s
}

fn bad_param(name: &str, expected: &'static str) -> DecodeError {
    DecodeError::InvalidLabelValue { format: CF, label: name.into(), expected }
}

/// An object or object instance a client registers, with its object version if stated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredObject {
    /// `/o` or `/o/i`.
    pub path: Path,
    /// `ver=` (object version), when given.
    pub version: Option<Version>,
}

/// The payload of a Register or Update: alternate root, content formats and object list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegistrationPayload {
    /// The alternate root path (from the link with `rt="oma.lwm2m"`); none for `/`.
    pub root: AlternateRoot,
    /// Content formats the client advertises with `ct` on the root link.
    pub content_formats: Vec<ContentFormat>,
    /// Objects and instances, in payload order.
    pub objects: Vec<RegisteredObject>,
    /// Links that are neither the root link nor an object/instance under the root, kept
    /// as is (servers must not fail on what they do not understand).
    pub other: Vec<Link>,
}

impl RegistrationPayload {
    /// Parses a registration payload (`</>;rt="oma.lwm2m";ct=110,</1/0>,</3>;ver=1.1,</3/0>`).
    pub fn parse(payload: &[u8], limits: &Limits) -> Result<Self, DecodeError> {
        let links = parse(payload, limits)?;
        let mut out = RegistrationPayload::default();
        let root_link =
            links.iter().position(|l| l.value("rt").is_some_and(|rt| rt.split(' ').any(|t| t == "oma.lwm2m")));
        if let Some(i) = root_link {
            out.root = AlternateRoot::parse(&links[i].target).map_err(|source| DecodeError::InvalidPath {
                format: CF,
                name: links[i].target.clone(),
                source,
            })?;
        }
        for (i, l) in links.into_iter().enumerate() {
            let segments: Vec<&str> = l.target.trim_start_matches('/').split('/').filter(|s| !s.is_empty()).collect();
            let path = out.root.strip(segments.iter().copied()).ok();
            let is_root = Some(i) == root_link || path == Some(Path::ROOT);
            if is_root {
                if let Some(ct) = l.value("ct") {
                    for n in ct.split(' ').filter(|s| !s.is_empty()) {
                        let n =
                            n.parse::<u16>().map_err(|_| bad_param("ct", "space-separated content-format numbers"))?;
                        out.content_formats.push(ContentFormat(n));
                    }
                }
                if Some(i) == root_link {
                    continue;
                }
            }
            match path {
                Some(p) if matches!(p.depth(), 1 | 2) => {
                    let version = match l.value("ver") {
                        Some(v) => Some(v.parse::<Version>().map_err(|_| bad_param("ver", "a version major.minor"))?),
                        None => None,
                    };
                    out.objects.push(RegisteredObject { path: p, version });
                }
                _ if is_root => {}
                _ => out.other.push(l),
            }
        }
        Ok(out)
    }

    /// Formats the payload: the root link first (when there is an alternate root or
    /// advertised formats), then the objects, then the other links.
    pub fn to_link_format(&self) -> String {
        let mut links = Vec::with_capacity(self.objects.len() + 1 + self.other.len());
        if !self.root.is_none() || !self.content_formats.is_empty() {
            let mut l = Link::new(self.root.to_string()).with(LinkParam::quoted("rt", "oma.lwm2m"));
            if !self.content_formats.is_empty() {
                let cts: Vec<String> = self.content_formats.iter().map(|c| c.number().to_string()).collect();
                l = l.with(LinkParam::new("ct", cts.join(" ")));
            }
            links.push(l);
        }
        for o in &self.objects {
            let mut l = Link::new(self.root.join(&o.path));
            if let Some(v) = o.version {
                l = l.with(LinkParam::new("ver", v.to_string()));
            }
            links.push(l);
        }
        links.extend(self.other.iter().cloned());
        format(&links)
    }
}

/// One link of a Discover or Bootstrap-Discover response: a path and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoverEntry {
    /// The object, instance, resource or resource instance (root for `</>`).
    pub path: Path,
    /// Attributes in order (`dim`, `ver`, `ssid`, `uri`, `pmin`, `lwm2m`...).
    pub params: Vec<LinkParam>,
}

impl DiscoverEntry {
    /// An entry with no attributes.
    pub fn new(path: Path) -> Self {
        DiscoverEntry { path, params: Vec::new() }
    }

    /// Builder: appends an attribute.
    #[must_use]
    pub fn with(mut self, param: LinkParam) -> Self {
        self.params.push(param);
        self
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|p| p.name == name).and_then(|p| p.value.as_deref())
    }

    /// The value of attribute `name` (`pmin`, `gt`...), if present with a value.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.value(name)
    }

    /// `dim`: the number of instances of a multiple resource.
    pub fn dim(&self) -> Option<u16> {
        self.value("dim").and_then(|v| v.parse().ok())
    }

    /// `ver`: the object version.
    pub fn version(&self) -> Option<Version> {
        self.value("ver").and_then(|v| v.parse().ok())
    }

    /// `ssid`: the Short Server ID of a Security/Server instance (Bootstrap-Discover).
    pub fn ssid(&self) -> Option<u16> {
        self.value("ssid").and_then(|v| v.parse().ok())
    }

    /// `uri`: the server URI of a Security instance (Bootstrap-Discover).
    pub fn uri(&self) -> Option<&str> {
        self.value("uri")
    }

    /// `lwm2m`: the enabler version on the root link of a Bootstrap-Discover response.
    pub fn lwm2m_version(&self) -> Option<Version> {
        self.value("lwm2m").and_then(|v| v.parse().ok())
    }
}

/// Parses a Discover or Bootstrap-Discover response. Every target must be an LwM2M path
/// (`</>` allowed, for the Bootstrap-Discover root link).
pub fn parse_discover(payload: &[u8], limits: &Limits) -> Result<Vec<DiscoverEntry>, DecodeError> {
    parse(payload, limits)?
        .into_iter()
        .map(|l| {
            let path = l.target.parse::<Path>().map_err(|source| DecodeError::InvalidPath {
                format: CF,
                name: l.target.clone(),
                source,
            })?;
            Ok(DiscoverEntry { path, params: l.params })
        })
        .collect()
}

/// Formats a Discover (or Bootstrap-Discover) response.
pub fn format_discover(entries: &[DiscoverEntry]) -> String {
    let links: Vec<Link> =
        entries.iter().map(|e| Link { target: e.path.to_string(), params: e.params.clone() }).collect();
    format(&links)
}

/// Formats a Bootstrap-Discover response: `</>;lwm2m=1.1` then the entries.
pub fn format_bootstrap_discover(lwm2m: Version, entries: &[DiscoverEntry]) -> String {
    let mut all = Vec::with_capacity(entries.len() + 1);
    all.push(DiscoverEntry::new(Path::ROOT).with(LinkParam::new("lwm2m", lwm2m.to_string())));
    all.extend(entries.iter().cloned());
    format_discover(&all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use lwm2m_core::LwM2mVersion;

    fn l() -> Limits {
        Limits::default()
    }

    #[test]
    fn generic_links_quoting_and_escaping() {
        let text = br#"</a>;rt="x \"y\" \\z";ct=40;obs,</b>"#;
        let links = parse(text, &l()).unwrap();
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].value("rt"), Some(r#"x "y" \z"#));
        assert_eq!(links[0].value("ct"), Some("40"));
        assert!(links[0].param("obs").is_some_and(|p| p.value.is_none()));
        assert_eq!(format(&links).as_bytes(), text);
        // A value that is not a token gets quoted even if built unquoted.
        assert_eq!(Link::new("/x").with(LinkParam::new("title", "a b")).to_string(), r#"</x>;title="a b""#);
        // Whitespace around separators is tolerated on input.
        assert_eq!(parse(b" </a> ;x=1 ,\n </b>", &l()).unwrap().len(), 2);
        assert!(parse(b"", &l()).unwrap().is_empty());
    }

    #[test]
    fn malformed_links_name_the_offset() {
        assert_eq!(
            parse(b"</a>;x=\"open", &l()),
            Err(DecodeError::Malformed { format: CF, offset: 7, reason: "unterminated quoted string" })
        );
        assert!(matches!(parse(b"</a> </b>", &l()), Err(DecodeError::Malformed { offset: 5, .. })));
        assert!(matches!(parse(b"</a", &l()), Err(DecodeError::Malformed { .. })));
        assert!(matches!(parse(b"</a>;", &l()), Err(DecodeError::Malformed { .. })));
        let few = Limits { max_entries: 1, ..l() };
        assert!(matches!(parse(b"</a>,</b>", &few), Err(DecodeError::LimitExceeded { .. })));
    }

    #[test]
    fn registration_payloads() {
        let text =
            br#"</lwm2m>;rt="oma.lwm2m";ct="110 112",</lwm2m/1/0>,</lwm2m/3>;ver=1.1,</lwm2m/3/0>,</lwm2m/5>,</other>"#;
        let reg = RegistrationPayload::parse(text, &l()).unwrap();
        assert_eq!(reg.root.to_string(), "/lwm2m");
        assert_eq!(reg.content_formats, [ContentFormat::SENML_JSON, ContentFormat::SENML_CBOR]);
        let paths: Vec<String> = reg.objects.iter().map(|o| o.path.to_string()).collect();
        assert_eq!(paths, ["/1/0", "/3", "/3/0", "/5"]);
        assert_eq!(reg.objects[1].version, Some(Version::new(1, 1)));
        assert_eq!(reg.other, [Link::new("/other")]);
        assert_eq!(reg.to_link_format().as_bytes(), text);

        // No alternate root; ct on the plain root link; Wakaama's form.
        let reg = RegistrationPayload::parse(br#"</>;ct=110,</1/0>"#, &l()).unwrap();
        assert!(reg.root.is_none());
        assert_eq!(reg.content_formats, [ContentFormat::SENML_JSON]);
        let reg = RegistrationPayload::parse(br#"</>;rt="oma.lwm2m";ct=11543,</3/0>"#, &l()).unwrap();
        assert_eq!(reg.content_formats, [ContentFormat::LWM2M_JSON]);
        assert_eq!(reg.to_link_format(), r#"</>;rt="oma.lwm2m";ct=11543,</3/0>"#);
        assert_eq!(RegistrationPayload::parse(b"</1/0>,</3/0>", &l()).unwrap().to_link_format(), "</1/0>,</3/0>");
        assert!(RegistrationPayload::parse(br#"</>;ct=abc"#, &l()).is_err());
        assert!(RegistrationPayload::parse(br#"</3>;ver=x"#, &l()).is_err());
    }

    #[test]
    fn discover_and_bootstrap_discover() {
        let text = b"</3/0>;pmin=10;pmax=60,</3/0/7>;dim=2,</3/0/13>";
        let entries = parse_discover(text, &l()).unwrap();
        assert_eq!(entries[0].attribute("pmax"), Some("60"));
        assert_eq!(entries[1].dim(), Some(2));
        assert_eq!(format_discover(&entries).as_bytes(), text);

        let bs = br#"</>;lwm2m=1.1,</0/0>;ssid=101;uri="coap://server:5683",</1/0>;ssid=101,</3>;ver=1.1,</3/0>"#;
        let entries = parse_discover(bs, &l()).unwrap();
        assert_eq!(entries[0].lwm2m_version(), Some(LwM2mVersion::V1_1.version()));
        assert_eq!(entries[1].ssid(), Some(101));
        assert_eq!(entries[1].uri(), Some("coap://server:5683"));
        assert_eq!(entries[3].version(), Some(Version::new(1, 1)));
        let rest = entries[1..].to_vec();
        assert_eq!(format_bootstrap_discover(LwM2mVersion::V1_1.version(), &rest).as_bytes(), bs);
        assert!(matches!(parse_discover(b"</x/y>", &l()), Err(DecodeError::InvalidPath { .. })));
        let _ = vec![0u8];
    }

    proptest::proptest! {
        #[test]
        fn format_then_parse_round_trips(
            links in proptest::collection::vec(
                ("/[a-z0-9/]{0,12}", proptest::collection::vec(("[a-z][a-z0-9]{0,4}", proptest::option::of("\\PC{0,8}")), 0..4)),
                0..5,
            )
        ) {
            let links: Vec<Link> = links
                .into_iter()
                .map(|(t, ps)| Link {
                    target: t,
                    params: ps.into_iter().map(|(n, v)| LinkParam { name: n, value: v, quoted: false }).collect(),
                })
                .collect();
            let text = format(&links);
            let back = parse(text.as_bytes(), &l()).unwrap();
            proptest::prop_assert_eq!(back.len(), links.len());
            for (a, b) in back.iter().zip(&links) {
                proptest::prop_assert_eq!(&a.target, &b.target);
                let pa: Vec<_> = a.params.iter().map(|p| (&p.name, &p.value)).collect();
                let pb: Vec<_> = b.params.iter().map(|p| (&p.name, &p.value)).collect();
                proptest::prop_assert_eq!(pa, pb);
            }
        }
    }
}
