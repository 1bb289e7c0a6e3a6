//! One LUN's blocks: what is on the media (durable) and what sits dirty in a volatile write cache.
//!
//! The store is sparse: a block never written is absent and reads as `None`. The media is kept as
//! extents, runs of consecutive blocks one writer wrote in one epoch whose payloads count up by one
//! from block to block (a database writes each message to the block numbered by its id, so a week of
//! mail is a few extents, not twelve million blocks). The cache holds single blocks: it never holds
//! more than one destage interval of writes.

use super::command::BlockContent;
use core::time::Duration;
use kernel::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// `blocks` consecutive blocks whose first holds `first` and each next one the same writer and epoch
/// with the payload one higher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    pub blocks: u64,
    pub first: BlockContent,
}

impl Extent {
    fn single(content: BlockContent) -> Extent {
        Extent { blocks: 1, first: content }
    }

    /// The content of the block `offset` blocks into the extent.
    pub fn at(&self, offset: u64) -> BlockContent {
        BlockContent { payload: self.first.payload.wrapping_add(offset), ..self.first }
    }

    /// The part of the extent from `offset` on, `blocks` long.
    fn slice(&self, offset: u64, blocks: u64) -> Extent {
        Extent { blocks, first: self.at(offset) }
    }

    /// Whether `next` is what the block right after this extent would hold to extend it.
    fn continues_with(&self, next: BlockContent) -> bool {
        next == self.at(self.blocks)
    }
}

/// The media: extents keyed by their first LBA, disjoint.
#[derive(Debug, Default)]
struct Media {
    extents: BTreeMap<u64, Extent>,
}

impl Media {
    /// The extent holding `lba`, with its first LBA.
    fn extent_of(&self, lba: u64) -> Option<(u64, Extent)> {
        let (&start, &extent) = self.extents.range(..=lba).next_back()?;
        (lba - start < extent.blocks).then_some((start, extent))
    }

    fn get(&self, lba: u64) -> Option<BlockContent> {
        self.extent_of(lba).map(|(start, extent)| extent.at(lba - start))
    }

    /// Takes `lba` out of whatever extent holds it, splitting that extent.
    fn clear(&mut self, lba: u64) {
        let Some((start, extent)) = self.extent_of(lba) else { return };
        self.extents.remove(&start);
        let offset = lba - start;
        if offset > 0 {
            self.extents.insert(start, extent.slice(0, offset));
        }
        if offset + 1 < extent.blocks {
            self.extents.insert(lba + 1, extent.slice(offset + 1, extent.blocks - offset - 1));
        }
    }

    /// Puts `content` at `lba`, merging with the extents before and after it where the run continues.
    fn set(&mut self, lba: u64, content: BlockContent) {
        self.clear(lba);
        let mut start = lba;
        let mut merged = Extent::single(content);
        if let Some(before) = lba.checked_sub(1).and_then(|before| self.extent_of(before))
            && before.1.continues_with(content)
        {
            start = before.0;
            merged = Extent { blocks: before.1.blocks + 1, first: before.1.first };
        }
        if let Some(after) = lba.checked_add(1).and_then(|after| self.extents.get(&after).copied())
            && merged.continues_with(after.first)
        {
            self.extents.remove(&(lba + 1));
            merged.blocks += after.blocks;
        }
        self.extents.insert(start, merged);
    }
}

#[derive(Debug, Default)]
pub(crate) struct BlockStore {
    media: Media,
    /// Dirty content and when the block first became dirty.
    cached: BTreeMap<u64, (BlockContent, SimTime)>,
    /// Dirty blocks by the time they became dirty: the destage order.
    dirty: BTreeSet<(SimTime, u64)>,
}

impl BlockStore {
    /// Writes `data` from `lba` on. A durable write goes to the media (and supersedes any dirty copy);
    /// otherwise the blocks are dirty in the cache. Overwriting a dirty block keeps its dirty-since time,
    /// so the cache never holds a block longer than one destage interval, however often it is rewritten.
    pub(crate) fn write(&mut self, now: SimTime, lba: u64, data: &[BlockContent], durable: bool) {
        for (lba, &content) in (lba..).zip(data) {
            if durable {
                if let Some((_, since)) = self.cached.remove(&lba) {
                    self.dirty.remove(&(since, lba));
                }
                self.media.set(lba, content);
            } else if let Some((cached, _)) = self.cached.get_mut(&lba) {
                *cached = content;
            } else {
                self.cached.insert(lba, (content, now));
                self.dirty.insert((now, lba));
            }
        }
    }

    /// What a read returns: the cached copy if dirty, else the media.
    pub(crate) fn read(&self, lba: u64) -> Option<BlockContent> {
        self.cached.get(&lba).map(|(content, _)| *content).or_else(|| self.media.get(lba))
    }

    pub(crate) fn durable(&self, lba: u64) -> Option<BlockContent> {
        self.media.get(lba)
    }

    /// The readable content of every written block as extents (first LBA, extent), in LBA order:
    /// the media's extents with the dirty blocks laid over them.
    pub(crate) fn extents(&self) -> Vec<(u64, Extent)> {
        let mut out = Vec::new();
        for (&start, extent) in &self.media.extents {
            let end = start + extent.blocks;
            let mut from = start;
            for &lba in self.cached.range(start..end).map(|(lba, _)| lba) {
                if lba > from {
                    out.push((from, extent.slice(from - start, lba - from)));
                }
                from = lba + 1;
            }
            if from < end {
                out.push((from, extent.slice(from - start, end - from)));
            }
        }
        out.extend(self.cached.iter().map(|(&lba, &(content, _))| (lba, Extent::single(content))));
        out.sort_by_key(|&(lba, _)| lba);
        out
    }

