//! Tests of loading whole scenarios: defaults, the model they produce, and located semantic errors.

use super::*;
use crate::scenario::DurationRange;
use crate::verdict::ViolationKind;
use std::path::Path;
use std::time::Duration;

/// The smallest valid scenario: two mailbox nodes, a hub that also serves the witness, one database.
const MINIMAL: &str = r#"
name = "minimal"
duration = "5m"

[cluster]
witness = "hub1"

[[network]]
name = "public"

[[network]]
name = "private"

[[host]]
name = "mbx1"
role = "mailbox"
networks = ["public", "private"]

[[host]]
name = "mbx2"
role = "mailbox"
networks = ["public", "private"]

[[host]]
name = "hub1"
role = "hub"
networks = ["public"]

[[database]]
name = "SG1"
copies = ["mbx1", "mbx2"]

[checks]
rto = "60s"
"#;

fn load_text(text: &str) -> Result<Scenario, ScenarioError> {
    parse(Path::new("test.toml"), text)
}

/// The minimal scenario with `extra` appended, for tests that add one table or key.
fn with(extra: &str) -> Result<Scenario, ScenarioError> {
    load_text(&format!("{MINIMAL}\n{extra}"))
}

/// The minimal scenario with one line replaced, for tests that change a key the minimal file sets.
fn replacing(old: &str, new: &str) -> Result<Scenario, ScenarioError> {
    assert!(MINIMAL.contains(old), "`{old}` is not in the minimal scenario");
    load_text(&MINIMAL.replacen(old, new, 1))
}

/// Asserts an error whose message contains `needle` and that is located on the line containing `line_text`.
fn assert_error(result: Result<Scenario, ScenarioError>, needle: &str, line_text: &str) {
    match result {
        Ok(_) => panic!("expected an error containing `{needle}`, but the scenario loaded"),
        Err(error) => {
            assert!(error.message.contains(needle), "message `{}` lacks `{needle}`", error.message);
            assert!(
                error.source_line.contains(line_text),
                "error at `{}`, expected on `{line_text}`",
                error.source_line
            );
        }
    }
}

#[test]
fn the_minimal_scenario_gets_every_documented_default() {
    let scenario = load_text(MINIMAL).expect("minimal scenario loads");
    assert_eq!(scenario.tier, Tier::Fast);
    assert_eq!(scenario.expect, None);
    assert!(scenario.tolerate.is_empty());
    let cluster = &scenario.cluster;
    assert_eq!(cluster.kind, ClusterKind::Ccr);
    assert_eq!(cluster.settings.quorum, QuorumModel::NodeAndFileShareMajority);
    assert_eq!(cluster.witness.as_deref(), Some("hub1"));
    assert_eq!(cluster.settings.heartbeat_interval, Duration::from_secs(1));
    assert_eq!(cluster.settings.heartbeat_threshold, 5);
    assert_eq!(cluster.settings.failover, FailoverPolicy::Automatic);
    assert_eq!(cluster.settings.mount_dial, MountDial::GoodAvailability);
    assert_eq!(cluster.settings.local_restart_attempts, 3);
    assert_eq!(cluster.settings.witness_arbitration_delay, Duration::from_secs(6));
    assert_eq!(cluster.settings.witness_lease, Duration::from_secs(10));
    assert_eq!(cluster.settings.takeover_margin, Duration::from_secs(2));
    assert_eq!(cluster.settings.inspect_attempts, 3);
    assert_eq!(cluster.settings.log_size_bytes, 1_048_576);
    assert_eq!(cluster.settings.log_roll_idle, Duration::from_secs(90));
    assert_eq!(cluster.settings.replay_time_per_log, Duration::from_millis(50));
    assert_eq!(cluster.mount_time, Duration::from_secs(2));
    assert_eq!(cluster.resource_online_time, Duration::from_secs(1));
    assert_eq!(cluster.settings.health_check_interval, Duration::from_secs(5));
    assert!(scenario.transport.dumpster_enabled);
    assert_eq!(scenario.transport.dumpster_size_bytes, 18 * 1_048_576);
    assert_eq!(scenario.transport.dumpster_time, Duration::from_secs(7 * 86_400));
    assert_eq!(scenario.workload.rate_per_second, 20.0);
    assert_eq!(scenario.workload.message_size_bytes, 20 * 1024);
    assert_eq!(scenario.workload.start, Duration::from_secs(10));
    assert_eq!(scenario.checks.max_lost_acked, 0);
    assert_eq!(scenario.checks.liveness_bound, Duration::from_secs(180));
    assert_eq!(scenario.checks.quiesce, Duration::from_secs(60));
    // The workload stops when the quiesce window begins, so replication can drain before the checks.
    assert_eq!(scenario.workload.stop, Duration::from_secs(240));
    assert_eq!(scenario.networks.first().map(|network| network.kind), Some(NetworkKind::Lan));
    assert_eq!(
        scenario.networks.first().map(|network| network.spec.latency),
        Some(Duration::from_micros(200)),
        "the fabric's LAN default"
    );
    assert_eq!(
        scenario.host("mbx1").map(|host| (host.clock_offset_nanos, host.clock_drift_ppm)),
        Some((0, 0.0))
    );
    assert_eq!(scenario.host("mbx1").map(|host| host.heartbeat_phase), Some(Duration::ZERO));
    assert_eq!(scenario.database("SG1").map(|database| database.name_ttl), Some(Duration::from_secs(300)));
    assert_eq!(scenario.checks.max_failovers, None);
}

