//! A set of message ids kept as disjoint ranges.
//!
//! Mail to one database gets consecutive ids (the harness numbers each database's messages from its
//! own base), and a store, a log file, a LUN or a checker holds them in long runs with few holes. Keeping the runs
//! rather than the ids bounds memory by the number of holes, not by the number of messages: a week of
//! mail at 20 messages a second is twelve million ids, and a handful of ranges.

use crate::types::MessageId;

/// Message ids as inclusive ranges `first..=last`, sorted, disjoint and never adjacent (two ranges that
/// touch are merged). A sorted vector rather than a tree: the sets hold a handful of ranges each (one
/// per log file, a few per copy), and a vector of one range costs 16 bytes where a tree node costs
/// hundreds.
///
/// Serialised as its list of `[first, last]` ranges; read back through [`MessageSet::insert_range`],
/// so a hand-written list that overlaps or is out of order still makes a well-formed set.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "Vec<(MessageId, MessageId)>", from = "Vec<(MessageId, MessageId)>")]
pub struct MessageSet {
    ranges: Vec<(MessageId, MessageId)>,
    len: u64,
}

impl MessageSet {
    pub fn new() -> Self {
        MessageSet::default()
    }

    /// How many ids the set holds.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many ranges the set is kept as: what its memory grows with.
    pub fn range_count(&self) -> usize {
        self.ranges.len()
    }

    pub fn clear(&mut self) {
        self.ranges.clear();
        self.len = 0;
    }

    /// The index of the first range whose last id is at or above `msg`.
    fn first_reaching(&self, msg: MessageId) -> usize {
        self.ranges.partition_point(|&(_, last)| last < msg)
    }

    pub fn contains(&self, msg: MessageId) -> bool {
        self.ranges.get(self.first_reaching(msg)).is_some_and(|&(first, _)| first <= msg)
    }

    /// Adds `msg`; false if it was already there.
    pub fn insert(&mut self, msg: MessageId) -> bool {
        if self.contains(msg) {
            return false;
        }
        self.insert_range(msg, msg);
        true
    }

    /// Removes `msg`; false if it was not there.
    pub fn remove(&mut self, msg: MessageId) -> bool {
        let index = self.first_reaching(msg);
        let Some(&(first, last)) = self.ranges.get(index).filter(|&&(first, _)| first <= msg) else {
            return false;
        };
        match (first < msg, msg < last) {
            (true, true) => {
                self.ranges[index] = (first, msg - 1);
                self.ranges.insert(index + 1, (msg + 1, last));
            }
            (true, false) => self.ranges[index] = (first, msg - 1),
            (false, true) => self.ranges[index] = (msg + 1, last),
            (false, false) => {
                self.ranges.remove(index);
            }
        }
        self.len -= 1;
        true
    }

    /// Adds every id of `first..=last`; returns how many were new.
    pub fn insert_range(&mut self, first: MessageId, last: MessageId) -> u64 {
        if first > last {
            return 0;
        }
        // Every range that overlaps or touches `first..=last` merges into one: from the first range
        // reaching `first - 1` to the last one starting at or below `last + 1`.
        let start = self.first_reaching(first.saturating_sub(1));
        let end = self.ranges.partition_point(|&(range_first, _)| range_first <= last.saturating_add(1));
        let mut merged = (first, last);
        let mut absorbed = 0;
        // Saturating: a range of every id (from a hand-written history) counts as 2^64 - 1 ids.
        let size = |(first, last): (MessageId, MessageId)| (last - first).saturating_add(1);
        for &range in &self.ranges[start..end] {
            absorbed = size(range).saturating_add(absorbed);
            merged = (merged.0.min(range.0), merged.1.max(range.1));
        }
        self.ranges.splice(start..end, [merged]);
        let new = size(merged).saturating_sub(absorbed);
        self.len = self.len.saturating_add(new);
        new
    }

    /// Adds every id of `other`.
    pub fn union_with(&mut self, other: &MessageSet) {
        for (first, last) in other.ranges() {
            self.insert_range(first, last);
        }
    }

