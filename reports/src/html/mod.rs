//! The HTML renderers: a page per run (its findings, metrics and a swimlane timeline) and a page per
//! campaign (its plan, a table per scenario, failure groups and distributions across seeds).
//!
//! Each page is one self-contained file: inline CSS and inline SVG, no script and no external
//! resource, so it opens the same from a CI artefact, a mail attachment or a disk. The markup is
//! polyglot (HTML that is also well-formed XML), so tests read it with an XML parser.
//!
//! Every piece of text that comes from a user (scenario names and paths, host, database and LUN
//! names, details, notes, replay commands, links) goes through [`escape`] before it reaches the page.

mod campaign_page;
mod escape;
mod page;
mod run_page;
mod svg;

pub use campaign_page::campaign_page;
pub use escape::escape;
pub use run_page::run_page;
pub use svg::timeline_svg;
