//! LwM2M paths: `/`, `/{object}`, `/{object}/{instance}`, `/{object}/{instance}/{resource}`
//! and `/{object}/{instance}/{resource}/{resource instance}`.
//!
//! Paths order lexicographically by their identifiers, so a parent sorts directly before
//! its children (`/3 < /3/0 < /3/0/0 < /3/1 < /4`), which makes a sorted list of paths a
//! depth-first walk of the tree.
//!
//! A client may register an *alternate root* (`</lwm2m>;rt="oma.lwm2m"`); the server then
//! prefixes every device-management path with it. [`AlternateRoot`] strips and adds it.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cmp::Ordering;
use core::fmt;
use core::str::FromStr;

use crate::error::{IdError, PathError};
use crate::id::{InstanceId, ObjectId, ResourceId, ResourceInstanceId, parse_u16_id};

/// How deep a path reaches into the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathLevel {
    /// `/`
    Root,
    /// `/{o}`
    Object,
    /// `/{o}/{i}`
    Instance,
    /// `/{o}/{i}/{r}`
    Resource,
    /// `/{o}/{i}/{r}/{ri}`
    ResourceInstance,
}

impl PathLevel {
    /// A lowercase name for messages ("object instance", ...).
    pub const fn name(self) -> &'static str {
        match self {
            PathLevel::Root => "root",
            PathLevel::Object => "object",
            PathLevel::Instance => "object instance",
            PathLevel::Resource => "resource",
            PathLevel::ResourceInstance => "resource instance",
        }
    }
}

/// A path into the LwM2M resource model.
///
/// Every segment is a valid identifier (never 65535). Construct one with the level
/// constructors, by parsing (`"/3/0/1".parse()`), or from CoAP Uri-Path segments with
/// [`Path::from_segments`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Path {
    ids: [u16; 4],
    depth: u8,
}

impl Path {
    /// The root path `/`.
    pub const ROOT: Path = Path { ids: [0; 4], depth: 0 };

    /// `/{object}`
    pub const fn object(object: ObjectId) -> Self {
        Path { ids: [object.get(), 0, 0, 0], depth: 1 }
    }

    /// `/{object}/{instance}`
    pub const fn instance(object: ObjectId, instance: InstanceId) -> Self {
        Path { ids: [object.get(), instance.get(), 0, 0], depth: 2 }
    }

    /// `/{object}/{instance}/{resource}`
    pub const fn resource(object: ObjectId, instance: InstanceId, resource: ResourceId) -> Self {
        Path { ids: [object.get(), instance.get(), resource.get(), 0], depth: 3 }
    }

    /// `/{object}/{instance}/{resource}/{resource instance}`
    pub const fn resource_instance(
        object: ObjectId,
        instance: InstanceId,
        resource: ResourceId,
        resource_instance: ResourceInstanceId,
    ) -> Self {
        Path { ids: [object.get(), instance.get(), resource.get(), resource_instance.get()], depth: 4 }
    }

    /// Builds a path from raw identifiers (0 to 4 of them), rejecting 65535 and more than
    /// four segments.
    pub fn from_ids(ids: &[u16]) -> Result<Self, PathError> {
        if ids.len() > 4 {
            return Err(PathError::TooDeep { input: render_ids(ids) });
        }
        let mut path = Path::ROOT;
        for &id in ids {
            if id == crate::id::RESERVED_ID {
                return Err(PathError::InvalidSegment {
                    input: render_ids(ids),
                    reason: IdError::Reserved { kind: KINDS[usize::from(path.depth)] },
                });
            }
            path.ids[usize::from(path.depth)] = id;
            path.depth += 1;
        }
        Ok(path)
    }

