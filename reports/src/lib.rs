//! The report model of drill and its renderers.
//!
//! Every report comes from one stream of run records: a [`RunRecord`] per run of one scenario with one
//! seed, and a [`CampaignRecord`] that gathers many of them with a summary per scenario. Renderers turn
//! records into bytes: [`json`] (the stable, versioned machine form), [`text`] (what a person reads in
//! a terminal), [`junit`] (a campaign as JUnit XML for CI systems) and [`html`] (a self-contained page
//! per run, with an SVG swimlane timeline of its [`timeline::Timeline`], and per campaign). [`write_atomically`] is how every report file reaches the disk, so a reader never sees
//! half a report.
//!
//! Architecture invariant: this crate knows nothing of the simulation. It depends on neither
//! `failover`, `emulators` nor `harness` (checked by `suites/tests/architecture.rs`); the harness
//! converts its outcomes into these records, and the records carry plain strings and numbers.
//!
//! Architecture invariant: records hold nothing taken from the wall clock or the machine, so the same
//! commit, scenarios and seeds give byte-identical report files. Renderers keep it: no wall clock, no
//! randomness and no hash-ordered iteration reach their output.

mod finding;
pub mod html;
pub mod json;
pub mod junit;
mod record;
pub mod text;
pub mod timeline;
mod write;

pub use finding::{FINDING_GAP_MS, FindingRecord, ViolationRecord};
pub use record::{
    CampaignPlan, CampaignRecord, FailureGroup, MetricsRecord, NOT_CAUGHT, PANIC, Provenance, RunRecord,
    SCHEMA_VERSION, ScenarioSummary, ShardRecord, ShrunkRecord,
};
pub use write::write_atomically;