#[test]
fn a_database_without_resources_gets_the_ip_name_database_chain() {
    let scenario = load_text(MINIMAL).expect("minimal scenario loads");
    let database = scenario.database("SG1").expect("SG1 exists");
    let chain: Vec<(&str, ResourceKind, Vec<&str>)> = database
        .resources
        .iter()
        .map(|resource| {
            (resource.name.as_str(), resource.kind, resource.depends_on.iter().map(String::as_str).collect())
        })
        .collect();
    assert_eq!(
        chain,
        [
            ("ip", ResourceKind::Ip, vec![]),
            ("name", ResourceKind::NetworkName, vec!["ip"]),
            ("database", ResourceKind::Database, vec!["name"]),
        ]
    );
}

#[test]
fn faults_are_sorted_by_time_and_implied_targets_are_filled_in() {
    let scenario = with(
        r#"
[[fault]]
at = "2m"
kind = "witness-up"

[[fault]]
at = "1m"
kind = "witness-down"

[[fault]]
at = "1m"
kind = "resource-crash"
database = "SG1"

[[fault]]
at = "90s"
kind = "move"
database = "SG1"
to = "mbx2"

[[fault]]
at = "100s"
kind = "corrupt-log"
database = "SG1"
"#,
    )
    .expect("faults load");
    let summary: Vec<(u64, Fault)> =
        scenario.faults.iter().map(|fault| (fault.at.as_secs(), fault.fault.clone())).collect();
    let database = "SG1".to_string();
    assert_eq!(
        summary,
        [
            (60, Fault::Witness(WitnessFault::Down)),
            (
                60,
                Fault::Software(SoftwareFault::ResourceCrash { database: database.clone(), resource: None })
            ),
            (90, Fault::Software(SoftwareFault::Move { database: database.clone(), to: "mbx2".to_string() })),
            (100, Fault::Software(SoftwareFault::CorruptLog { database })),
            (120, Fault::Witness(WitnessFault::Up)),
        ]
    );
}

#[test]
fn fault_values_are_interpreted_by_kind() {
    let scenario = with(
        r#"
[[fault]]
at = "1m"
kind = "link-loss"
target = "mbx1"
peer = "mbx2"
network = "private"
direction = "one-way"
value = 0.25
duration = "30s"

[[fault]]
at = "1m"
kind = "latency-spike"
target = "active"
network = "public"
value = "200ms"

[[fault]]
at = "1m"
kind = "mtu"
target = "passive"
network = "private"
value = 1400

[[fault]]
at = "1m"
kind = "clock-step"
target = "owner-of:SG1"
value = "-30s"
"#,
    )
    .expect("faults load");
    let faults: Vec<Fault> = scenario.faults.iter().map(|fault| fault.fault.clone()).collect();
    let host = |name: &str| Target::Host(name.to_string());
    assert_eq!(
        faults,
        [
            Fault::Fabric(FabricFault::LinkLoss {
                target: host("mbx1"),
                peer: host("mbx2"),
                network: "private".to_string(),
                direction: LinkDirection::OneWay,
                probability: 0.25,
            }),
            Fault::Fabric(FabricFault::LatencySpike {
                target: Target::Active,
                network: "public".to_string(),
                extra: Duration::from_millis(200),
            }),
            Fault::Fabric(FabricFault::Mtu {
                target: Target::Passive,
                peer: None,
                network: "private".to_string(),
                bytes: Some(1400),
            }),
            Fault::Run(RunFault::ClockStep {
                target: Target::OwnerOf("SG1".to_string()),
                step_nanos: -30_000_000_000
            }),
        ]
    );
    assert_eq!(scenario.faults[0].duration, Some(Duration::from_secs(30)));
}

