//! Unit attention conditions of one LUN, per I_T nexus (SPC: a unit attention is per I_T_L nexus and is
//! reported once, to the first command it fails).

use super::Nexus;
use super::command::UnitAttention;
use std::collections::{BTreeMap, VecDeque};

#[derive(Debug, Default)]
pub(crate) struct Attention {
    queued: BTreeMap<Nexus, VecDeque<UnitAttention>>,
    /// How many array resets each nexus has been told about. A reset concerns every nexus, including
    /// ones that never spoke to the array yet, so it is kept as a count (compared with the array's) rather
    /// than queued for a list of nexuses nobody keeps.
    resets_reported: BTreeMap<Nexus, u64>,
}

impl Attention {
    /// Queues `condition` for `nexus`, unless the same one is already waiting.
    pub(crate) fn raise(&mut self, nexus: Nexus, condition: UnitAttention) {
        let queue = self.queued.entry(nexus).or_default();
        if !queue.contains(&condition) {
            queue.push_back(condition);
        }
    }

    /// A power-on reset supersedes every condition queued before it.
    pub(crate) fn reset(&mut self) {
        self.queued.clear();
    }

    /// The condition a command from `nexus` is failed with, consumed; `resets` is the array's reset
    /// count. A reset the nexus has not heard of comes first.
    pub(crate) fn take(&mut self, nexus: Nexus, resets: u64) -> Option<UnitAttention> {
        let reported = self.resets_reported.entry(nexus).or_insert(0);
        if *reported < resets {
            *reported = resets;
            return Some(UnitAttention::PowerOnReset);
        }
        let queue = self.queued.get_mut(&nexus)?;
        let condition = queue.pop_front();
        if queue.is_empty() {
            self.queued.remove(&nexus);
        }
        condition
    }

    /// The condition `take` would return, without consuming it.
    pub(crate) fn peek(&self, nexus: Nexus, resets: u64) -> Option<UnitAttention> {
        if self.resets_reported.get(&nexus).copied().unwrap_or(0) < resets {
            return Some(UnitAttention::PowerOnReset);
        }
        self.queued.get(&nexus)?.front().copied()
    }
}
