//! [`IdMap`]: the ordered map from identifiers to children that the node tree is built of.
//!
//! An `IdMap` is a `Vec` of `(key, value)` pairs kept sorted by key, with no duplicate keys.
//! It offers the subset of the `BTreeMap` API that code walking or building a node tree
//! uses (`get`, `insert`, `remove`, `iter`, `values`, `get_or_insert_with`, `FromIterator`,
//! ...), with the same observable behaviour: iteration is always in key order, and an
//! insert replaces the value of an existing key.
//!
//! Why not `BTreeMap`: the children of one node are few (an instance rarely holds more than
//! a few dozen resources, a multiple resource a handful of instances) and arrive in id
//! order from every content format. For such maps a sorted vector is one allocation instead
//! of one per B-tree node (a 14-entry `BTreeMap` takes three), a lookup is a binary search
//! over contiguous memory, and an in-order insert is a `push`. An out-of-order insert
//! shifts the tail, which is O(n); that is cheaper than B-tree bookkeeping at these sizes,
//! and building a map from an unsorted iterator sorts once instead.

use alloc::vec::{self, Vec};
use core::fmt;
use core::iter::FusedIterator;
use core::slice;

/// An ordered map from identifiers to values, backed by a sorted `Vec`.
///
/// Keys are small `Copy` identifiers ([`ResourceId`](crate::ResourceId),
/// [`InstanceId`](crate::InstanceId), ...). Iteration is in ascending key order.
///
/// ```
/// use lwm2m_core::{IdMap, ResourceInstanceId, Value};
///
/// let ri = |v| ResourceInstanceId::new(v).unwrap();
/// let mut m: IdMap<ResourceInstanceId, Value> = IdMap::new();
/// m.insert(ri(1), Value::Integer(5000));
/// m.insert(ri(0), Value::Integer(3800));
/// assert_eq!(m.keys().map(|k| k.get()).collect::<Vec<_>>(), [0, 1]);
/// assert_eq!(m.get(&ri(1)), Some(&Value::Integer(5000)));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> IdMap<K, V> {
    /// An empty map; does not allocate.
    pub const fn new() -> Self {
        IdMap { entries: Vec::new() }
    }

    /// An empty map with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Self {
        IdMap { entries: Vec::with_capacity(capacity) }
    }

    /// The number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the map has no entries.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The number of entries the map can hold without reallocating.
    pub fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    /// Reserves room for at least `additional` more entries.
    pub fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
    }

    /// Removes every entry, keeping the allocation.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The entries as a slice of `(key, value)` pairs in ascending key order.
    pub fn as_slice(&self) -> &[(K, V)] {
        &self.entries
    }

    /// The entries in ascending key order.
    #[inline]
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter(self.entries.iter())
    }

    /// The entries in ascending key order, with mutable values.
    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        IterMut(self.entries.iter_mut())
    }

    /// The keys in ascending order.
    #[inline]
    pub fn keys(&self) -> Keys<'_, K, V> {
        Keys(self.entries.iter())
    }

    /// The values in ascending key order.
    #[inline]
    pub fn values(&self) -> Values<'_, K, V> {
        Values(self.entries.iter())
    }

    /// The values in ascending key order, mutably.
    pub fn values_mut(&mut self) -> ValuesMut<'_, K, V> {
        ValuesMut(self.entries.iter_mut())
    }

    /// The entry with the smallest key.
    pub fn first_key_value(&self) -> Option<(&K, &V)> {
        self.entries.first().map(|(k, v)| (k, v))
    }

    /// The entry with the largest key.
    pub fn last_key_value(&self) -> Option<(&K, &V)> {
        self.entries.last().map(|(k, v)| (k, v))
    }
}

impl<K: Ord, V> IdMap<K, V> {
    /// Where `key` is (`Ok`) or would go (`Err`). In-order building appends, so the last
    /// entry is checked before searching.
    #[inline]
    fn search(&self, key: &K) -> Result<usize, usize> {
        match self.entries.last() {
            None => Err(0),
            Some((last, _)) if *last < *key => Err(self.entries.len()),
            Some(_) => self.entries.binary_search_by(|(k, _)| k.cmp(key)),
        }
    }

    /// The value for `key`, if present.
    #[inline]
    pub fn get(&self, key: &K) -> Option<&V> {
        let i = self.entries.binary_search_by(|(k, _)| k.cmp(key)).ok()?;
        self.entries.get(i).map(|(_, v)| v)
    }

