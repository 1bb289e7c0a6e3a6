//! The file share witness of a WSFC "Node and File Share Majority" cluster (domain.md section 1.1).
//!
//! The witness's vote belongs to whoever holds an exclusive SMB lock on a file on the share. The lock is
//! kept by renewal: a holder that stops renewing loses it once its SMB session times out (the lease),
//! and anyone may then take it. When the share's host goes down or reboots, its locks are gone, which is
//! why a node must not trust a lease it was granted before the witness's boot time.
//!
//! The arbitration delay (a node that did not own the quorum resource waits 6 s before trying) belongs
//! to the failover logic, not here: the witness answers every request on its merits at once, and the
//! harness delays the reply by [`FileShareWitness::response_delay`].

use crate::ids::HostId;
use core::time::Duration;
use kernel::SimTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The witness's timing parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessConfig {
    /// How long a grant lasts without renewal: the SMB session timeout after which the server releases
    /// an unrenewed lock. Default 10 s.
    pub lock_lease: Duration,
    /// How long a reply takes to come back from a healthy share. Default 5 ms.
    pub response_delay: Duration,
}

impl Default for WitnessConfig {
    fn default() -> Self {
        WitnessConfig { lock_lease: Duration::from_secs(10), response_delay: Duration::from_millis(5) }
    }
}

/// What a cluster node asks of the witness.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WitnessOp {
    /// Take the lock if it is free or expired; renews it if the caller already holds it.
    Acquire,
    /// Extend the caller's lease; only the current holder may.
    Renew,
    /// Give the lock up so another node can take it without waiting for the lease to run out.
    Release,
    /// Write `value` under `key` in the witness file, if the caller holds the lock and `value` is
    /// greater than what the file holds there (WSFC keeps its paxos tag in `witness.log` this way).
    Record { key: u64, value: u64 },
}

/// The witness's answer, computed at the instant of the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WitnessReply {
    /// The caller holds the lock until `lease_until` unless it renews.
    Granted { lease_until: SimTime },
    /// Another host holds the lock.
    Denied { holder: HostId },
    /// The lock is free (the caller released it, or nobody held it).
    Released,
    /// A renewal by a host that no longer holds the lock, and nobody else does either: its lease ran
    /// out or the witness rebooted. It must acquire again, and knows it was without the vote meanwhile.
    NotHeld,
    /// A `Record` was written (`accepted`) or refused (the file already holds that value or a greater
    /// one).
    Recorded { accepted: bool },
    /// The share is down: no lock can be taken, renewed or released.
    Unavailable,
}

/// One file share witness on one host.
#[derive(Debug)]
pub struct FileShareWitness {
    host: HostId,
    config: WitnessConfig,
    up: bool,
    extra_delay: Duration,
    lock: Option<Lock>,
    grants: u64,
    boot_time: SimTime,
    /// The witness file: on the share's disk, so it survives the share going down or rebooting.
    file: BTreeMap<u64, u64>,
}

#[derive(Clone, Copy, Debug)]
struct Lock {
    holder: HostId,
    lease_until: SimTime,
}

impl FileShareWitness {
    /// A witness share on `host`, up and unlocked, booted at the start of the run.
    pub fn new(host: HostId, config: WitnessConfig) -> Self {
        FileShareWitness {
            host,
            config,
            up: true,
            extra_delay: Duration::ZERO,
            lock: None,
            grants: 0,
            boot_time: SimTime::ZERO,
            file: BTreeMap::new(),
        }
    }

    /// The host the share lives on.
    pub fn host(&self) -> HostId {
        self.host
    }

    pub fn config(&self) -> &WitnessConfig {
        &self.config
    }

