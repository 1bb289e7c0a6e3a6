//! A live migration's switchover as steps the world carries out: the VM is paused on its source host
//! (its host gate holds its packets and timers, as for a paused host), resumed `stun` later on the
//! target host, and its guest clock, which stood still meanwhile, is stepped forward.
//!
//! The pre-copy phase before the switchover is not modelled: the VM runs normally during it.

use super::{VmId, VmotionConfig};
use crate::ids::HostId;
use core::time::Duration;
use kernel::SimTime;
use serde::{Deserialize, Serialize};

/// One thing the world does for a migration, at the time the migration says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VmotionStep {
    /// Stun `vm` on `host`: it executes nothing and sends nothing until resumed.
    Pause { vm: VmId, host: HostId },
    /// Resume `vm`, now on `host`; tell both hosts' agents (`VmPower` off on the source, on on the
    /// target, which clears its VM monitoring statistics).
    Resume { vm: VmId, host: HostId },
    /// Step `vm`'s guest wall clock forward by `by`.
    StepGuestClock { vm: VmId, by: Duration },
}

/// One migration's switchover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vmotion {
    pub vm: VmId,
    pub from: HostId,
    pub to: HostId,
    pub started: SimTime,
    config: VmotionConfig,
}

impl Vmotion {
    /// Starts the switchover of `vm` from `from` to `to` at `now`: the step to carry out now.
    pub fn start(
        now: SimTime,
        vm: VmId,
        from: HostId,
        to: HostId,
        config: VmotionConfig,
    ) -> (Vmotion, VmotionStep) {
        (Vmotion { vm, from, to, started: now, config }, VmotionStep::Pause { vm, host: from })
    }

    /// When the VM resumes on the target: call [`Vmotion::finish`] then.
    pub fn resume_at(&self) -> SimTime {
        self.started + self.config.stun
    }

    /// The steps at `resume_at`: resume on the target, then step the guest clock.
    pub fn finish(&self) -> [VmotionStep; 2] {
        let by = self.config.clock_step.unwrap_or(self.config.stun);
        [VmotionStep::Resume { vm: self.vm, host: self.to }, VmotionStep::StepGuestClock { vm: self.vm, by }]
    }
}
