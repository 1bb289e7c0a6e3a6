//! The swarm nemesis (`[nemesis] families`): a seed replays its draws, seeds enable different
//! families, the draws stay within the declared tolerance (judged here from the history's ground
//! truth, not from the nemesis's own bookkeeping), every family can be drawn as an effective fault,
//! and the settings a seed drew are recorded and used.
//!
//! The labs are small and fast (two minutes of faults, a draw every few seconds) so that many seeds
//! fit in the fast tier.

use harness::history::{DrawnSetting, Event, FaultKind, HaRecord, History, LinkDirection, NemesisFamily};
use harness::scenario::{self, Scenario};
use harness::world::{draw_plan, run_scenario};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A two-node CCR lab with everything a CCR family can hit: racks, a switch, a file share witness on
/// the hub, a DNS host.
const CCR_LAB: &str = r#"
name = "swarm-ccr-lab"
duration = "3m"

[cluster]
witness = "hub1"

[[network]]
name = "public"

[[network]]
name = "private"
switch = "sw-private"

[[host]]
name = "mbx1"
role = "mailbox"
networks = ["public", "private"]
rack = "rack-a"

[[host]]
name = "mbx2"
role = "mailbox"
networks = ["public", "private"]
rack = "rack-b"

[[host]]
name = "hub1"
role = "hub"
networks = ["public"]

[[host]]
name = "dc1"
role = "dns"
networks = ["public"]

[[database]]
name = "SG1"
copies = ["mbx1", "mbx2"]

[workload]
rate_per_second = 2.0

[checks]
rto = "2m"
"#;

const CCR_FAMILIES: &str = r#"families = ["power", "rack-power", "freeze", "nic", "link-cut", "one-way-cut", "link-flap",
  "link-loss", "latency", "mtu", "switch", "witness-down", "witness-restart", "witness-slow", "clock-step",
  "resource-crash", "move", "corrupt-log", "dns"]"#;

/// A two-node SCC lab with a file share witness and an array with two paths per node.
const SCC_LAB: &str = r#"
name = "swarm-scc-lab"
duration = "3m"

[cluster]
kind = "scc"
witness = "hub1"

[[network]]
name = "public"

[[network]]
name = "private"

[[network]]
name = "iscsi-a"
mtu_bytes = 9000

[[network]]
name = "iscsi-b"
mtu_bytes = 9000

[[host]]
name = "mbx1"
role = "mailbox"
networks = ["public", "private", "iscsi-a", "iscsi-b"]

[[host]]
name = "mbx2"
role = "mailbox"
networks = ["public", "private", "iscsi-a", "iscsi-b"]

[[host]]
name = "hub1"
role = "hub"
networks = ["public"]

[[host]]
name = "san1"
role = "array"
networks = ["iscsi-a", "iscsi-b"]

[[lun]]
name = "sg1-data"

[[database]]
name = "SG1"
copies = ["mbx1", "mbx2"]
disks = ["sg1-data"]

[workload]
rate_per_second = 2.0

[checks]
rto = "2m"
"#;

/// A two-node CCR guest cluster on three ESXi hosts under HA, kept apart by must rules with a spare.
const HYPERVISOR_LAB: &str = r#"
name = "swarm-hypervisor-lab"
duration = "3m"

[cluster]
witness = "hub1"

[[network]]
name = "mgmt"

[[network]]
name = "public"

[[network]]
name = "private"

[[network]]
name = "iscsi-a"

[[network]]
name = "iscsi-b"

[[host]]
name = "esx1"
role = "hypervisor"
networks = ["mgmt", "public", "private", "iscsi-a", "iscsi-b"]

[[host]]
name = "esx2"
role = "hypervisor"
networks = ["mgmt", "public", "private", "iscsi-a", "iscsi-b"]

[[host]]
name = "esx3"
role = "hypervisor"
networks = ["mgmt", "public", "private", "iscsi-a", "iscsi-b"]

[[host]]
name = "mbx1"
role = "mailbox"
networks = ["public", "private", "iscsi-a", "iscsi-b"]
runs_on = "esx1"

