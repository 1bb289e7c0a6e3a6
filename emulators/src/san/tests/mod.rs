//! Behaviour of the SAN array through its public API.

mod access;
mod cache;
mod faults;
mod pr_actions;
mod presentation;

use super::*;
use kernel::SeedTree;

const A: HostId = HostId(1);
const B: HostId = HostId(2);
const C: HostId = HostId(3);
const LUN: LunId = LunId(0);
const KEY_A: ReservationKey = 0xA;
const KEY_B: ReservationKey = 0xB;
const WERO: ReservationType = ReservationType::WriteExclusiveRegistrantsOnly;

fn path(host: HostId, controller: u8) -> Nexus {
    Nexus { host, controller: ControllerId(controller) }
}

fn t(millis: u64) -> SimTime {
    SimTime::from_millis(millis)
}

fn content(writer: HostId, payload: u64) -> BlockContent {
    BlockContent { writer, epoch: 1, payload }
}

fn lun_config(id: u16, masked_to: Vec<HostId>) -> LunConfig {
    LunConfig { id: LunId(id), name: format!("disk{id}"), blocks: 1024, read_only: false, masked_to }
}

/// An array with one 1024-block LUN masked to A, B and C, and a clock that commands advance.
struct Rig {
    array: Array,
    now: SimTime,
}

impl Rig {
    fn new() -> Rig {
        Rig::with(ArrayConfig::default())
    }

    fn with(config: ArrayConfig) -> Rig {
        Rig::seeded(config, 1)
    }

    fn seeded(config: ArrayConfig, seed: u64) -> Rig {
        let array = Array::new(config, vec![lun_config(0, vec![A, B, C])], SeedTree::new(seed).stream("san"));
        Rig { array, now: SimTime::ZERO }
    }

    /// Submits `command` and, if accepted, completes it at its completion time (which becomes now).
    fn run(&mut self, nexus: Nexus, command: Command) -> Status {
        match self.array.submit(self.now, nexus, LUN, command, 0) {
            Submitted::Accepted { task, completes_at } => {
                self.now = completes_at;
                self.array.complete(completes_at, task).expect("nothing aborted the task").status
            }
            Submitted::Answered(status) => status,
            Submitted::NoResponse => panic!("{nexus} got no response at {}", self.now),
        }
    }

    fn pr(&mut self, nexus: Nexus, action: PrOut) -> Status {
        self.run(nexus, Command::PrOut(action))
    }

    fn register(&mut self, nexus: Nexus, key: ReservationKey) {
        let status =
            self.pr(nexus, PrOut::RegisterIgnoreExistingKey { service_action_key: key, aptpl: false });
        assert_eq!(status, Status::Good(Reply::None), "registering {nexus}");
    }

    fn reserve(&mut self, nexus: Nexus, key: ReservationKey, kind: ReservationType) {
        assert_eq!(self.pr(nexus, PrOut::Reserve { key, kind }), Status::Good(Reply::None), "reserving");
    }

    fn write(&mut self, nexus: Nexus, lba: u64, payload: u64) -> Status {
        self.run(nexus, Command::Write { lba, data: vec![content(nexus.host, payload)], fua: false })
    }

    fn read(&mut self, nexus: Nexus, lba: u64) -> Status {
        self.run(nexus, Command::Read { lba, blocks: 1 })
    }

    fn keys(&mut self, nexus: Nexus) -> (u32, Vec<ReservationKey>) {
        match self.run(nexus, Command::PrIn(PrIn::ReadKeys)) {
            Status::Good(Reply::Keys { generation, keys }) => (generation, keys),
            other => panic!("READ KEYS answered {other:?}"),
        }
    }

    /// Submits a one-block write that must be accepted, without completing it.
    fn start_write(&mut self, nexus: Nexus, lba: u64, payload: u64, tag: u64) -> (TaskId, SimTime) {
        let command = Command::Write { lba, data: vec![content(nexus.host, payload)], fua: false };
        accepted(self.array.submit(self.now, nexus, LUN, command, tag))
    }
}

