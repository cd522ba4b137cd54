//! A small insertion-ordered map on a `Vec`: the SDK's maps hold a handful
//! of entries, and one linear map is much smaller in wasm than `BTreeMap` /
//! `HashMap` code for each key type.

/// Insertion-ordered map with linear lookup.
#[derive(Debug, Clone)]
pub(crate) struct VecMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<K: PartialEq, V> VecMap<K, V> {
    pub(crate) fn get<Q: PartialEq<K> + ?Sized>(&self, key: &Q) -> Option<&V> {
        self.0.iter().find(|(k, _)| key == k).map(|(_, v)| v)
    }

    /// Inserts or replaces; new keys go last.
    pub(crate) fn insert(&mut self, key: K, value: V) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    pub(crate) fn remove<Q: PartialEq<K> + ?Sized>(&mut self, key: &Q) -> Option<V> {
        let i = self.0.iter().position(|(k, _)| key == k)?;
        self.take(i)
    }

    pub(crate) fn remove_where(&mut self, mut pred: impl FnMut(&K, &V) -> bool) -> Vec<V> {
        let mut out = Vec::new();
        let mut i = 0;
        while let Some((k, v)) = self.0.get(i) {
            if pred(k, v) {
                out.extend(self.take(i));
            } else {
                i += 1;
            }
        }
        out
    }

    /// Removes entry `i`, keeping the order of the others: `Vec::remove`
    /// without its panic path, whose index formatting keeps integer
    /// `Display` code in the wasm.
    fn take(&mut self, i: usize) -> Option<V> {
        let tail = self.0.get_mut(i..)?;
        for j in 1..tail.len() {
            tail.swap(j - 1, j);
        }
        self.0.pop().map(|(_, v)| v)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.0.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    pub(crate) fn into_values(self) -> impl Iterator<Item = V> {
        self.0.into_iter().map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove_keep_order() {
        let mut m = VecMap::default();
        m.insert(3, "c");
        m.insert(1, "a");
        m.insert(3, "C");
        assert_eq!(m.get(&3), Some(&"C"));
        assert_eq!(m.values().copied().collect::<Vec<_>>(), ["C", "a"]);
        assert_eq!(m.remove(&3), Some("C"));
        assert_eq!(m.remove(&3), None);
        m.insert(5, "e");
        m.insert(6, "f");
        assert_eq!(m.remove_where(|k, _| *k > 4), ["e", "f"]);
        assert_eq!(m.len(), 1);
        m.clear();
        assert_eq!(m.len(), 0);
    }
}