    /// Builds a path from CoAP Uri-Path segments (`["3", "0", "1"]`). No segments is the root.
    /// A single empty segment is also accepted as the root, since some peers send one.
    pub fn from_segments<'a, I>(segments: I) -> Result<Self, PathError>
    where
        I: IntoIterator<Item = &'a str>,
    {
        // At most one segment beyond the deepest path is kept, so a hostile path of millions of
        // segments costs no memory before it is refused as too deep.
        let mut rest = segments.into_iter();
        let segments: Vec<&str> = rest.by_ref().take(5).collect();
        let cut = rest.next().is_some();
        let render = || {
            let mut s = String::new();
            for seg in &segments {
                s.push('/');
                s.push_str(seg);
            }
            if cut {
                s.push_str("/…");
            }
            if s.is_empty() {
                s.push('/');
            }
            s
        };
        if segments.len() == 1 && segments[0].is_empty() {
            return Ok(Path::ROOT);
        }
        if segments.len() > 4 {
            return Err(PathError::TooDeep { input: render() });
        }
        let mut path = Path::ROOT;
        for seg in &segments {
            if seg.is_empty() {
                return Err(PathError::EmptySegment { input: render() });
            }
            let kind = KINDS[usize::from(path.depth)];
            let id = parse_u16_id(seg, kind)
                .and_then(|id| if id == crate::id::RESERVED_ID { Err(IdError::Reserved { kind }) } else { Ok(id) })
                .map_err(|reason| PathError::InvalidSegment { input: render(), reason })?;
            path.ids[usize::from(path.depth)] = id;
            path.depth += 1;
        }
        Ok(path)
    }

    /// The level of this path.
    pub const fn level(&self) -> PathLevel {
        match self.depth {
            0 => PathLevel::Root,
            1 => PathLevel::Object,
            2 => PathLevel::Instance,
            3 => PathLevel::Resource,
            _ => PathLevel::ResourceInstance,
        }
    }

    /// The number of segments (0 for the root, 4 for a resource instance).
    pub const fn depth(&self) -> usize {
        self.depth as usize
    }

    /// The raw identifiers of the segments, outermost first.
    pub fn ids(&self) -> &[u16] {
        &self.ids[..usize::from(self.depth)]
    }

    /// True for `/`.
    pub const fn is_root(&self) -> bool {
        self.depth == 0
    }

    /// The object id, if the path has one.
    pub fn object_id(&self) -> Option<ObjectId> {
        (self.depth >= 1).then(|| ObjectId::new(self.ids[0])).flatten()
    }

    /// The instance id, if the path has one.
    pub fn instance_id(&self) -> Option<InstanceId> {
        (self.depth >= 2).then(|| InstanceId::new(self.ids[1])).flatten()
    }

    /// The resource id, if the path has one.
    pub fn resource_id(&self) -> Option<ResourceId> {
        (self.depth >= 3).then(|| ResourceId::new(self.ids[2])).flatten()
    }

    /// The resource instance id, if the path has one.
    pub fn resource_instance_id(&self) -> Option<ResourceInstanceId> {
        (self.depth >= 4).then(|| ResourceInstanceId::new(self.ids[3])).flatten()
    }

    /// The parent path (`None` for the root).
    pub fn parent(&self) -> Option<Path> {
        if self.depth == 0 {
            return None;
        }
        let mut parent = *self;
        parent.depth -= 1;
        parent.ids[usize::from(parent.depth)] = 0;
        Some(parent)
    }

    /// The child path one level below (`None` below a resource instance or for id 65535).
    pub fn child(&self, id: u16) -> Option<Path> {
        if self.depth >= 4 || id == crate::id::RESERVED_ID {
            return None;
        }
        let mut child = *self;
        child.ids[usize::from(child.depth)] = id;
        child.depth += 1;
        Some(child)
    }

    /// True when `self` is a strict ancestor of `other` (`/3` is an ancestor of `/3/0/1`,
    /// but not of `/3` itself nor of `/30`).
    #[inline]
    pub fn is_ancestor_of(&self, other: &Path) -> bool {
        // Id by id rather than a slice comparison: that is a `memcmp` call for 2 to 6 bytes.
        let ([a, b, c, _], [x, y, z, _]) = (self.ids, other.ids);
        self.depth < other.depth
            && match self.depth {
                0 => true,
                1 => a == x,
                2 => a == x && b == y,
                _ => a == x && b == y && c == z,
            }
    }