fn accepted(submitted: Submitted) -> (TaskId, SimTime) {
    match submitted {
        Submitted::Accepted { task, completes_at } => (task, completes_at),
        other => panic!("expected acceptance, got {other:?}"),
    }
}

fn good() -> Status {
    Status::Good(Reply::None)
}

fn check(sense: Sense) -> Status {
    Status::CheckCondition(sense)
}

#[test]
fn command_and_reply_sizes_count_a_header_and_512_bytes_per_block() {
    let write = Command::Write { lba: 0, data: vec![content(A, 1); 3], fua: true };
    assert_eq!(write.wire_bytes(), 48 + 3 * 512);
    assert_eq!(Command::Read { lba: 0, blocks: 8 }.wire_bytes(), 48);
    assert_eq!(Reply::Data(vec![None; 8]).wire_bytes(), 48 + 8 * 512);
    assert_eq!(Reply::None.wire_bytes(), 48);
}

#[test]
fn reservation_types_carry_their_spc_wire_codes_not_the_linux_numbering() {
    let codes: Vec<u8> = ReservationType::ALL.iter().map(|kind| kind.spc_code()).collect();
    assert_eq!(codes, vec![1, 3, 5, 6, 7, 8]);
    assert_eq!(ReservationType::from_spc_code(5), Some(WERO));
    assert_eq!(ReservationType::from_spc_code(2), None);
}

#[test]
fn a_new_array_presents_each_lun_to_its_masked_hosts_and_nobody_else() {
    let rig = Rig::new();
    assert!(rig.array.is_presented(SimTime::ZERO, A, LUN));
    assert!(!rig.array.is_presented(SimTime::ZERO, HostId(9), LUN));
    assert!(!rig.array.is_presented(SimTime::ZERO, A, LunId(5)));
    assert_eq!(rig.array.lun_by_name("disk0"), Some(LUN));
    assert_eq!(rig.array.lun_by_name("nope"), None);
    assert_eq!(rig.array.config().controllers, 2);
}

#[test]
fn a_command_to_a_lun_out_of_range_is_an_illegal_request() {
    let mut rig = Rig::new();
    assert_eq!(rig.run(path(A, 0), Command::Read { lba: 1020, blocks: 8 }), check(Sense::IllegalRequest));
    assert_eq!(rig.write(path(A, 0), 1024, 1), check(Sense::IllegalRequest));
    assert!(rig.read(path(A, 0), 1023).is_good());
}

#[test]
fn the_same_seed_gives_the_same_events_and_blocks() {
    fn script(seed: u64) -> (Vec<ArrayEvent>, Vec<(u64, BlockContent)>) {
        let mut events = Vec::new();
        let mut rig = Rig::seeded(ArrayConfig::default(), seed);
        rig.register(path(A, 0), KEY_A);
        rig.reserve(path(A, 0), KEY_A, WERO);
        for round in 0..20u64 {
            let data = (0..8).map(|i| content(A, round * 8 + i)).collect();
            accepted(rig.array.submit(
                rig.now,
                path(A, 0),
                LUN,
                Command::Write { lba: round * 8, data, fua: false },
                round,
            ));
            rig.array.power_loss(rig.now);
            rig.now += Duration::from_secs(1);
            rig.array.power_on(rig.now);
            rig.now += Duration::from_secs(60);
            rig.run(path(A, 0), Command::TestUnitReady);
        }
        events.extend(rig.array.take_events());
        (events, rig.array.blocks(LUN).collect())
    }
    let (events, blocks) = script(5);
    assert_eq!(script(5), (events.clone(), blocks.clone()));
    assert!(
        events.iter().any(|event| matches!(event, ArrayEvent::TornWrite { .. })),
        "the script tears writes"
    );
    assert_ne!(script(6).1, blocks, "another seed tears the writes differently");
}
