//! Who claims something a node can hold, when two may at once: a group's IP address (two hosts
//! answering one address by ARP) or a database's mount (a resumed memory image that still believes
//! it owns the database, beside the node that took it over).
//!
//! The latest claimant answers; when it gives its claim up, the claimant before it answers again,
//! as clients re-ARP and find the host that kept the address configured. A single-holder map lost
//! the earlier claimant: a resumed image that dropped the address it had reclaimed left the group
//! with no address at all, and every message after it stranded in the hub
//! (`fast/ha-snapshot-revert`, found by the `not-served` check of stranded mail).

use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub(super) struct Claims<K: Ord, V> {
    claims: BTreeMap<K, Vec<V>>,
}

impl<K: Ord, V> Default for Claims<K, V> {
    fn default() -> Self {
        Claims { claims: BTreeMap::new() }
    }
}

impl<K: Ord + Copy, V: PartialEq + Copy> Claims<K, V> {
    /// `holder` claims `key` now, after any other claimant.
    pub fn claim(&mut self, key: K, holder: V) {
        let list = self.claims.entry(key).or_default();
        list.retain(|each| *each != holder);
        list.push(holder);
    }

    /// `holder` gives up its claim on `key`; the claimant before it, if any, answers again.
    pub fn release(&mut self, key: K, holder: V) {
        if let Some(list) = self.claims.get_mut(&key) {
            list.retain(|each| *each != holder);
            if list.is_empty() {
                self.claims.remove(&key);
            }
        }
    }

    /// `holder` gives up every claim (its host lost power).
    pub fn release_all(&mut self, holder: V) {
        self.claims.retain(|_, list| {
            list.retain(|each| *each != holder);
            !list.is_empty()
        });
    }

    /// Who answers for `key` now: its latest claimant.
    pub fn holder(&self, key: &K) -> Option<V> {
        self.claims.get(key).and_then(|list| list.last().copied())
    }

    pub fn is_claimed(&self, key: &K) -> bool {
        self.claims.contains_key(key)
    }

    /// Every key `holder` claims, whether or not it answers for it now.
    pub fn claimed_by(&self, holder: V) -> Vec<K> {
        self.claims.iter().filter(|(_, list)| list.contains(&holder)).map(|(key, _)| *key).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_claimant_answers_and_the_one_before_answers_again_when_it_lets_go() {
        let mut claims: Claims<u8, u8> = Claims::default();
        claims.claim(1, 20);
        claims.claim(1, 10);
        assert_eq!(claims.holder(&1), Some(10));
        claims.release(1, 10);
        assert_eq!(claims.holder(&1), Some(20), "the node that kept the address answers again");
        claims.release(1, 10);
        assert_eq!(claims.holder(&1), Some(20), "a release by a non-claimant changes nothing");
        claims.claim(2, 20);
        assert_eq!(claims.claimed_by(20), vec![1, 2]);
        claims.release_all(20);
        assert!(!claims.is_claimed(&1) && !claims.is_claimed(&2));
    }
}