    /// The ranges, in order.
    pub fn ranges(&self) -> impl DoubleEndedIterator<Item = (MessageId, MessageId)> + '_ {
        self.ranges.iter().copied()
    }

    /// Every id, in order.
    pub fn iter(&self) -> impl Iterator<Item = MessageId> + '_ {
        self.ranges().flat_map(|(first, last)| first..=last)
    }

    pub fn first(&self) -> Option<MessageId> {
        self.ranges.first().map(|&(first, _)| first)
    }

    pub fn last(&self) -> Option<MessageId> {
        self.ranges.last().map(|&(_, last)| last)
    }

    /// The ids of this set that `other` lacks.
    pub fn difference(&self, other: &MessageSet) -> MessageSet {
        let mut out = MessageSet::new();
        for (first, last) in self.ranges() {
            // The first id of `first..=last` not yet placed, or `None` once `other` covers the rest.
            let mut next = Some(first);
            let start = other.first_reaching(first);
            for &(other_first, other_last) in other.ranges[start..].iter().take_while(|&&(f, _)| f <= last) {
                let Some(from) = next else { break };
                if other_first > from {
                    out.insert_range(from, other_first - 1);
                }
                next = if other_last >= last { None } else { Some(from.max(other_last + 1)) };
            }
            if let Some(from) = next {
                out.insert_range(from, last);
            }
        }
        out
    }

    /// The ids both sets hold.
    pub fn intersection(&self, other: &MessageSet) -> MessageSet {
        self.difference(&self.difference(other))
    }
}

impl From<MessageSet> for Vec<(MessageId, MessageId)> {
    fn from(set: MessageSet) -> Self {
        set.ranges
    }
}

impl From<Vec<(MessageId, MessageId)>> for MessageSet {
    fn from(ranges: Vec<(MessageId, MessageId)>) -> Self {
        let mut set = MessageSet::new();
        for (first, last) in ranges {
            set.insert_range(first, last);
        }
        set
    }
}

impl FromIterator<MessageId> for MessageSet {
    fn from_iter<I: IntoIterator<Item = MessageId>>(ids: I) -> Self {
        let mut set = MessageSet::new();
        for id in ids {
            set.insert(id);
        }
        set
    }
}

impl Extend<MessageId> for MessageSet {
    fn extend<I: IntoIterator<Item = MessageId>>(&mut self, ids: I) {
        for id in ids {
            self.insert(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// A small deterministic generator, so the model test needs no RNG crate.
    fn next(state: &mut u64) -> u64 {
        *state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        *state >> 33
    }

    #[test]
    fn consecutive_ids_are_kept_as_one_range_whatever_order_they_arrive_in() {
        let mut set = MessageSet::new();
        for msg in [5, 3, 4, 1, 2, 7, 6] {
            assert!(set.insert(msg));
        }
        assert!(!set.insert(4), "an id already held is not new");
        assert_eq!(set.ranges().collect::<Vec<_>>(), vec![(1, 7)]);
        assert_eq!(set.len(), 7);
        assert!(set.remove(4));
        assert_eq!(set.ranges().collect::<Vec<_>>(), vec![(1, 3), (5, 7)]);
        assert!(!set.remove(4));
    }

    #[test]
    fn a_range_of_every_id_does_not_overflow() {
        let mut set = MessageSet::from(vec![(0, u64::MAX)]);
        assert_eq!(set.len(), u64::MAX);
        assert_eq!(set.insert_range(5, 9), 0);
        assert!(set.contains(u64::MAX) && set.contains(0));
        assert!(set.remove(7));
        assert_eq!(set.ranges().count(), 2);
    }

    #[test]
    fn a_message_set_behaves_as_a_set_of_ids_under_every_operation() {
        let mut state = 7;
        for round in 0..200 {
            let mut set = MessageSet::new();
            let mut model = BTreeSet::new();
            let mut other = MessageSet::new();
            let mut other_model = BTreeSet::new();
            for _ in 0..60 {
                let msg = next(&mut state) % 40;
                match next(&mut state) % 4 {
                    0 => assert_eq!(set.remove(msg), model.remove(&msg)),
                    1 => {
                        let last = msg + next(&mut state) % 6;
                        let new = set.insert_range(msg, last);
                        let before = model.len();
                        model.extend(msg..=last);
                        assert_eq!(new, (model.len() - before) as u64, "round {round}");
                    }
                    2 => {
                        other.insert(msg);
                        other_model.insert(msg);
                    }
                    _ => assert_eq!(set.insert(msg), model.insert(msg)),
                }
                assert_eq!(set.iter().collect::<BTreeSet<_>>(), model, "round {round}");
                assert_eq!(set.len(), model.len() as u64);
                let touching = set.ranges().zip(set.ranges().skip(1)).any(|((_, a), (b, _))| a + 1 >= b);
                assert!(!touching, "ranges stay disjoint and apart: {set:?}");
            }
            let difference: BTreeSet<_> = model.difference(&other_model).copied().collect();
            assert_eq!(set.difference(&other).iter().collect::<BTreeSet<_>>(), difference, "round {round}");
            let intersection: BTreeSet<_> = model.intersection(&other_model).copied().collect();
            assert_eq!(set.intersection(&other).iter().collect::<BTreeSet<_>>(), intersection);
            let mut union = set.clone();
            union.union_with(&other);
            let union_model: BTreeSet<_> = model.union(&other_model).copied().collect();
            assert_eq!(union.iter().collect::<BTreeSet<_>>(), union_model);
        }
    }
}