    /// The readable content of every written block, in LBA order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, BlockContent)> + '_ {
        self.extents().into_iter().flat_map(|(start, extent)| {
            (0..extent.blocks).map(move |offset| (start + offset, extent.at(offset)))
        })
    }

    /// Writes back every block that has been dirty for at least `interval` by `now`.
    pub(crate) fn destage(&mut self, now: SimTime, interval: Duration) {
        while let Some(&(since, lba)) = self.dirty.first()
            && since + interval <= now
        {
            self.dirty.pop_first();
            self.commit(lba);
        }
    }

    /// Writes back every dirty block (SYNCHRONIZE CACHE, or an orderly shutdown); returns how many.
    pub(crate) fn flush(&mut self) -> u64 {
        let mut count = 0;
        while let Some((_, lba)) = self.dirty.pop_first() {
            self.commit(lba);
            count += 1;
        }
        count
    }

    /// Power loss: every dirty block reverts to its media content; returns how many were lost.
    pub(crate) fn drop_cache(&mut self) -> u64 {
        let dirty = core::mem::take(&mut self.dirty);
        self.cached.clear();
        dirty.len() as u64
    }

    /// Garbles a written block in both copies, as a media error or a firmware bug would: the payload is
    /// inverted, so it matches no message any client sent while still naming a plausible writer. A block
    /// never written stays unwritten. Returns whether anything changed.
    pub(crate) fn corrupt(&mut self, lba: u64) -> bool {
        let cached = self.cached.get_mut(&lba).map(|(content, _)| {
            content.payload = !content.payload;
        });
        let durable = self.media.get(lba).map(|content| {
            self.media.set(lba, BlockContent { payload: !content.payload, ..content });
        });
        cached.is_some() || durable.is_some()
    }

    fn commit(&mut self, lba: u64) {
        if let Some((content, _)) = self.cached.remove(&lba) {
            self.media.set(lba, content);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::HostId;

    fn content(payload: u64) -> BlockContent {
        BlockContent { writer: HostId(1), epoch: 1, payload }
    }

    #[test]
    fn a_rewritten_dirty_block_destages_on_the_schedule_of_its_first_write() {
        let mut store = BlockStore::default();
        let interval = Duration::from_secs(5);
        store.write(SimTime::from_secs(0), 7, &[content(1)], false);
        store.write(SimTime::from_secs(4), 7, &[content(2)], false);
        store.destage(SimTime::from_millis(4_999), interval);
        assert_eq!(store.durable(7), None);
        store.destage(SimTime::from_secs(5), interval);
        assert_eq!(store.durable(7), Some(content(2)));
        assert_eq!(store.drop_cache(), 0, "nothing is dirty once destaged");
    }

    #[test]
    fn dropping_the_cache_reverts_dirty_blocks_to_their_media_content() {
        let mut store = BlockStore::default();
        store.write(SimTime::ZERO, 0, &[content(1), content(2)], true);
        store.write(SimTime::ZERO, 1, &[content(3), content(4)], false);
        assert_eq!(store.iter().collect::<Vec<_>>(), vec![(0, content(1)), (1, content(3)), (2, content(4))]);
        assert_eq!(store.drop_cache(), 2);
        assert_eq!(store.iter().collect::<Vec<_>>(), vec![(0, content(1)), (1, content(2))]);
    }

    #[test]
    fn blocks_written_one_by_one_in_any_order_are_kept_as_one_extent_when_their_payloads_run_on() {
        let mut store = BlockStore::default();
        for lba in [3, 1, 2, 5, 4, 0] {
            store.write(SimTime::ZERO, lba, &[content(100 + lba)], true);
        }
        assert_eq!(store.media.extents.len(), 1, "{:?}", store.media.extents);
        assert_eq!(store.read(4), Some(content(104)));
        // Another epoch's write splits the run, and rewriting it as it was joins it again.
        let other = BlockContent { epoch: 2, ..content(102) };
        store.write(SimTime::ZERO, 2, &[other], true);
        assert_eq!(store.media.extents.len(), 3);
        assert_eq!(store.iter().map(|(_, content)| content).nth(2), Some(other));
        store.write(SimTime::ZERO, 2, &[content(102)], true);
        assert_eq!(store.media.extents.len(), 1);
        assert!(store.corrupt(5));
        assert_eq!(store.read(5).map(|content| content.payload), Some(!105));
        assert!(!store.corrupt(9), "a block never written stays unwritten");
    }

    #[test]
    fn dirty_blocks_lie_over_the_media_extents_in_lba_order() {
        let mut store = BlockStore::default();
        store.write(SimTime::ZERO, 0, &[content(0), content(1), content(2), content(3)], true);
        store.write(SimTime::ZERO, 2, &[content(9)], false);
        store.write(SimTime::ZERO, 6, &[content(6)], false);
        let payloads: Vec<(u64, u64)> = store.iter().map(|(lba, content)| (lba, content.payload)).collect();
        assert_eq!(payloads, vec![(0, 0), (1, 1), (2, 9), (3, 3), (6, 6)]);
        assert_eq!(store.durable(2), Some(content(2)));
    }
}