    /// Answers `op` from `from` as of `now`. The harness delivers the reply after `response_delay()`.
    pub fn request(&mut self, now: SimTime, from: HostId, op: WitnessOp) -> WitnessReply {
        if !self.up {
            return WitnessReply::Unavailable;
        }
        match (self.holder(now), op) {
            (Some(holder), _) if holder != from => WitnessReply::Denied { holder },
            (Some(_), WitnessOp::Acquire | WitnessOp::Renew) | (None, WitnessOp::Acquire) => {
                self.grant(now, from)
            }
            (None, WitnessOp::Renew) => WitnessReply::NotHeld,
            (None, WitnessOp::Record { .. }) => WitnessReply::NotHeld,
            (Some(_), WitnessOp::Record { key, value }) => {
                let stored = self.file.entry(key).or_default();
                let accepted = value > *stored;
                *stored = (*stored).max(value);
                WitnessReply::Recorded { accepted }
            }
            // Releasing a free lock is a no-op, so a node may release without knowing its lease expired.
            (_, WitnessOp::Release) => {
                self.lock = None;
                WitnessReply::Released
            }
        }
    }

    fn grant(&mut self, now: SimTime, from: HostId) -> WitnessReply {
        let lease_until = now + self.config.lock_lease;
        self.lock = Some(Lock { holder: from, lease_until });
        self.grants += 1;
        WitnessReply::Granted { lease_until }
    }

    /// How long a reply takes to reach the caller: the configured delay plus any `slow` fault.
    pub fn response_delay(&self) -> Duration {
        self.config.response_delay + self.extra_delay
    }