[[host]]
name = "mbx2"
role = "mailbox"
networks = ["public", "private", "iscsi-a", "iscsi-b"]
runs_on = "esx2"

[[host]]
name = "hub1"
role = "hub"
networks = ["public"]

[[host]]
name = "san1"
role = "array"
networks = ["iscsi-a", "iscsi-b"]

[[lun]]
name = "vmfs1"

[ha]
management_network = "mgmt"
datastores = ["vmfs1"]

[[ha.rule]]
kind = "must-run-on"
vms = ["mbx1"]
hosts = ["esx1", "esx3"]

[[ha.rule]]
kind = "must-run-on"
vms = ["mbx2"]
hosts = ["esx2", "esx3"]

[[database]]
name = "SG1"
copies = ["mbx1", "mbx2"]

[workload]
rate_per_second = 2.0

[checks]
rto = "2m"
"#;

const HYPERVISOR_FAMILIES: &str = r#"families = ["host-failure", "host-isolation", "management-partition", "stun", "apd", "snapshot-revert", "freeze", "nic", "link-cut"]"#;

/// `lab` with a nemesis of `families` (a TOML line) drawing every 2 to 5 s, and `extra` after it.
fn lab(lab: &str, families: &str, extra: &str) -> Scenario {
    let text = format!(
        "{lab}\n[nemesis]\n{families}\nmean_interval = [\"2s\", \"5s\"]\nmax_fault_duration = [\"2s\", \"10s\"]\n{extra}\n"
    );
    scenario::parse(Path::new("lab.toml"), &text).unwrap_or_else(|error| panic!("{error}"))
}

fn ccr_lab(extra: &str) -> Scenario {
    lab(CCR_LAB, CCR_FAMILIES, extra)
}

fn effective_faults(history: &History) -> Vec<&Event> {
    history
        .records()
        .iter()
        .map(|record| &record.event)
        .filter(|event| matches!(event, Event::Fault { .. }))
        .collect()
}

#[test]
fn a_seed_replays_its_swarm_byte_for_byte_and_two_seeds_draw_differently() {
    let scenario = ccr_lab("");
    let one = run_scenario(&scenario, 1);
    assert_eq!(one.history.sha256(), run_scenario(&scenario, 1).history.sha256());
    let two = run_scenario(&scenario, 2);
    assert!(effective_faults(&one.history).len() > 5 && effective_faults(&two.history).len() > 5);
    assert_ne!(one.history.sha256(), two.history.sha256());
}

#[test]
fn each_seed_enables_its_own_subset_of_the_declared_families() {
    let scenario = ccr_lab("");
    let spec = scenario.nemesis.as_ref().expect("a nemesis");
    let subsets: BTreeSet<Vec<NemesisFamily>> = (1..=20).map(|seed| draw_plan(spec, seed).families).collect();
    let sizes: BTreeSet<usize> = subsets.iter().map(Vec::len).collect();
    assert!(subsets.len() >= 15, "20 seeds gave only {} subsets", subsets.len());
    assert!(sizes.len() >= 5, "the subset sizes barely vary: {sizes:?}");
    assert!(subsets.iter().all(|subset| subset.iter().all(|family| spec.families.contains(family))));
    let bounded = ccr_lab("enabled = [2, 3]");
    let spec = bounded.nemesis.as_ref().expect("a nemesis");
    assert!((1..=20).all(|seed| (2..=3).contains(&draw_plan(spec, seed).families.len())));
}

/// The most mailbox nodes down at one instant, and whether the witness was ever down with a node,
/// rebuilt from the history alone: `host-down`/`host-up` for hosts that stop, and the `fault` records
/// of NICs, links, switches and the witness for who can still reach whom on the cluster networks.
fn worst_down(scenario: &Scenario, history: &History) -> (usize, bool) {
    let placement =
        scenario.hosts.iter().filter_map(|host| Some((host.name.clone(), host.runs_on.clone()?))).collect();
    let mut state = Ground { placement, ..Ground::default() };
    let mut worst = (0, false);
    let records = history.records();
    for (index, record) in records.iter().enumerate() {
        state.apply(&record.event);
        // Judge once per instant, after everything that happened in it.
        if records.get(index + 1).is_some_and(|next| next.at == record.at) {
            continue;
        }
        let (nodes, witness) = state.down(scenario);
        worst = (worst.0.max(nodes), worst.1 || (witness && nodes > 0));
    }
    worst
}