    /// True when `self` equals `other` or is its ancestor: `other` lies in the subtree at `self`.
    #[inline]
    pub fn contains(&self, other: &Path) -> bool {
        self == other || self.is_ancestor_of(other)
    }

    /// Checks that this path is at `level`, or returns an error naming the level expected.
    pub fn expect_level(&self, level: PathLevel) -> Result<(), PathError> {
        if self.level() == level {
            Ok(())
        } else {
            Err(PathError::WrongLevel { path: self.to_string(), expected: level.name() })
        }
    }
}

const KINDS: [&str; 4] = ["object id", "instance id", "resource id", "resource instance id"];

fn render_ids(ids: &[u16]) -> String {
    use core::fmt::Write;
    let mut s = String::new();
    for id in ids {
        let _ = write!(s, "/{id}");
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

impl Ord for Path {
    fn cmp(&self, other: &Self) -> Ordering {
        self.ids().cmp(other.ids())
    }
}

impl PartialOrd for Path {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Default for Path {
    fn default() -> Self {
        Path::ROOT
    }
}

impl FromStr for Path {
    type Err = PathError;

    /// Parses `/`, `/3`, `/3/0`, `/3/0/1`, `/3/0/1/2`. A single trailing `/` is accepted
    /// (`/3/0/` is `/3/0`), as SenML base names end with one.
    fn from_str(s: &str) -> Result<Self, PathError> {
        let Some(rest) = s.strip_prefix('/') else {
            return Err(PathError::MissingLeadingSlash { input: s.into() });
        };
        if rest.is_empty() {
            return Ok(Path::ROOT);
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() {
            // "//"
            return Err(PathError::EmptySegment { input: s.into() });
        }
        Path::from_segments(rest.split('/')).map_err(|e| match e {
            PathError::TooDeep { .. } => PathError::TooDeep { input: s.into() },
            PathError::EmptySegment { .. } => PathError::EmptySegment { input: s.into() },
            PathError::InvalidSegment { reason, .. } => PathError::InvalidSegment { input: s.into(), reason },
            other => other,
        })
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.depth == 0 {
            return f.write_str("/");
        }
        for id in self.ids() {
            write!(f, "/{id}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Path({self})")
    }
}

/// The alternate root path a client registered (e.g. `/lwm2m`), under which a server
/// addresses its device-management paths. The default root is empty: paths are used as is.
///
/// Bootstrap paths never carry the alternate root.
#[derive(Clone, PartialEq, Eq, Hash, Default, Debug)]
pub struct AlternateRoot {
    segments: Vec<String>,
}

impl AlternateRoot {
    /// The default (empty) root.
    pub const fn none() -> Self {
        AlternateRoot { segments: Vec::new() }
    }

    /// Parses a root such as `/lwm2m` or `/a/b`. `/` and the empty string mean no alternate
    /// root. Segments must be non-empty and must not be all digits (which would make
    /// them indistinguishable from object ids).
    pub fn parse(root: &str) -> Result<Self, PathError> {
        let invalid = |reason| PathError::InvalidAlternateRoot { input: root.into(), reason };
        if root.is_empty() || root == "/" {
            return Ok(AlternateRoot::none());
        }
        let Some(rest) = root.strip_prefix('/') else {
            return Err(invalid("it must start with '/'"));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let mut segments = Vec::new();
        for seg in rest.split('/') {
            if seg.is_empty() {
                return Err(invalid("it has an empty segment"));
            }
            if seg.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("a segment is numeric and would be read as an object id"));
            }
            if seg.bytes().any(|b| b.is_ascii_control() || b == b'?' || b == b'#') {
                return Err(invalid("a segment contains a control character, '?' or '#'"));
            }
            segments.push(seg.into());
        }
        Ok(AlternateRoot { segments })
    }

    /// True for the default root.
    pub fn is_none(&self) -> bool {
        self.segments.is_empty()
    }

    /// The root's segments (`["lwm2m"]`).
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Removes the root from CoAP Uri-Path segments and parses the rest as a [`Path`].
    pub fn strip<'a, I>(&self, segments: I) -> Result<Path, PathError>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let segments: Vec<&str> = segments.into_iter().collect();
        let n = self.segments.len();
        if segments.len() < n || segments[..n].iter().zip(&self.segments).any(|(a, b)| *a != b) {
            let mut input = String::new();
            for seg in &segments {
                input.push('/');
                input.push_str(seg);
            }
            return Err(PathError::NotUnderRoot { input, root: self.to_string() });
        }
        Path::from_segments(segments[n..].iter().copied())
    }

    /// The CoAP Uri-Path segments addressing `path` under this root.
    pub fn uri_segments(&self, path: &Path) -> Vec<String> {
        let mut out = self.segments.clone();
        out.extend(path.ids().iter().map(ToString::to_string));
        out
    }

    /// The textual path of `path` under this root (`/lwm2m/3/0`).
    pub fn join(&self, path: &Path) -> String {
        let mut s = String::new();
        for seg in self.uri_segments(path) {
            s.push('/');
            s.push_str(&seg);
        }
        if s.is_empty() {
            s.push('/');
        }
        s
    }
}

impl fmt::Display for AlternateRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segments.is_empty() {
            return f.write_str("/");
        }
        for seg in &self.segments {
            write!(f, "/{seg}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn p(s: &str) -> Path {
        s.parse().unwrap()
    }

    #[test]
    fn parse_and_display_every_level() {
        for s in ["/", "/3", "/3/0", "/3/0/1", "/3/0/1/2", "/65534/65534/65534/65534"] {
            assert_eq!(p(s).to_string(), s);
        }
        assert_eq!(p("/3/0/").to_string(), "/3/0");
        assert_eq!(p("/3/0/1/2").level(), PathLevel::ResourceInstance);
        assert_eq!(p("/").level(), PathLevel::Root);
        assert_eq!(p("/3/0/1").resource_id().unwrap().get(), 1);
        assert_eq!(p("/3/0/1").resource_instance_id(), None);
    }

    #[test]
    fn parse_errors() {
        assert!(matches!("3/0".parse::<Path>(), Err(PathError::MissingLeadingSlash { .. })));
        assert!(matches!("".parse::<Path>(), Err(PathError::MissingLeadingSlash { .. })));
        assert!(matches!("/1/2/3/4/5".parse::<Path>(), Err(PathError::TooDeep { .. })));
        assert!(matches!("/3//1".parse::<Path>(), Err(PathError::EmptySegment { .. })));
        assert!(matches!("//".parse::<Path>(), Err(PathError::EmptySegment { .. })));
        assert_eq!(
            "/3/65535".parse::<Path>().unwrap_err(),
            PathError::InvalidSegment { input: "/3/65535".into(), reason: IdError::Reserved { kind: "instance id" } }
        );
        let msg = "/3/x".parse::<Path>().unwrap_err().to_string();
        assert!(msg.contains("/3/x") && msg.contains("instance id"), "{msg}");
    }

    #[test]
    fn ordering_is_depth_first() {
        let mut v = [p("/4"), p("/3/1"), p("/3/0/0"), p("/3"), p("/"), p("/3/0"), p("/30")];
        v.sort();
        let s: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(s, ["/", "/3", "/3/0", "/3/0/0", "/3/1", "/4", "/30"]);
    }

    #[test]
    fn ancestry() {
        assert!(p("/").is_ancestor_of(&p("/3")));
        assert!(p("/3").is_ancestor_of(&p("/3/0/1/2")));
        assert!(!p("/3").is_ancestor_of(&p("/3")));
        assert!(!p("/3").is_ancestor_of(&p("/30/0")));
        assert!(!p("/3/0/1").is_ancestor_of(&p("/3")));
        // Every prefix length, matching and differing in the last id of the prefix.
        assert!(p("/3/0").is_ancestor_of(&p("/3/0/1")) && !p("/3/0").is_ancestor_of(&p("/3/1/1")));
        assert!(p("/3/0/1").is_ancestor_of(&p("/3/0/1/2")) && !p("/3/0/1").is_ancestor_of(&p("/3/0/2/2")));
        assert!(!p("/3/0/1").is_ancestor_of(&p("/4/0/1/2")) && !p("/3/0/1/2").is_ancestor_of(&p("/3/0/1/2")));
        assert!(p("/3").contains(&p("/3")));
        assert_eq!(p("/3/0/1").parent(), Some(p("/3/0")));
        assert_eq!(p("/").parent(), None);
        assert_eq!(p("/3/0").child(7), Some(p("/3/0/7")));
        assert_eq!(p("/3/0/1/2").child(7), None);
        assert_eq!(p("/3/0").child(65535), None);
    }

    #[test]
    fn segments_and_ids() {
        assert_eq!(Path::from_segments([]).unwrap(), Path::ROOT);
        assert_eq!(Path::from_segments([""]).unwrap(), Path::ROOT);
        assert_eq!(Path::from_segments(["5", "0", "1"]).unwrap(), p("/5/0/1"));
        assert!(Path::from_segments(["5", "", "1"]).is_err());
        assert_eq!(Path::from_ids(&[3, 0]).unwrap(), p("/3/0"));
        assert!(Path::from_ids(&[3, 65535]).is_err());
        assert!(Path::from_ids(&[1, 2, 3, 4, 5]).is_err());
        assert!(p("/3").expect_level(PathLevel::Object).is_ok());
        assert!(p("/3").expect_level(PathLevel::Resource).is_err());
    }

    #[test]
    fn alternate_root() {
        let root = AlternateRoot::parse("/lwm2m").unwrap();
        assert_eq!(root.to_string(), "/lwm2m");
        assert_eq!(root.strip(["lwm2m", "3", "0"]).unwrap(), p("/3/0"));
        assert_eq!(root.strip(["lwm2m"]).unwrap(), Path::ROOT);
        assert!(matches!(root.strip(["3", "0"]), Err(PathError::NotUnderRoot { .. })));
        assert_eq!(root.join(&p("/3/0/1")), "/lwm2m/3/0/1");
        assert_eq!(root.uri_segments(&p("/3")), vec!["lwm2m", "3"]);
        let none = AlternateRoot::parse("/").unwrap();
        assert!(none.is_none());
        assert_eq!(none.join(&p("/3")), "/3");
        assert_eq!(none.join(&Path::ROOT), "/");
        assert!(AlternateRoot::parse("lwm2m").is_err());
        assert!(AlternateRoot::parse("/12").is_err());
        assert!(AlternateRoot::parse("/a//b").is_err());
        assert_eq!(AlternateRoot::parse("/a/b/").unwrap().join(&p("/1")), "/a/b/1");
    }

    fn arb_path() -> impl Strategy<Value = Path> {
        prop::collection::vec(0u16..65535, 0..=4).prop_map(|ids| Path::from_ids(&ids).unwrap())
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(path in arb_path()) {
            let text = path.to_string();
            prop_assert_eq!(text.parse::<Path>().unwrap(), path);
        }

        #[test]
        fn ordering_matches_id_slices(a in arb_path(), b in arb_path()) {
            prop_assert_eq!(a.cmp(&b), a.ids().cmp(b.ids()));
            if a.is_ancestor_of(&b) {
                prop_assert!(a < b);
                prop_assert!(!b.is_ancestor_of(&a));
            }
        }

        #[test]
        fn parent_is_ancestor(path in arb_path()) {
            if let Some(parent) = path.parent() {
                prop_assert!(parent.is_ancestor_of(&path));
                prop_assert_eq!(parent.depth() + 1, path.depth());
            }
        }

        #[test]
        fn alternate_root_round_trip(path in arb_path()) {
            let root = AlternateRoot::parse("/lwm2m").unwrap();
            let segs = root.uri_segments(&path);
            prop_assert_eq!(root.strip(segs.iter().map(String::as_str)).unwrap(), path);
        }

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC*") {
            let _ = s.parse::<Path>();
        }
    }
}
