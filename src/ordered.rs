//! Ordered sets and maps built from iterators by inserting each item.
//!
//! `collect` into a `BTreeSet` or `BTreeMap` sorts the items first and builds the tree in bulk,
//! and that sort is compiled anew for every item type: about 4 KB of wasm each. Inserting reuses
//! the tree's own code, which every such set or map carries anyway. The result is the same: the
//! last of equal keys wins, as with `collect`.

use std::collections::{BTreeMap, BTreeSet};

/// The set of `items`.
pub(crate) fn set_of<T: Ord>(items: impl IntoIterator<Item = T>) -> BTreeSet<T> {
    let mut set = BTreeSet::new();
    set.extend(items);
    set
}

/// The map of `pairs`.
pub(crate) fn map_of<K: Ord, V>(pairs: impl IntoIterator<Item = (K, V)>) -> BTreeMap<K, V> {
    let mut map = BTreeMap::new();
    map.extend(pairs);
    map
}