    /// The value for `key`, mutably, if present.
    #[inline]
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let i = self.entries.binary_search_by(|(k, _)| k.cmp(key)).ok()?;
        self.entries.get_mut(i).map(|(_, v)| v)
    }

    /// True when `key` is present.
    #[inline]
    pub fn contains_key(&self, key: &K) -> bool {
        self.entries.binary_search_by(|(k, _)| k.cmp(key)).is_ok()
    }

    /// Inserts `value` at `key`, returning the value it replaces, if any (like
    /// `BTreeMap::insert`). Appending a key greater than every present key is O(1).
    #[inline]
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if self.entries.last().is_none_or(|(last, _)| *last < key) {
            self.entries.push((key, value));
            return None;
        }
        self.insert_out_of_order(key, value)
    }

    fn insert_out_of_order(&mut self, key: K, value: V) -> Option<V> {
        match self.entries.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => self.entries.get_mut(i).map(|(_, v)| core::mem::replace(v, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// Inserts `value` at `key` only if `key` is absent. Returns `Err(value)` (giving the
    /// value back) when the key is already present, so callers can report a duplicate.
    #[inline]
    pub fn try_insert(&mut self, key: K, value: V) -> Result<&mut V, V> {
        if self.entries.last().is_none_or(|(last, _)| *last < key) {
            // The common in-order case: append without searching or shifting.
            let i = self.entries.len();
            self.entries.push((key, value));
            return Ok(&mut self.entries[i].1);
        }
        self.try_insert_out_of_order(key, value)
    }

    fn try_insert_out_of_order(&mut self, key: K, value: V) -> Result<&mut V, V> {
        match self.entries.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(_) => Err(value),
            Err(i) => {
                self.entries.insert(i, (key, value));
                // In bounds: the entry was just inserted at `i`.
                Ok(&mut self.entries[i].1)
            }
        }
    }

    /// The value for `key`, inserting `make()` first when absent (the `BTreeMap`
    /// `entry(key).or_insert_with(make)` idiom).
    #[inline]
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.search(&key) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (key, make()));
                i
            }
        };
        // In bounds: `i` is the index of an existing or just-inserted entry.
        &mut self.entries[i].1
    }

    /// Removes `key`, returning its value if it was present.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let i = self.entries.binary_search_by(|(k, _)| k.cmp(key)).ok()?;
        Some(self.entries.remove(i).1)
    }

    /// Keeps only the entries for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }
}

impl<K, V> Default for IdMap<K, V> {
    fn default() -> Self {
        IdMap::new()
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for IdMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for IdMap<K, V> {
    /// Collects pairs; for a repeated key the last value wins, as with `BTreeMap`.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut entries: Vec<(K, V)> = iter.into_iter().collect();
        if !entries.windows(2).all(|w| w[0].0 < w[1].0) {
            // A stable sort keeps equal keys in arrival order; keep the last of each run.
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut out: Vec<(K, V)> = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                match out.last_mut() {
                    Some(last) if last.0 == k => last.1 = v,
                    _ => out.push((k, v)),
                }
            }
            entries = out;
        }
        IdMap { entries }
    }
}

