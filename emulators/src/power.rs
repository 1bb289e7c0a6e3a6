//! Power: a cord per host and a feed per rack.
//!
//! A host is on only while its own cord is in and its rack, if it has one, has power. Mutators return the
//! hosts whose effective state changed, so the harness knows whom to crash (drop all volatile state)
//! and whom to boot. Power knows nothing about what runs on a host.

use crate::ids::HostId;
use kernel::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// The power state of every host and rack of a run.
#[derive(Debug, Default)]
pub struct Power {
    hosts: BTreeMap<HostId, HostPower>,
    racks: BTreeMap<String, Rack>,
}

#[derive(Debug)]
struct HostPower {
    cord_in: bool,
    rack: Option<String>,
    /// The effective state, cached so that a change can be detected and reported exactly once.
    on: bool,
    boot_count: u32,
    last_change: Option<SimTime>,
}

#[derive(Debug)]
struct Rack {
    powered: bool,
    hosts: BTreeSet<HostId>,
}

impl Power {
    pub fn new() -> Self {
        Power::default()
    }

    /// Adds a host, running, with its cord in and no rack. Adding a known host again changes nothing.
    ///
    /// A host present from the start of the run has a boot count of 0: the count is of restarts.
    pub fn add_host(&mut self, host: HostId) {
        self.hosts.entry(host).or_insert(HostPower {
            cord_in: true,
            rack: None,
            on: true,
            boot_count: 0,
            last_change: None,
        });
    }

    /// Adds a powered rack holding `hosts`, adding any host not yet known.
    ///
    /// # Panics
    /// If the rack exists or a host is already in another rack: a host has one power feed.
    pub fn add_rack(&mut self, name: &str, hosts: &[HostId]) {
        assert!(!self.racks.contains_key(name), "rack `{name}` already exists");
        for &host in hosts {
            self.add_host(host);
            let entry = self.host_mut(host);
            if let Some(rack) = &entry.rack {
                panic!("{host} is already in rack `{rack}`");
            }
            entry.rack = Some(name.to_string());
        }
        self.racks.insert(name.to_string(), Rack { powered: true, hosts: hosts.iter().copied().collect() });
    }

    /// Pulls `host`'s cord. Returns whether the host went from on to off.
    pub fn pull_cord(&mut self, now: SimTime, host: HostId) -> bool {
        self.host_mut(host).cord_in = false;
        self.refresh(now, host).is_some()
    }

    /// Puts `host`'s cord back in and powers it on. Returns whether the host went from off to on; it
    /// stays off (and boots later, with its rack) while its rack has no power.
    pub fn power_on(&mut self, now: SimTime, host: HostId) -> bool {
        self.host_mut(host).cord_in = true;
        self.refresh(now, host).is_some()
    }

    /// Cuts the rack's feed. Returns `(host, false)` for every host of the rack that was on.
    pub fn rack_power_off(&mut self, now: SimTime, rack: &str) -> Vec<(HostId, bool)> {
        self.set_rack_powered(now, rack, false)
    }

    /// Restores the rack's feed. Returns `(host, true)` for every host that booted: those whose own
    /// cord is in.
    pub fn rack_power_on(&mut self, now: SimTime, rack: &str) -> Vec<(HostId, bool)> {
        self.set_rack_powered(now, rack, true)
    }

    /// Whether `host` is running: its cord is in and its rack, if any, has power.
    pub fn is_on(&self, host: HostId) -> bool {
        self.host(host).on
    }

    /// How many times `host` went from off to on since the run began, so a restarted host (whose
    /// volatile state is gone) can be told apart from one that never went down.
    pub fn boot_count(&self, host: HostId) -> u32 {
        self.host(host).boot_count
    }

    /// When `host` last changed between on and off, or `None` if it never did.
    pub fn last_change(&self, host: HostId) -> Option<SimTime> {
        self.host(host).last_change
    }

    /// The rack `host` is in, if any.
    pub fn rack_of(&self, host: HostId) -> Option<&str> {
        self.host(host).rack.as_deref()
    }

    /// Whether the rack's feed has power.
    pub fn is_rack_powered(&self, rack: &str) -> bool {
        self.rack(rack).powered
    }

    fn set_rack_powered(&mut self, now: SimTime, rack: &str, powered: bool) -> Vec<(HostId, bool)> {
        let entry = self.racks.get_mut(rack).unwrap_or_else(|| panic!("there is no rack `{rack}`"));
        entry.powered = powered;
        let hosts: Vec<HostId> = entry.hosts.iter().copied().collect();
        hosts.into_iter().filter_map(|host| self.refresh(now, host).map(|on| (host, on))).collect()
    }