#[test]
fn a_hazard_with_an_expectation_and_tolerations_loads() {
    let scenario = replacing(
        "name = \"minimal\"",
        "name = \"h\"\ntier = \"hazard\"\nexpect = \"split-brain\"\ntolerate = [\"rto\"]",
    )
    .expect("hazard loads");
    assert_eq!(scenario.tier, Tier::Hazard);
    assert_eq!(scenario.expect, Some(ViolationKind::SplitBrain));
    assert_eq!(scenario.tolerate, [ViolationKind::Rto]);
}

#[test]
fn sizes_and_bandwidths_in_the_file_become_bytes_and_bits() {
    let scenario = replacing(
        "name = \"private\"",
        "name = \"private\"\nkind = \"wan\"\nbandwidth = \"45Mbps\"\nlatency = \"40ms\"\nmtu_bytes = 9000\nloss_probability = 0.001",
    )
    .expect("network loads");
    let private = scenario.network("private").expect("private exists");
    assert_eq!(private.kind, NetworkKind::Wan);
    assert_eq!(private.spec.bandwidth_bits_per_second, 45_000_000);
    assert_eq!(private.spec.latency, Duration::from_millis(40));
    assert_eq!(private.spec.mtu_bytes, 9000);
    let scenario =
        with("[transport]\ndumpster_size = 1048576\n[workload]\nmessage_size = \"1.5MB\"").expect("loads");
    assert_eq!(scenario.transport.dumpster_size_bytes, 1 << 20);
    assert_eq!(scenario.workload.message_size_bytes, 1_572_864);
}

#[test]
fn a_signed_clock_offset_is_kept_in_nanoseconds() {
    let scenario =
        replacing("name = \"mbx2\"", "name = \"mbx2\"\nclock_offset = \"-2m\"\nclock_drift_ppm = 50")
            .expect("loads");
    let host = scenario.host("mbx2").expect("mbx2 exists");
    assert_eq!(host.clock_offset_nanos, -120_000_000_000);
    assert_eq!(host.clock_drift_ppm, 50.0);
}

#[test]
fn a_custom_resource_group_keeps_its_dependencies_and_start_order() {
    let scenario = with(
        r#"
[[database]]
name = "SG2"
copies = ["mbx2", "mbx1"]

[[database.resource]]
name = "db"
kind = "database"
depends_on = ["netname", "disk"]

[[database.resource]]
name = "netname"
kind = "network-name"
depends_on = ["addr"]

[[database.resource]]
name = "addr"
kind = "ip"

[[database.resource]]
name = "disk"
kind = "generic"
online_time = "10s"
"#,
    )
    .expect("loads");
    let database = scenario.database("SG2").expect("SG2 exists");
    let order: Vec<&str> = database.start_order().iter().map(|resource| resource.name.as_str()).collect();
    assert_eq!(order, ["addr", "netname", "disk", "db"]);
}

#[test]
fn a_resource_cycle_is_reported_as_a_path_at_the_closing_dependency() {
    let result = with(
        r#"
[[database]]
name = "SG2"
copies = ["mbx2", "mbx1"]

[[database.resource]]
name = "a"
kind = "database"
depends_on = ["b"]

[[database.resource]]
name = "b"
kind = "ip"
depends_on = ["a"]
"#,
    );
    assert_error(result, "a -> b -> a", "depends_on = [\"a\"]");
}

