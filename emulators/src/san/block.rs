//! One LUN's blocks: what is on the media (durable) and what sits dirty in a volatile write cache.
//!
//! The store is sparse: a block never written is absent and reads as `None`.

use super::command::BlockContent;
use core::time::Duration;
use kernel::SimTime;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, Default)]
struct Block {
    durable: Option<BlockContent>,
    /// Dirty content and when the block first became dirty.
    cached: Option<(BlockContent, SimTime)>,
}

#[derive(Debug, Default)]
pub(crate) struct BlockStore {
    blocks: BTreeMap<u64, Block>,
    /// Dirty blocks by the time they became dirty: the destage order.
    dirty: BTreeSet<(SimTime, u64)>,
}

impl BlockStore {
    /// Writes `data` from `lba` on. A durable write goes to the media (and supersedes any dirty copy);
    /// otherwise the blocks are dirty in the cache. Overwriting a dirty block keeps its dirty-since time,
    /// so the cache never holds a block longer than one destage interval, however often it is rewritten.
    pub(crate) fn write(&mut self, now: SimTime, lba: u64, data: &[BlockContent], durable: bool) {
        for (lba, &content) in (lba..).zip(data) {
            let block = self.blocks.entry(lba).or_default();
            if durable {
                if let Some((_, since)) = block.cached.take() {
                    self.dirty.remove(&(since, lba));
                }
                block.durable = Some(content);
            } else if let Some((cached, _)) = &mut block.cached {
                *cached = content;
            } else {
                block.cached = Some((content, now));
                self.dirty.insert((now, lba));
            }
        }
    }

    /// What a read returns: the cached copy if dirty, else the media.
    pub(crate) fn read(&self, lba: u64) -> Option<BlockContent> {
        let block = self.blocks.get(&lba)?;
        block.cached.map(|(content, _)| content).or(block.durable)
    }

    pub(crate) fn durable(&self, lba: u64) -> Option<BlockContent> {
        self.blocks.get(&lba)?.durable
    }

    /// The readable content of every written block, in LBA order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, BlockContent)> + '_ {
        self.blocks.keys().filter_map(|&lba| self.read(lba).map(|content| (lba, content)))
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
        for &(_, lba) in &dirty {
            if let Some(block) = self.blocks.get_mut(&lba) {
                block.cached = None;
                if block.durable.is_none() {
                    self.blocks.remove(&lba);
                }
            }
        }
        dirty.len() as u64
    }

    /// Garbles a written block in both copies, as a media error or a firmware bug would: the payload is
    /// inverted, so it matches no message any client sent while still naming a plausible writer. A block
    /// never written stays unwritten. Returns whether anything changed.
    pub(crate) fn corrupt(&mut self, lba: u64) -> bool {
        let Some(block) = self.blocks.get_mut(&lba) else { return false };
        if let Some(content) = &mut block.durable {
            content.payload = !content.payload;
        }
        if let Some((content, _)) = &mut block.cached {
            content.payload = !content.payload;
        }
        true
    }

    fn commit(&mut self, lba: u64) {
        if let Some(block) = self.blocks.get_mut(&lba)
            && let Some((content, _)) = block.cached.take()
        {
            block.durable = Some(content);
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
}