impl<K: Ord, V, const N: usize> From<[(K, V); N]> for IdMap<K, V> {
    /// Builds a map from an array of pairs; for a repeated key the last value wins.
    fn from(pairs: [(K, V); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl<K: Ord, V> Extend<(K, V)> for IdMap<K, V> {
    /// Inserts every pair; for a repeated key the last value wins.
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        let iter = iter.into_iter();
        self.entries.reserve(iter.size_hint().0);
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K, V> IntoIterator for IdMap<K, V> {
    type Item = (K, V);
    type IntoIter = IntoIter<K, V>;

    fn into_iter(self) -> IntoIter<K, V> {
        IntoIter(self.entries.into_iter())
    }
}

impl<'a, K, V> IntoIterator for &'a IdMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

impl<'a, K, V> IntoIterator for &'a mut IdMap<K, V> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = IterMut<'a, K, V>;

    fn into_iter(self) -> IterMut<'a, K, V> {
        self.iter_mut()
    }
}

macro_rules! iterator {
    ($(#[$doc:meta])* $name:ident<$($lt:lifetime,)? K, V>, $inner:ty, $item:ty, |$e:pat_param| $map:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name<$($lt,)? K, V>($inner);

        impl<$($lt,)? K, V> Iterator for $name<$($lt,)? K, V> {
            type Item = $item;

            #[inline]
            fn next(&mut self) -> Option<$item> {
                self.0.next().map(|$e| $map)
            }

            #[inline]
            fn size_hint(&self) -> (usize, Option<usize>) {
                self.0.size_hint()
            }
        }

        impl<$($lt,)? K, V> DoubleEndedIterator for $name<$($lt,)? K, V> {
            #[inline]
            fn next_back(&mut self) -> Option<$item> {
                self.0.next_back().map(|$e| $map)
            }
        }

        impl<$($lt,)? K, V> ExactSizeIterator for $name<$($lt,)? K, V> {}
        impl<$($lt,)? K, V> FusedIterator for $name<$($lt,)? K, V> {}
    };
}

iterator!(
    /// The entries of an [`IdMap`] in key order, borrowed ([`IdMap::iter`]).
    Iter<'a, K, V>, slice::Iter<'a, (K, V)>, (&'a K, &'a V), |(k, v)| (k, v)
);
iterator!(
    /// The entries of an [`IdMap`] in key order, values mutable ([`IdMap::iter_mut`]).
    IterMut<'a, K, V>, slice::IterMut<'a, (K, V)>, (&'a K, &'a mut V), |(k, v)| (&*k, v)
);
iterator!(
    /// The keys of an [`IdMap`] in order ([`IdMap::keys`]).
    Keys<'a, K, V>, slice::Iter<'a, (K, V)>, &'a K, |(k, _)| k
);
iterator!(
    /// The values of an [`IdMap`] in key order ([`IdMap::values`]).
    Values<'a, K, V>, slice::Iter<'a, (K, V)>, &'a V, |(_, v)| v
);
iterator!(
    /// The values of an [`IdMap`] in key order, mutably ([`IdMap::values_mut`]).
    ValuesMut<'a, K, V>, slice::IterMut<'a, (K, V)>, &'a mut V, |(_, v)| v
);
iterator!(
    /// The entries of an [`IdMap`] in key order, owned (`IdMap::into_iter`).
    IntoIter<K, V>, vec::IntoIter<(K, V)>, (K, V), |e| e
);

impl<'a, K, V> Clone for Iter<'a, K, V> {
    fn clone(&self) -> Self {
        Iter(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn behaves_like_a_btreemap() {
        let mut m = IdMap::new();
        assert!(m.is_empty());
        assert_eq!(m.insert(5u16, 'a'), None);
        assert_eq!(m.insert(1, 'b'), None);
        assert_eq!(m.insert(9, 'c'), None);
        assert_eq!(m.insert(5, 'd'), Some('a'));
        assert_eq!(m.len(), 3);
        assert_eq!(m.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(), [(1, 'b'), (5, 'd'), (9, 'c')]);
        assert_eq!(m.get(&5), Some(&'d'));
        assert_eq!(m.get(&4), None);
        assert!(m.contains_key(&9) && !m.contains_key(&10));
        *m.get_mut(&9).unwrap() = 'e';
        assert_eq!(m.remove(&1), Some('b'));
        assert_eq!(m.remove(&1), None);
        assert_eq!(m.keys().copied().collect::<Vec<_>>(), [5, 9]);
        assert_eq!(m.values().copied().collect::<Vec<_>>(), ['d', 'e']);
        assert_eq!(m.try_insert(5, 'x'), Err('x'));
        assert_eq!(m.try_insert(7, 'x').copied(), Ok('x'));
        *m.get_or_insert_with(3, || 'f') = 'g';
        assert_eq!(*m.get_or_insert_with(3, || 'h'), 'g');
        assert_eq!(m.first_key_value(), Some((&3, &'g')));
        assert_eq!(m.last_key_value(), Some((&9, &'e')));
        m.retain(|k, _| *k != 7);
        assert_eq!(m.into_iter().collect::<Vec<_>>(), [(3, 'g'), (5, 'd'), (9, 'e')]);
    }

    #[test]
    fn collecting_sorts_and_keeps_the_last_duplicate() {
        let m: IdMap<u16, u8> = vec![(3, 1), (1, 2), (3, 3), (2, 4), (1, 5)].into_iter().collect();
        assert_eq!(m.as_slice(), [(1, 5), (2, 4), (3, 3)]);
        let mut m = IdMap::from([(2u16, 'a')]);
        m.extend([(1, 'b'), (2, 'c')]);
        assert_eq!(m.as_slice(), [(1, 'b'), (2, 'c')]);
        assert_eq!(alloc::format!("{m:?}"), "{1: 'b', 2: 'c'}");
    }

    #[test]
    fn in_order_build_does_not_reallocate_with_capacity() {
        let mut m = IdMap::with_capacity(4);
        for k in 0u16..4 {
            m.insert(k, ());
        }
        assert_eq!(m.capacity(), 4);
    }
}