#[test]
fn unknown_keys_name_the_key_its_table_and_the_allowed_keys() {
    let error = with("[transport]\ndumpsters = true").expect_err("an error");
    assert!(error.message.contains("unknown key `dumpsters` in [transport]"), "{}", error.message);
    assert!(error.message.contains("`dumpster`, `dumpster_size`, `dumpster_time`"), "{}", error.message);
    let error =
        replacing("duration = \"5m\"", "duration = \"5m\"\nworkload.bogus = 1").expect_err("an error");
    assert!(error.message.contains("unknown key `bogus` in [workload]"), "{}", error.message);
    assert_eq!((error.line, error.column), (4, 10));
}

#[test]
fn targets_must_name_known_hosts_databases_and_roles() {
    assert_error(
        with("[[fault]]\nat = \"1m\"\nkind = \"power-off\"\ntarget = \"mbx9\""),
        "unknown host `mbx9` in fault target; hosts are: mbx1, mbx2, hub1",
        "mbx9",
    );
    assert_error(
        with("[[fault]]\nat = \"1m\"\nkind = \"power-off\"\ntarget = \"owner-of:SG9\""),
        "unknown database `SG9`",
        "owner-of:SG9",
    );
    assert_error(
        with("[[fault]]\nat = \"1m\"\nkind = \"power-off\"\ntarget = \"rack:r1\""),
        "unknown target form",
        "rack:r1",
    );
}

#[test]
fn network_faults_need_a_nic_on_every_host_the_target_may_be() {
    assert_error(
        with("[[fault]]\nat = \"1m\"\nkind = \"nic-down\"\ntarget = \"hub1\"\nnetwork = \"private\""),
        "host `hub1` has no NIC on network `private`",
        "network = \"private\"",
    );
}

#[test]
fn per_kind_requirements_are_located_at_the_kind_or_the_stray_key() {
    assert_error(
        with("[[fault]]\nat = \"1m\"\nkind = \"link-cut\"\ntarget = \"mbx1\"\nnetwork = \"private\""),
        "need `peer`",
        "link-cut",
    );
    assert_error(
        with("[[fault]]\nat = \"1m\"\nkind = \"power-off\"\ntarget = \"mbx1\"\nvalue = 3"),
        "`value` does not apply",
        "value = 3",
    );
    assert_error(
        with(
            "[[fault]]\nat = \"1m\"\nkind = \"clock-step\"\ntarget = \"mbx1\"\nvalue = \"-5s\"\nduration = \"1m\"",
        ),
        "no inverse",
        "duration = \"1m\"",
    );
    assert_error(
        with("[[fault]]\nat = \"1m\"\nkind = \"mtu\"\ntarget = \"mbx1\"\nnetwork = \"private\"\nvalue = 40"),
        "outside 68..=65535",
        "value = 40",
    );
    assert_error(
        with("[[fault]]\nat = \"1m\"\nkind = \"move\"\ndatabase = \"SG1\"\nto = \"hub1\""),
        "holds no copy",
        "to = \"hub1\"",
    );
}

#[test]
fn faults_may_not_start_in_the_quiesce_window_but_heals_may() {
    assert_error(
        with("[[fault]]\nat = \"4m30s\"\nkind = \"power-off\"\ntarget = \"mbx1\""),
        "quiesce window",
        "4m30s",
    );
    assert!(with("[[fault]]\nat = \"4m30s\"\nkind = \"heal-all\"").is_ok());
}

#[test]
fn quorum_and_witness_must_agree() {
    assert_error(replacing("witness = \"hub1\"", ""), "needs `witness`", "[cluster]");
    assert_error(
        replacing("witness = \"hub1\"", "witness = \"hub1\"\nquorum = \"node-majority\""),
        "applies only",
        "witness",
    );
    assert_error(replacing("witness = \"hub1\"", "witness = \"mbx1\""), "mailbox host", "witness");
}

#[test]
fn a_ccr_cluster_needs_two_mailbox_hosts_a_hub_and_a_database() {
    assert_error(
        replacing("name = \"mbx2\"\nrole = \"mailbox\"", "name = \"mbx2\"\nrole = \"witness\""),
        "two mailbox hosts",
        "[[host]]",
    );
    let no_database =
        MINIMAL.replacen("[[database]]\nname = \"SG1\"\ncopies = [\"mbx1\", \"mbx2\"]\n", "", 1);
    assert_error(load_text(&no_database), "at least one [[database]]", "[cluster]");
}