    /// Takes the share down or brings it back. Going down loses the lock (the server's sessions are
    /// gone); coming back up is a boot, recorded as the boot time.
    pub fn set_up(&mut self, now: SimTime, up: bool) {
        if up == self.up {
            return;
        }
        self.up = up;
        self.lock = None;
        if up {
            self.boot_time = now;
        }
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Makes the share slow to answer (an overloaded file server); zero restores normal speed.
    pub fn set_extra_delay(&mut self, extra: Duration) {
        self.extra_delay = extra;
    }

    /// Reboots the share's host: the lock is lost, the boot time is now, and the share is up.
    pub fn reboot(&mut self, now: SimTime) {
        self.up = true;
        self.lock = None;
        self.boot_time = now;
    }

    /// Ground truth: who holds the lock at `now` (nobody once the lease has run out or the share is down).
    pub fn holder(&self, now: SimTime) -> Option<HostId> {
        self.lock.filter(|lock| now < lock.lease_until).map(|lock| lock.holder)
    }

    /// How many `Granted` replies the witness has given, acquisitions and renewals alike.
    pub fn grants(&self) -> u64 {
        self.grants
    }

    /// Ground truth: the witness file, key by key.
    pub fn file(&self) -> &BTreeMap<u64, u64> {
        &self.file
    }

    /// When the share's host last booted (`SimTime::ZERO` if it has run since the start).
    pub fn boot_time(&self) -> SimTime {
        self.boot_time
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel::SeedTree;

    const SHARE: HostId = HostId(10);
    const A: HostId = HostId(1);
    const B: HostId = HostId(2);
    const C: HostId = HostId(3);

    fn witness() -> FileShareWitness {
        FileShareWitness::new(SHARE, WitnessConfig::default())
    }

    fn t(millis: u64) -> SimTime {
        SimTime::from_millis(millis)
    }

    #[test]
    fn defaults_are_a_ten_second_lease_and_a_five_millisecond_reply() {
        let config = WitnessConfig::default();
        assert_eq!(config.lock_lease, Duration::from_secs(10));
        assert_eq!(config.response_delay, Duration::from_millis(5));
        assert_eq!(witness().response_delay(), Duration::from_millis(5));
        assert_eq!(witness().host(), SHARE);
    }

    #[test]
    fn the_first_acquirer_gets_the_lock_and_others_are_denied() {
        let mut witness = witness();
        assert_eq!(
            witness.request(t(0), A, WitnessOp::Acquire),
            WitnessReply::Granted { lease_until: t(10_000) }
        );
        assert_eq!(witness.request(t(1), B, WitnessOp::Acquire), WitnessReply::Denied { holder: A });
        assert_eq!(witness.request(t(2), B, WitnessOp::Renew), WitnessReply::Denied { holder: A });
        assert_eq!(witness.request(t(3), B, WitnessOp::Release), WitnessReply::Denied { holder: A });
        assert_eq!(witness.holder(t(3)), Some(A), "a non-holder's release must not free the lock");
    }

    #[test]
    fn only_the_holder_records_and_only_a_greater_value_and_the_file_outlives_a_reboot() {
        let mut witness = witness();
        let record = |value| WitnessOp::Record { key: 7, value };
        assert_eq!(witness.request(t(0), A, record(2)), WitnessReply::NotHeld);
        witness.request(t(0), A, WitnessOp::Acquire);
        assert_eq!(witness.request(t(1), B, record(2)), WitnessReply::Denied { holder: A });
        assert_eq!(witness.request(t(2), A, record(2)), WitnessReply::Recorded { accepted: true });
        assert_eq!(witness.request(t(3), A, record(2)), WitnessReply::Recorded { accepted: false });
        witness.reboot(t(4));
        witness.request(t(5), B, WitnessOp::Acquire);
        assert_eq!(witness.request(t(6), B, record(2)), WitnessReply::Recorded { accepted: false });
        assert_eq!(witness.file().get(&7), Some(&2));
    }

    #[test]
    fn an_unrenewed_lock_expires_at_the_end_of_its_lease() {
        let mut witness = witness();
        witness.request(t(0), A, WitnessOp::Acquire);
        assert_eq!(witness.holder(t(9_999)), Some(A));
        assert_eq!(witness.holder(t(10_000)), None);
        assert_eq!(
            witness.request(t(10_000), B, WitnessOp::Acquire),
            WitnessReply::Granted { lease_until: t(20_000) }
        );
        assert_eq!(witness.holder(t(10_000)), Some(B));
    }

    #[test]
    fn renewing_extends_the_lease_from_the_renewal() {
        let mut witness = witness();
        witness.request(t(0), A, WitnessOp::Acquire);
        assert_eq!(
            witness.request(t(8_000), A, WitnessOp::Renew),
            WitnessReply::Granted { lease_until: t(18_000) }
        );
        assert_eq!(witness.holder(t(15_000)), Some(A));
        assert_eq!(witness.request(t(15_000), B, WitnessOp::Acquire), WitnessReply::Denied { holder: A });
        // Acquiring again while holding is a renewal too.
        assert_eq!(
            witness.request(t(16_000), A, WitnessOp::Acquire),
            WitnessReply::Granted { lease_until: t(26_000) }
        );
        assert_eq!(witness.grants(), 3);
    }

    #[test]
    fn renewing_after_the_lease_ran_out_tells_the_caller_it_lost_the_lock() {
        let mut witness = witness();
        witness.request(t(0), A, WitnessOp::Acquire);
        assert_eq!(witness.request(t(10_001), A, WitnessOp::Renew), WitnessReply::NotHeld);
        assert_eq!(witness.holder(t(10_001)), None);
        assert_eq!(witness.grants(), 1);
    }

    #[test]
    fn releasing_frees_the_lock_for_another_host_at_once() {
        let mut witness = witness();
        witness.request(t(0), A, WitnessOp::Acquire);
        assert_eq!(witness.request(t(1_000), A, WitnessOp::Release), WitnessReply::Released);
        assert_eq!(witness.holder(t(1_000)), None);
        assert_eq!(
            witness.request(t(1_001), B, WitnessOp::Acquire),
            WitnessReply::Granted { lease_until: t(11_001) }
        );
        assert_eq!(witness.request(t(1_002), C, WitnessOp::Release), WitnessReply::Denied { holder: B });
    }

    #[test]
    fn a_down_share_answers_nothing_and_comes_back_without_the_lock() {
        let mut witness = witness();
        witness.request(t(0), A, WitnessOp::Acquire);
        witness.set_up(t(1_000), false);
        assert!(!witness.is_up());
        assert_eq!(witness.holder(t(1_000)), None);
        for op in [WitnessOp::Acquire, WitnessOp::Renew, WitnessOp::Release] {
            assert_eq!(witness.request(t(2_000), A, op), WitnessReply::Unavailable);
        }
        witness.set_up(t(3_000), true);
        assert_eq!(witness.boot_time(), t(3_000));
        assert_eq!(witness.holder(t(3_000)), None, "the lock did not survive the share's reboot");
        assert_eq!(witness.request(t(3_001), A, WitnessOp::Renew), WitnessReply::NotHeld);
        assert_eq!(
            witness.request(t(3_002), B, WitnessOp::Acquire),
            WitnessReply::Granted { lease_until: t(13_002) }
        );
    }

    #[test]
    fn setting_a_share_up_that_is_already_up_is_not_a_reboot() {
        let mut witness = witness();
        witness.request(t(0), A, WitnessOp::Acquire);
        witness.set_up(t(500), true);
        assert_eq!(witness.boot_time(), SimTime::ZERO);
        assert_eq!(witness.holder(t(500)), Some(A));
    }

    #[test]
    fn a_reboot_loses_the_lock_and_records_the_boot_time() {
        let mut witness = witness();
        witness.request(t(0), A, WitnessOp::Acquire);
        witness.reboot(t(4_000));
        assert_eq!(witness.boot_time(), t(4_000));
        assert_eq!(witness.holder(t(4_000)), None);
        assert_eq!(
            witness.request(t(4_001), B, WitnessOp::Acquire),
            WitnessReply::Granted { lease_until: t(14_001) }
        );
    }

    #[test]
    fn a_slow_share_delays_its_replies_until_the_fault_clears() {
        let mut witness = witness();
        witness.set_extra_delay(Duration::from_secs(3));
        assert_eq!(witness.response_delay(), Duration::from_millis(3_005));
        witness.set_extra_delay(Duration::ZERO);
        assert_eq!(witness.response_delay(), Duration::from_millis(5));
    }

    #[test]
    fn at_no_instant_do_two_hosts_hold_the_lock() {
        let mut rng = SeedTree::new(2024).stream("witness-invariant");
        let mut witness = witness();
        let hosts = [A, B, C];
        // Each host's grant as the witness gave it; a release or a lost lock ends it early.
        let mut grants: BTreeMap<HostId, SimTime> = BTreeMap::new();
        let mut now = SimTime::ZERO;
        let mut handovers = 0;
        let mut denials = 0;
        let mut last_holder = None;
        for _ in 0..20_000 {
            now += rng.duration_up_to(Duration::from_secs(4));
            let from = hosts[usize::try_from(rng.below(3)).expect("below 3")];
            match rng.below(100) {
                0 => {
                    witness.reboot(now);
                    grants.clear();
                }
                1 => {
                    let up = !witness.is_up();
                    witness.set_up(now, up);
                    grants.clear();
                }
                roll => {
                    let op = match roll % 3 {
                        0 => WitnessOp::Acquire,
                        1 => WitnessOp::Renew,
                        _ => WitnessOp::Release,
                    };
                    match witness.request(now, from, op) {
                        WitnessReply::Granted { lease_until } => {
                            grants.insert(from, lease_until);
                        }
                        WitnessReply::Released => {
                            grants.remove(&from);
                        }
                        WitnessReply::Denied { .. } => denials += 1,
                        WitnessReply::NotHeld | WitnessReply::Unavailable | WitnessReply::Recorded { .. } => {
                        }
                    }
                }
            }
            let valid: Vec<HostId> =
                grants.iter().filter(|&(_, &until)| now < until).map(|(&host, _)| host).collect();
            assert!(valid.len() <= 1, "at {now} both {valid:?} hold grants");
            assert_eq!(valid.first().copied(), witness.holder(now), "at {now} ground truth disagrees");
            if let Some(holder) = witness.holder(now) {
                if last_holder.is_some_and(|last| last != holder) {
                    handovers += 1;
                }
                last_holder = Some(holder);
            }
        }
        // Guard against a vacuous pass: the lock really was contended and changed hands.
        assert!(handovers > 100, "only {handovers} handovers");
        assert!(denials > 100, "only {denials} denials");
    }
}
