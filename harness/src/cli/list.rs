//! `drill list [PATH...]`: one line per scenario.

use super::args::ListArgs;
use super::catalogue;
use super::error::CliError;
use std::io::Write;

/// Prints tier, name, expectation (`pass` when the run must pass) and description, aligned.
pub fn list(arguments: &ListArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    let scenarios = catalogue::load(&arguments.paths, catalogue::LIST_DEFAULT)?;
    let rows: Vec<[&str; 4]> = scenarios
        .iter()
        .map(|scenario| {
            [
                scenario.tier.as_str(),
                scenario.name.as_str(),
                scenario.expect.map_or("pass", |kind| kind.as_str()),
                scenario.description.lines().next().unwrap_or(""),
            ]
        })
        .collect();
    let width = |column: usize| rows.iter().map(|row| row[column].chars().count()).max().unwrap_or(0);
    let (tier, name, expect) = (width(0), width(1), width(2));
    for [tier_text, name_text, expect_text, description] in &rows {
        let line = format!("{tier_text:<tier$}  {name_text:<name$}  {expect_text:<expect$}  {description}");
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(crate::run::exit_code::AS_EXPECTED)
}
