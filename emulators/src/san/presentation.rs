//! LUN masking and discovery (domain.md 4.1).
//!
//! Masking is the array's configuration: which hosts a LUN is mapped to, and when each mapping took
//! effect. Discovery is the host's: a host sees a LUN only after a rescan probed it, and forgets what it
//! discovered when it reboots. Probes take `probe_delay` each; with serial enumeration the array has one
//! probe queue, so a rescan of n LUNs takes n probes.

use super::config::{ArrayConfig, Enumeration, LunConfig};
use crate::ids::{HostId, LunId};
use kernel::SimTime;
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub(crate) struct Presentation {
    /// When each (LUN, host) mapping takes effect.
    masks: BTreeMap<(LunId, HostId), SimTime>,
    /// When each host sees each LUN it discovered or is discovering.
    discovered: BTreeMap<(HostId, LunId), SimTime>,
    /// When the serial probe queue is next free.
    probe_free_at: SimTime,
}

impl Presentation {
    /// The lab as it was running at time zero: every LUN mapped to, and discovered by, its hosts.
    pub(crate) fn new(luns: &[LunConfig]) -> Self {
        let mut presentation = Presentation::default();
        for lun in luns {
            for &host in &lun.masked_to {
                presentation.masks.insert((lun.id, host), SimTime::ZERO);
                presentation.discovered.insert((host, lun.id), SimTime::ZERO);
            }
        }
        presentation
    }

    /// Maps `lun` to `host` if needed and probes it, no earlier than `earliest` (the array's boot).
    /// Returns when the host sees the LUN, and whether this call scheduled a new probe.
    pub(crate) fn present(
        &mut self,
        now: SimTime,
        host: HostId,
        lun: LunId,
        config: &ArrayConfig,
        earliest: SimTime,
    ) -> (SimTime, bool) {
        if let Some(&visible_at) = self.discovered.get(&(host, lun)) {
            return (visible_at.max(now), false);
        }
        let mapped_at = *self.masks.entry((lun, host)).or_insert(now + config.mapping_delay);
        let ready = now.max(mapped_at).max(earliest);
        let visible_at = match config.enumeration {
            Enumeration::Serial => {
                let start = ready.max(self.probe_free_at);
                self.probe_free_at = start + config.probe_delay;
                self.probe_free_at
            }
            Enumeration::Parallel => ready + config.probe_delay,
        };
        self.discovered.insert((host, lun), visible_at);
        (visible_at, true)
    }

    pub(crate) fn is_visible(&self, now: SimTime, host: HostId, lun: LunId) -> bool {
        self.discovered.get(&(host, lun)).is_some_and(|&visible_at| visible_at <= now)
    }

    /// A rebooted host has discovered nothing; its mappings stay.
    pub(crate) fn forget_host(&mut self, host: HostId) {
        self.discovered.retain(|&(discoverer, _), _| discoverer != host);
    }

    /// The LUNs mapped (or being mapped) to `host`, in LUN order.
    pub(crate) fn masked_luns(&self, host: HostId) -> Vec<LunId> {
        self.masks.keys().filter(|&&(_, masked)| masked == host).map(|&(lun, _)| lun).collect()
    }

    /// The hosts `lun` is mapped (or being mapped) to, in host order.
    pub(crate) fn masked_hosts(&self, lun: LunId) -> Vec<HostId> {
        self.masks.range((lun, HostId(0))..=(lun, HostId(u32::MAX))).map(|(&(_, host), _)| host).collect()
    }
}
