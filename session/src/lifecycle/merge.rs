//! The per-key merge of a conditional save that found the record changed by
//! another writer: what this request changed, by encoded bytes against the
//! record it loaded (a removal included), is applied onto the current
//! record; every other key keeps its current value. A key changed by both:
//! this request wins, as the last writer of that key.

use crate::map::SessionMap;

/// `current` with this request's changes applied: `loaded` is the record the
/// request read, `ours` the map it ends with.
pub(super) fn merge(loaded: &SessionMap, ours: &SessionMap, mut current: SessionMap) -> SessionMap {
    for (key, before) in loaded.iter_raw() {
        match ours.get_raw(key) {
            None => {
                current.remove(key);
            }
            Some(now) if now != before => current.insert_raw(key.to_owned(), now.to_vec()),
            Some(_) => {}
        }
    }
    for (key, now) in ours.iter_raw() {
        if loaded.get_raw(key).is_none() {
            current.insert_raw(key.to_owned(), now.to_vec());
        }
    }
    current
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, i64)]) -> SessionMap {
        let mut map = SessionMap::new();
        for (key, value) in pairs {
            map.insert(key, value).unwrap();
        }
        map
    }

    fn pairs(map: &SessionMap) -> Vec<(String, i64)> {
        map.keys()
            .map(|key| (key.to_owned(), map.get::<i64>(key).unwrap().unwrap()))
            .collect()
    }

    #[test]
    fn changes_to_different_keys_both_survive() {
        let loaded = map(&[("a", 1), ("b", 1)]);
        let ours = map(&[("a", 2), ("b", 1)]);
        let theirs = map(&[("a", 1), ("b", 3)]);
        let merged = merge(&loaded, &ours, theirs);
        assert_eq!(pairs(&merged), [("a".into(), 2), ("b".into(), 3)]);
    }

    #[test]
    fn the_same_key_changed_by_both_takes_ours() {
        let loaded = map(&[("a", 1)]);
        let merged = merge(&loaded, &map(&[("a", 2)]), map(&[("a", 3)]));
        assert_eq!(pairs(&merged), [("a".into(), 2)]);
    }

    #[test]
    fn a_removal_is_applied_and_an_untouched_key_keeps_theirs() {
        let loaded = map(&[("a", 1), ("b", 1)]);
        let ours = map(&[("b", 1)]);
        let theirs = map(&[("a", 5), ("b", 7), ("c", 9)]);
        let merged = merge(&loaded, &ours, theirs);
        assert_eq!(pairs(&merged), [("b".into(), 7), ("c".into(), 9)]);
    }

    #[test]
    fn a_key_we_added_is_added_and_one_they_removed_stays_removed() {
        let loaded = map(&[("a", 1), ("b", 1)]);
        let ours = map(&[("a", 1), ("b", 1), ("n", 4)]);
        let theirs = map(&[("a", 1)]);
        let merged = merge(&loaded, &ours, theirs);
        assert_eq!(pairs(&merged), [("a".into(), 1), ("n".into(), 4)]);
    }
}
