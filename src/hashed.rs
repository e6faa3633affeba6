//! Hash maps and sets whose hashes no server can predict.
//!
//! std's `RandomState` draws its keys from the platform, and `wasm32-unknown-unknown` gives it
//! none: its hashes are the same in every page (two Node.js processes hash a value alike). Room
//! ids, and the event ids of rooms before version 3, are whatever a server chooses, so a server
//! could choose ids that collide and make every lookup among them walk them all. Each hash here
//! starts with a secret drawn once per module instance from the platform's random source.
//!
//! The store's maps that are only looked up by key are these rather than `BTreeMap`s: a
//! `BTreeMap` compiles its node code for every key and value type, where most of a hash table's
//! code is shared by every type (ARCHITECTURE.md, "Keeping the whole package's wasm small").

use std::hash::{BuildHasher, DefaultHasher, Hasher};

/// A hash map keyed by values a server may choose.
pub type HashMap<K, V> = std::collections::HashMap<K, V, Salted>;

/// A hash set of values a server may choose.
pub type HashSet<T> = std::collections::HashSet<T, Salted>;

/// Hashers that hash the module instance's secret salt before the value.
#[derive(Debug, Clone, Copy, Default)]
pub struct Salted;

thread_local! {
    /// A hasher that has hashed the salt: every hash starts from a copy of it, so the salt is
    /// hashed once, not once per hash.
    static SALTED: DefaultHasher = {
        let mut hasher = DefaultHasher::new();
        hasher.write_u128(draw());
        hasher
    };
}

impl BuildHasher for Salted {
    type Hasher = DefaultHasher;

    fn build_hasher(&self) -> DefaultHasher {
        SALTED.with(DefaultHasher::clone)
    }
}

/// From `crypto.getRandomValues`. Where it fails (no Web Crypto), the salt is zero and hashes
/// are as predictable as std's here, which still works.
#[cfg(target_arch = "wasm32")]
fn draw() -> u128 {
    let mut bytes = [0; 16];
    let _ = getrandom::fill(&mut bytes);
    u128::from_le_bytes(bytes)
}

/// Natively std's keys are random already; the salt adds nothing but keeps one code path.
#[cfg(not(target_arch = "wasm32"))]
fn draw() -> u128 {
    let state = std::hash::RandomState::new();
    u128::from(state.hash_one(0_u8)) << 64 | u128::from(state.hash_one(1_u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_instance_hashes_a_value_alike_every_time() {
        assert_eq!(Salted.hash_one("!r:x"), Salted.hash_one("!r:x"));
        assert_ne!(Salted.hash_one("!r:x"), Salted.hash_one("!s:x"));
        let map: HashMap<&str, u8> = [("a", 1), ("b", 2)].into_iter().collect();
        assert_eq!((map.get("a"), map.get("b"), map.get("c")), (Some(&1), Some(&2), None));
    }
}
