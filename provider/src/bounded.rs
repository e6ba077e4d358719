//! A map with a fixed capacity, for the provider's in-memory caches. Each cache is a shortcut
//! in front of the chain, IPFS or SQLite, so forgetting an entry costs one lookup, while an
//! unbounded map would grow with every asset, order and CID that clients name.

use std::{borrow::Borrow, collections::HashMap, hash::Hash};

/// A `HashMap` of at most `capacity` entries; inserting a new key into a full one evicts an
/// arbitrary entry.
#[derive(Debug)]
pub(crate) struct BoundedMap<K, V> {
    map: HashMap<K, V>,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, V> BoundedMap<K, V> {
    /// An empty map holding at most `capacity` (at least one) entries.
    pub(crate) fn new(capacity: usize) -> Self {
        Self { map: HashMap::new(), capacity: capacity.max(1) }
    }

    pub(crate) fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(key)
    }

    pub(crate) fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.contains_key(key)
    }

    pub(crate) fn insert(&mut self, key: K, value: V) {
        if self.map.len() >= self.capacity
            && !self.map.contains_key(&key)
            && let Some(evicted) = self.map.keys().next().cloned()
        {
            self.map.remove(&evicted);
        }
        self.map.insert(key, value);
    }

    pub(crate) fn remove<Q>(&mut self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.remove(key);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_map_evicts_one_entry_per_new_key_and_updates_in_place() {
        let mut map = BoundedMap::new(3);
        for key in 0..10u32 {
            map.insert(key, key * 2);
            assert!(map.len() <= 3);
            assert_eq!(map.get(&key), Some(&(key * 2)), "the newest entry stays");
        }
        assert_eq!(map.len(), 3);
        map.insert(9, 1);
        assert_eq!((map.len(), map.get(&9)), (3, Some(&1)), "updating a key evicts nothing");
        assert!(map.contains_key(&9));
    }
}
