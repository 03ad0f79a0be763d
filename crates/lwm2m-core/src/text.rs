//! [`Text`]: the string type of String and Corelnk values.
//!
//! Most LwM2M strings are short: manufacturer and model names, serial numbers, versions,
//! time zones, binding modes, URIs of a few dozen bytes at most. A `Text` keeps a string of
//! up to [`Text::INLINE_CAPACITY`] bytes (24 on 64-bit targets, 12 on 32-bit ones) inside the
//! value itself, with no heap allocation, and spills longer strings to the heap. It is the
//! same size as a `String`.
//!
//! The representation comes from the [`compact_str`](https://docs.rs/compact_str) crate,
//! which is wrapped rather than exposed so that the public API does not depend on its
//! version. A `Text` dereferences to `str`, converts from and into `String`, compares with
//! `str` and `String`, and displays as its content.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use core::borrow::Borrow;
use core::fmt;
use core::ops::Deref;

use compact_str::CompactString;

/// An immutable-by-default UTF-8 string that stores short content inline (see the
/// [module documentation](self)).
///
/// ```
/// use lwm2m_core::Text;
///
/// let t = Text::from("Europe/Berlin");
/// assert_eq!(t, "Europe/Berlin");
/// assert!(t.is_inline());
/// assert_eq!(t.len(), 13); // str methods through Deref
/// let s: String = t.into();
/// assert_eq!(s, "Europe/Berlin");
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(CompactString);

impl Text {
    /// The longest string, in bytes, kept inline without a heap allocation: the size of a
    /// `String` (24 bytes on 64-bit targets).
    pub const INLINE_CAPACITY: usize = core::mem::size_of::<String>();

    /// An empty text; does not allocate.
    pub const fn empty() -> Self {
        Text(CompactString::const_new(""))
    }

    /// A text holding a copy of `s`; allocates only when `s` is longer than
    /// [`Text::INLINE_CAPACITY`].
    #[inline]
    pub fn new(s: &str) -> Self {
        Text(CompactString::new(s))
    }

    /// The content.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// True when the content is stored inline (no heap allocation).
    pub fn is_inline(&self) -> bool {
        !self.0.is_heap_allocated()
    }

    /// Appends `s`.
    pub fn push_str(&mut self, s: &str) {
        self.0.push_str(s);
    }

    /// The content as a `String` (reuses the heap buffer of a long text).
    pub fn into_string(self) -> String {
        self.0.into_string()
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Text {
    fn as_ref(&self) -> &[u8] {
        self.as_str().as_bytes()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Text {
    /// Like a `str`: quoted and escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

impl From<&str> for Text {
    #[inline]
    fn from(s: &str) -> Self {
        Text::new(s)
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text::new(s)
    }
}

impl From<String> for Text {
    /// Keeps a long string's heap buffer; a short one moves inline.
    fn from(s: String) -> Self {
        Text(CompactString::from(s))
    }
}

impl From<Box<str>> for Text {
    fn from(s: Box<str>) -> Self {
        Text(CompactString::from(s))
    }
}

impl From<Cow<'_, str>> for Text {
    #[inline]
    fn from(s: Cow<'_, str>) -> Self {
        match s {
            Cow::Borrowed(b) => Text::new(b),
            Cow::Owned(o) => Text::from(o),
        }
    }
}

impl From<Text> for String {
    fn from(t: Text) -> Self {
        t.into_string()
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn short_inline_long_on_the_heap() {
        let short = Text::from("Open Mobile Alliance");
        assert!(short.is_inline());
        let exactly = Text::new(&"x".repeat(Text::INLINE_CAPACITY));
        assert!(exactly.is_inline());
        let long = Text::from("x".repeat(Text::INLINE_CAPACITY + 1));
        assert!(!long.is_inline());
        assert_eq!(long.len(), Text::INLINE_CAPACITY + 1);
        assert_eq!(String::from(long.clone()), long.as_str());
        assert!(Text::empty().is_empty() && Text::empty().is_inline());
    }

    #[test]
    fn compares_displays_and_converts_like_a_string() {
        let t = Text::from(Cow::Borrowed("a\"b"));
        assert_eq!(t, "a\"b");
        assert_eq!("a\"b", t);
        assert_eq!(t, String::from("a\"b"));
        assert_eq!(t.to_string(), "a\"b");
        assert_eq!(alloc::format!("{t:?}"), "\"a\\\"b\"");
        let (a, b) = (Text::from("a"), Text::from("b"));
        assert!(a < b);
        let mut w = Text::empty();
        fmt::Write::write_fmt(&mut w, format_args!("{}:{}", 3, 0)).unwrap();
        w.push_str("!");
        assert_eq!(w, "3:0!");
    }
}