#[test]
fn a_nemesis_defaults_to_the_mailbox_hosts_between_workload_start_and_quiesce() {
    let scenario = with("[nemesis]\nkinds = [\"power-cycle\", \"one-way-cut\"]").expect("loads");
    let nemesis = scenario.nemesis.expect("a nemesis");
    assert_eq!(nemesis.kinds, [NemesisKind::PowerCycle, NemesisKind::OneWayCut]);
    assert_eq!(nemesis.targets, ["mbx1", "mbx2"]);
    assert_eq!((nemesis.start, nemesis.stop), (Duration::from_secs(10), Duration::from_secs(240)));
    assert_eq!(
        (nemesis.mean_interval, nemesis.max_fault_duration),
        (DurationRange::fixed(Duration::from_secs(60)), DurationRange::fixed(Duration::from_secs(30)))
    );
}

#[test]
fn an_unreadable_file_is_an_unlocated_error() {
    let error = load(Path::new("/nonexistent/drill/scenario.toml")).expect_err("an error");
    assert_eq!((error.line, error.column), (0, 0));
    assert!(error.message.contains("cannot read scenario file"));
}

#[test]
fn invalid_utf8_is_located_at_the_first_bad_byte() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("bad.toml");
    std::fs::write(&path, b"name = \"x\"\nduration = \"\xff\"\n").expect("write");
    let error = load(&path).expect_err("an error");
    assert_eq!((error.line, error.column), (2, 13));
    assert!(error.message.contains("UTF-8"));
}

#[test]
fn a_mailbox_host_takes_a_heartbeat_phase_below_the_heartbeat_interval() {
    let phased = "name = \"mbx2\"\nrole = \"mailbox\"\nheartbeat_phase = \"250ms\"";
    let scenario = replacing("name = \"mbx2\"\nrole = \"mailbox\"", phased).expect("loads");
    assert_eq!(scenario.host("mbx2").map(|host| host.heartbeat_phase), Some(Duration::from_millis(250)));
    assert_eq!(scenario.host("mbx1").map(|host| host.heartbeat_phase), Some(Duration::ZERO));
    let at_interval = "name = \"mbx2\"\nrole = \"mailbox\"\nheartbeat_phase = \"1s\"";
    assert_error(
        replacing("name = \"mbx2\"\nrole = \"mailbox\"", at_interval),
        "must be shorter than `heartbeat_interval` (1s)",
        "heartbeat_phase",
    );
    // A longer interval makes room for a longer phase.
    let slower = MINIMAL
        .replacen("witness = \"hub1\"", "witness = \"hub1\"\nheartbeat_interval = \"2s\"", 1)
        .replacen("name = \"mbx2\"\nrole = \"mailbox\"", at_interval, 1);
    assert!(load_text(&slower).is_ok());
    let on_hub = "name = \"hub1\"\nrole = \"hub\"\nheartbeat_phase = \"100ms\"";
    assert_error(
        replacing("name = \"hub1\"\nrole = \"hub\"", on_hub),
        "applies only to mailbox hosts: `hub1` is a hub host",
        "heartbeat_phase",
    );
}

#[test]
fn a_database_name_ttl_is_whole_seconds_from_zero_to_a_day() {
    let database = |ttl: &str| {
        replacing(
            "copies = [\"mbx1\", \"mbx2\"]",
            &format!("copies = [\"mbx1\", \"mbx2\"]\nname_ttl = \"{ttl}\""),
        )
    };
    let ttl_of =
        |ttl: &str| database(ttl).ok().and_then(|scenario| scenario.database("SG1").map(|db| db.name_ttl));
    assert_eq!(ttl_of("20m"), Some(Duration::from_secs(1_200)));
    assert_eq!(ttl_of("0s"), Some(Duration::ZERO), "a zero TTL is legal: nothing is cached");
    assert_error(database("1500ms"), "is not a whole number of seconds", "name_ttl");
    assert_error(database("2d"), "`name_ttl` of 2d is absurd: it must be at most 1d", "name_ttl");
}

#[test]
fn a_failover_bound_is_a_non_negative_count() {
    let scenario = replacing("rto = \"60s\"", "rto = \"60s\"\nmax_failovers = 0").expect("loads");
    assert_eq!(scenario.checks.max_failovers, Some(0));
    assert_error(
        replacing("rto = \"60s\"", "rto = \"60s\"\nmax_failovers = -1"),
        "expected a non-negative integer",
        "max_failovers",
    );
}
