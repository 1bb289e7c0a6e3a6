//! The drill harness: the simulation world, scenario loading, fault injection, workload, checkers and
//! the `drill` command line.

pub mod bench;
pub mod campaign;
pub mod check;
pub mod cli;
pub mod history;
pub mod run;
pub mod scenario;
pub mod shrink;
pub mod timeline;
pub mod verdict;
pub mod world;