    /// Recomputes `host`'s effective state; returns the new state if it changed.
    fn refresh(&mut self, now: SimTime, host: HostId) -> Option<bool> {
        let rack_powered = match &self.host(host).rack {
            Some(rack) => self.rack(rack).powered,
            None => true,
        };
        let entry = self.host_mut(host);
        let on = entry.cord_in && rack_powered;
        if on == entry.on {
            return None;
        }
        entry.on = on;
        entry.last_change = Some(now);
        if on {
            entry.boot_count += 1;
        }
        Some(on)
    }

    fn host(&self, host: HostId) -> &HostPower {
        self.hosts.get(&host).unwrap_or_else(|| panic!("{host} was never added to power"))
    }

    fn host_mut(&mut self, host: HostId) -> &mut HostPower {
        self.hosts.get_mut(&host).unwrap_or_else(|| panic!("{host} was never added to power"))
    }

    fn rack(&self, rack: &str) -> &Rack {
        self.racks.get(rack).unwrap_or_else(|| panic!("there is no rack `{rack}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: HostId = HostId(1);
    const B: HostId = HostId(2);
    const C: HostId = HostId(3);

    fn t(secs: u64) -> SimTime {
        SimTime::from_secs(secs)
    }

    #[test]
    fn a_new_host_is_running_and_has_never_restarted() {
        let mut power = Power::new();
        power.add_host(A);
        assert!(power.is_on(A));
        assert_eq!(power.boot_count(A), 0);
        assert_eq!(power.last_change(A), None);
        assert_eq!(power.rack_of(A), None);
    }

    #[test]
    fn pulling_the_cord_turns_a_host_off_once() {
        let mut power = Power::new();
        power.add_host(A);
        assert!(power.pull_cord(t(5), A));
        assert!(!power.is_on(A));
        assert_eq!(power.last_change(A), Some(t(5)));
        assert!(!power.pull_cord(t(6), A), "a second pull changes nothing");
        assert_eq!(power.last_change(A), Some(t(5)));
    }

    #[test]
    fn powering_a_host_back_on_counts_a_boot() {
        let mut power = Power::new();
        power.add_host(A);
        power.add_host(B);
        power.pull_cord(t(1), A);
        assert!(power.power_on(t(2), A));
        assert!(power.is_on(A));
        assert_eq!(power.boot_count(A), 1);
        assert_eq!(power.last_change(A), Some(t(2)));
        assert!(!power.power_on(t(3), A), "powering on a running host changes nothing");
        assert_eq!(power.boot_count(A), 1);
        // The host that never went down is told apart by its count.
        assert_eq!(power.boot_count(B), 0);
    }

    #[test]
    fn losing_rack_power_turns_off_every_running_host_in_the_rack() {
        let mut power = Power::new();
        power.add_host(C);
        power.add_rack("rack-1", &[A, B]);
        power.pull_cord(t(1), B);
        assert_eq!(power.rack_power_off(t(2), "rack-1"), vec![(A, false)]);
        assert!(!power.is_on(A));
        assert!(!power.is_on(B));
        assert!(power.is_on(C), "a host outside the rack keeps running");
        assert!(!power.is_rack_powered("rack-1"));
        assert_eq!(power.rack_of(A), Some("rack-1"));
    }

    #[test]
    fn a_host_whose_cord_is_in_cannot_run_while_its_rack_is_dark() {
        let mut power = Power::new();
        power.add_rack("rack-1", &[A]);
        power.rack_power_off(t(1), "rack-1");
        power.pull_cord(t(2), A);
        assert!(!power.power_on(t(3), A), "the cord is in but the rack has no power");
        assert!(!power.is_on(A));
        assert_eq!(power.rack_power_on(t(4), "rack-1"), vec![(A, true)]);
        assert!(power.is_on(A));
        assert_eq!(power.boot_count(A), 1);
        assert_eq!(power.last_change(A), Some(t(4)));
    }

    #[test]
    fn restoring_rack_power_boots_only_hosts_with_their_cord_in() {
        let mut power = Power::new();
        power.add_rack("rack-1", &[A, B, C]);
        power.rack_power_off(t(1), "rack-1");
        power.pull_cord(t(2), B);
        assert_eq!(power.rack_power_on(t(3), "rack-1"), vec![(A, true), (C, true)]);
        assert!(!power.is_on(B));
        assert_eq!(power.boot_count(B), 0);
        assert_eq!(power.rack_power_on(t(4), "rack-1"), vec![], "restoring a live rack changes nothing");
    }

    #[test]
    fn every_off_to_on_transition_counts_as_a_boot() {
        let mut power = Power::new();
        power.add_rack("rack-1", &[A]);
        for i in 0..3 {
            power.pull_cord(t(10 * i), A);
            power.power_on(t(10 * i + 1), A);
        }
        power.rack_power_off(t(100), "rack-1");
        power.rack_power_on(t(101), "rack-1");
        assert_eq!(power.boot_count(A), 4);
    }
}