#[derive(Default)]
struct Ground {
    stopped: BTreeSet<String>,
    nics_down: BTreeSet<(String, String)>,
    /// (from, to, network): traffic from `from` to `to` is cut.
    cuts: BTreeSet<(String, String, String)>,
    switches_down: BTreeSet<String>,
    witness_down: bool,
    /// The hypervisor host each VM runs on: where the file puts it, then where it migrated or HA
    /// restarted it.
    placement: BTreeMap<String, String>,
}

impl Ground {
    fn apply(&mut self, event: &Event) {
        match event {
            Event::HostDown { host, .. } => {
                self.stopped.insert(host.to_string());
            }
            Event::HostUp { host, .. } => {
                self.stopped.remove(&**host);
            }
            Event::VmMigrated { vm, to, .. } => drop(self.placement.insert(vm.to_string(), to.to_string())),
            Event::Ha { what: HaRecord::RestartSucceeded { vm, on, .. }, .. } => {
                self.placement.insert(vm.to_string(), on.to_string());
            }
            Event::Fault { kind, target, network, peer, direction, .. } => {
                let (target, network) = (target.to_string(), network.as_deref().unwrap_or("").to_string());
                let peer = peer.as_deref().unwrap_or("").to_string();
                let both = *direction == Some(LinkDirection::Both);
                match kind {
                    FaultKind::NicDown => drop(self.nics_down.insert((target, network))),
                    FaultKind::NicUp => drop(self.nics_down.remove(&(target, network))),
                    FaultKind::LinkCut | FaultKind::LinkHeal => {
                        let mut ways = vec![(target.clone(), peer.clone(), network.clone())];
                        if both {
                            ways.push((peer, target, network));
                        }
                        for way in ways {
                            if *kind == FaultKind::LinkCut {
                                self.cuts.insert(way);
                            } else {
                                self.cuts.remove(&way);
                            }
                        }
                    }
                    FaultKind::SwitchDown => drop(self.switches_down.insert(target)),
                    FaultKind::SwitchUp => drop(self.switches_down.remove(&target)),
                    FaultKind::WitnessDown => self.witness_down = true,
                    FaultKind::WitnessUp => self.witness_down = false,
                    FaultKind::HealAll => {
                        let stopped = std::mem::take(&mut self.stopped);
                        let placement = std::mem::take(&mut self.placement);
                        *self = Ground { stopped, placement, ..Ground::default() };
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// The host whose NICs and power `host` rides: its hypervisor host if it is a VM.
    fn physical<'a>(&'a self, host: &'a str) -> &'a str {
        self.placement.get(host).map_or(host, String::as_str)
    }

    fn stopped(&self, host: &str) -> bool {
        self.stopped.contains(host) || self.stopped.contains(self.physical(host))
    }

    /// Whether `a` and `b` share a cluster network that runs between them, through their own NICs and
    /// link and those of the hypervisor hosts they ride.
    fn talks(&self, scenario: &Scenario, a: &str, b: &str) -> bool {
        let (host_a, host_b) = (self.physical(a), self.physical(b));
        let pairs = if host_a == a && host_b == b || host_a == host_b {
            vec![(a, b)]
        } else {
            vec![(a, b), (host_a, host_b)]
        };
        pairs.iter().all(|&(x, y)| self.direct(scenario, a, b, x, y))
    }

    /// Whether a cluster network both `a` and `b` have runs between `x` and `y` (their NICs, link and
    /// switch).
    fn direct(&self, scenario: &Scenario, a: &str, b: &str, x: &str, y: &str) -> bool {
        let (Some(one), Some(other)) = (scenario.host(a), scenario.host(b)) else { return false };
        let storage: Vec<&String> = scenario.storage.iter().flat_map(|storage| &storage.networks).collect();
        one.networks.iter().filter(|network| other.has_nic_on(network) && !storage.contains(network)).any(
            |network| {
                let switch = scenario.network(network).and_then(|def| def.spec.switch.clone());
                !switch.is_some_and(|switch| self.switches_down.contains(&switch))
                    && !self.nics_down.contains(&(x.to_string(), network.clone()))
                    && !self.nics_down.contains(&(y.to_string(), network.clone()))
                    && !self.cuts.contains(&(x.to_string(), y.to_string(), network.clone()))
                    && !self.cuts.contains(&(y.to_string(), x.to_string(), network.clone()))
            },
        )
    }

    fn down(&self, scenario: &Scenario) -> (usize, bool) {
        let mailboxes: Vec<&str> =
            scenario.hosts_with_role(scenario::HostRole::Mailbox).map(|host| host.name.as_str()).collect();
        let witness = scenario.cluster.witness.as_deref();
        let members: Vec<&str> = mailboxes.iter().copied().chain(witness).collect();
        let cut_off = |host: &str, from: &[&str]| {
            from.iter().filter(|&&other| other != host).all(|other| !self.talks(scenario, host, other))
        };
        let nodes = mailboxes.iter().filter(|&&host| self.stopped(host) || cut_off(host, &members)).count();
        let witness_down =
            witness.is_some_and(|host| self.witness_down || self.stopped(host) || cut_off(host, &mailboxes));
        (nodes, witness_down)
    }
}

#[test]
fn a_swarm_never_takes_down_more_than_its_declared_tolerance() {
    for scenario in
        [ccr_lab(""), lab(SCC_LAB, SCC_FAMILIES, ""), lab(HYPERVISOR_LAB, HYPERVISOR_FAMILIES, "")]
    {
        for seed in 1..=12 {
            let outcome = run_scenario(&scenario, seed);
            let (nodes, witness_with_node) = worst_down(&scenario, &outcome.history);
            assert!(nodes <= 1, "{} seed {seed}: {nodes} nodes down at once", scenario.name);
            assert!(!witness_with_node, "{} seed {seed}: the witness was down with a node", scenario.name);
        }
    }
}

#[test]
fn a_swarm_allowed_more_does_take_more_down_at_once() {
    // The same lab told it may lose both nodes and the witness: the scan above must see it happen,
    // or it proves nothing.
    let scenario = lab(
        CCR_LAB,
        r#"families = ["power", "freeze", "nic", "witness-down"]"#,
        "[nemesis.tolerance]\nmax_nodes_down = 2\nwitness_with_node = true",
    );
    let worst: Vec<(usize, bool)> =
        (1..=6).map(|seed| worst_down(&scenario, &run_scenario(&scenario, seed).history)).collect();
    assert!(worst.iter().any(|&(nodes, _)| nodes == 2), "{worst:?}");
    assert!(worst.iter().any(|&(_, witness_with_node)| witness_with_node), "{worst:?}");
}

const SCC_FAMILIES: &str = r#"families = ["power", "freeze", "nic", "link-cut", "one-way-cut", "link-flap",
  "witness-down", "witness-restart", "resource-crash", "move", "controller-reboot", "lun-offline", "lun-latency",
  "path-flap"]"#;

/// Whether `event` is an effective, drawn (not healing) fault that a draw of `family` makes.
fn drawn_by(family: NemesisFamily, event: &Event) -> bool {
    let Event::Fault { kind, target, peer, direction, network, heal: false, .. } = event else {
        return false;
    };
    let one_way = *direction == Some(LinkDirection::OneWay);
    let management = network.as_deref() == Some("mgmt");
    match family {
        NemesisFamily::Power => *kind == FaultKind::PowerOff,
        NemesisFamily::RackPower => *kind == FaultKind::RackPowerOff,
        NemesisFamily::Freeze => *kind == FaultKind::Freeze,
        NemesisFamily::Nic => *kind == FaultKind::NicDown,
        NemesisFamily::LinkCut | NemesisFamily::LinkFlap => *kind == FaultKind::LinkCut && !one_way,
        NemesisFamily::OneWayCut => *kind == FaultKind::LinkCut && one_way,
        NemesisFamily::LinkLoss => *kind == FaultKind::LinkLoss,
        NemesisFamily::Latency => *kind == FaultKind::LatencySpike,
        NemesisFamily::Mtu => *kind == FaultKind::Mtu,
        NemesisFamily::Switch => *kind == FaultKind::SwitchDown,
        NemesisFamily::WitnessDown | NemesisFamily::WitnessRestart => *kind == FaultKind::WitnessDown,
        NemesisFamily::WitnessSlow => *kind == FaultKind::WitnessSlow,
        NemesisFamily::ClockStep => *kind == FaultKind::ClockStep,
        NemesisFamily::ResourceCrash => *kind == FaultKind::ResourceCrash,
        NemesisFamily::Move => *kind == FaultKind::Move,
        NemesisFamily::CorruptLog => *kind == FaultKind::CorruptLog,
        NemesisFamily::ControllerReboot => *kind == FaultKind::ControllerReboot,
        NemesisFamily::LunOffline => *kind == FaultKind::LunOffline,
        NemesisFamily::LunLatency => *kind == FaultKind::LunLatency,
        NemesisFamily::PathFlap => *kind == FaultKind::LinkCut && peer.as_deref() == Some("san1"),
        NemesisFamily::Dns => matches!(kind, FaultKind::PowerOff | FaultKind::Freeze) && &**target == "dc1",
        NemesisFamily::HostFailure => *kind == FaultKind::PowerOff && target.starts_with("esx"),
        NemesisFamily::HostIsolation => *kind == FaultKind::NicDown && management,
        NemesisFamily::ManagementPartition => *kind == FaultKind::LinkCut && management,
        NemesisFamily::Stun => *kind == FaultKind::Vmotion,
        NemesisFamily::Apd => {
            *kind == FaultKind::LinkCut && target.starts_with("esx") && peer.as_deref() == Some("san1")
        }
        NemesisFamily::SnapshotRevert => *kind == FaultKind::SnapshotRevert,
    }
}

#[test]
fn every_family_is_drawn_as_an_effective_fault_in_a_lab_that_has_its_device() {
    let storage = [
        NemesisFamily::ControllerReboot,
        NemesisFamily::LunOffline,
        NemesisFamily::LunLatency,
        NemesisFamily::PathFlap,
    ];
    let mut missing = Vec::new();
    for family in NemesisFamily::ALL {
        let hypervisor = [
            NemesisFamily::HostFailure,
            NemesisFamily::HostIsolation,
            NemesisFamily::ManagementPartition,
            NemesisFamily::Stun,
            NemesisFamily::Apd,
            NemesisFamily::SnapshotRevert,
        ];
        let base = if storage.contains(&family) {
            SCC_LAB
        } else if hypervisor.contains(&family) {
            HYPERVISOR_LAB
        } else {
            CCR_LAB
        };
        let scenario = lab(base, &format!("families = [\"{}\"]", family.as_str()), "");
        let found = (1..=3).any(|seed| {
            let outcome = run_scenario(&scenario, seed);
            let drawn =
                outcome.history.records().iter().filter(|record| drawn_by(family, &record.event)).count();
            // A flap is several cuts of one link; the others need one effective fault.
            drawn >= if family == NemesisFamily::LinkFlap { 3 } else { 1 }
        });
        if !found {
            missing.push(family.as_str());
        }
    }
    assert!(missing.is_empty(), "families never drawn as an effective fault: {missing:?}");
}

#[test]
fn a_swarm_records_the_settings_it_drew_and_runs_with_them() {
    let scenario = ccr_lab(
        "[nemesis.settings]\nheartbeat_threshold = [3, 10]\nmount_time = { min = \"100ms\", max = \"20s\" }\nmount_dial = [\"lossless\", \"best-availability\"]\ndumpster_size = [\"4MB\", \"18MB\"]\nclock_drift_ppm = [-200, 200]",
    );
    let spec = scenario.nemesis.as_ref().expect("a nemesis");
    let outcome = run_scenario(&scenario, 4);
    let drawn = outcome.history.records().iter().find_map(|record| match &record.event {
        Event::NemesisDrawn { families, settings, .. } => Some((families.clone(), settings.clone())),
        _ => None,
    });
    let (families, settings) = drawn.expect("a nemesis-drawn record");
    assert_eq!(families, draw_plan(spec, 4).families);
    let hosts = scenario.hosts.len();
    assert_eq!(settings.len(), 4 + hosts, "four settings and one drift per host: {settings:?}");
    for setting in &settings {
        match setting {
            DrawnSetting::HeartbeatThreshold { missed } => assert!((3..=10).contains(missed)),
            DrawnSetting::MountTime { ms } => assert!((100..=20_000).contains(ms)),
            DrawnSetting::DumpsterSize { bytes } => assert!(((4 << 20)..=(18 << 20)).contains(bytes)),
            DrawnSetting::ClockDrift { ppm, .. } => assert!((-200..=200).contains(ppm)),
            DrawnSetting::MountDial { .. } | DrawnSetting::ResourceOnlineTime { .. } => {}
        }
    }
    // Every host runs with the drift it drew.
    let run = harness::world::with_drawn_settings(&scenario, 4).expect("drawn settings");
    for setting in &settings {
        if let DrawnSetting::ClockDrift { host, ppm } = setting {
            let drift = run.host(host).map(|def| def.clock_drift_ppm);
            assert_eq!(drift, Some(f64::from(*ppm)), "{host}");
        }
    }
    // The drawn mount time is the one the run used: the first mount comes that long after its start.
    let mount_ms = settings.iter().find_map(|setting| match setting {
        DrawnSetting::MountTime { ms } => Some(*ms),
        _ => None,
    });
    let first_mount =
        outcome.history.records().iter().find(|record| matches!(record.event, Event::Mounted { .. }));
    let (Some(mount_ms), Some(first_mount)) = (mount_ms, first_mount) else { panic!("no mount") };
    assert!(
        first_mount.at.as_millis() >= mount_ms,
        "mounted at {} before the drawn {mount_ms} ms",
        first_mount.at
    );
}

#[test]
fn a_nemesis_of_fixed_kinds_records_no_drawn_settings() {
    let text = format!("{CCR_LAB}\n[nemesis]\nkinds = [\"freeze\", \"nic-flap\"]\nmean_interval = \"3s\"\n");
    let scenario = scenario::parse(Path::new("lab.toml"), &text).unwrap_or_else(|error| panic!("{error}"));
    let outcome = run_scenario(&scenario, 1);
    assert!(
        !outcome.history.records().iter().any(|record| matches!(record.event, Event::NemesisDrawn { .. }))
    );
    assert!(!effective_faults(&outcome.history).is_empty());
}

#[test]
fn a_swarm_heals_everything_at_its_stop_and_draws_nothing_after() {
    let scenario = ccr_lab("");
    let stop = scenario.nemesis.as_ref().expect("a nemesis").stop;
    for seed in 1..=3 {
        let outcome = run_scenario(&scenario, seed);
        let heal_all = outcome
            .history
            .records()
            .iter()
            .find(|record| matches!(record.event, Event::Fault { kind: FaultKind::HealAll, .. }));
        assert_eq!(
            heal_all.map(|record| record.at.as_millis()),
            Some(stop.as_millis() as u64),
            "seed {seed}"
        );
        let late = outcome.history.records().iter().filter(|record| {
            record.at.as_millis() > stop.as_millis() as u64
                && matches!(record.event, Event::Fault { heal: false, .. } | Event::FaultWithoutEffect { .. })
        });
        assert_eq!(late.count(), 0, "seed {seed}: a fault after the nemesis's stop");
    }
}
