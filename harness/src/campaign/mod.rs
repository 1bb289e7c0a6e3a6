//! The campaign engine: scenarios × seeds planned as a range ([`plan`]), run on worker threads
//! ([`engine`]), recorded as each run finishes ([`journal`]) so a campaign resumes where a kill left
//! it, and split into shards a batch engine runs in parallel and [`merge`] puts back together.

pub mod engine;
pub mod journal;
pub mod merge;
pub mod plan;
