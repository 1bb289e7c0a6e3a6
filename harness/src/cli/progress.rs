//! How a campaign shows it is alive: a progress bar on a terminal (runs done of total, failures so
//! far, runs per second, ETA), and where stderr is a log (CI, a batch job, a pipe) a plain line every
//! [`PLAIN_EVERY`] instead, which a log keeps readable.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reports::text::format_ms;
use std::io::{self, Write};
use std::time::Duration;

pub use super::stopwatch::Stopwatch;

/// The interval between plain progress lines.
pub const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// Counts and shows a campaign's progress.
pub struct Progress {
    bar: Option<ProgressBar>,
    stopwatch: Stopwatch,
    last_line: Duration,
    /// Runs of the plan (saturated) and those recorded before this invocation.
    total: u64,
    already: u64,
    finished: u64,
    unexpected: u64,
}

impl Progress {
    /// `terminal`: draw a bar on stderr; otherwise write plain lines to the writer given to `tick`.
    pub fn new(total: u64, already: u64, unexpected_already: u64, terminal: bool) -> Progress {
        let bar = terminal.then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{bar:30} {pos}/{len} runs, {msg} [{elapsed_precise}, ETA {eta}]",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_position(already);
            // Runs recorded before this invocation are not speed: the rate counts from here.
            bar.reset_eta();
            bar
        });
        let mut progress = Progress {
            bar,
            stopwatch: Stopwatch::start(),
            last_line: Duration::ZERO,
            total,
            already,
            finished: 0,
            unexpected: unexpected_already,
        };
        progress.refresh_message();
        progress
    }

    pub fn finished(&mut self, as_expected: bool) {
        self.finished += 1;
        if !as_expected {
            self.unexpected += 1;
        }
        self.refresh_message();
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// A plain line when [`PLAIN_EVERY`] has passed since the last one (never with a bar).
    pub fn tick(&mut self, err: &mut dyn Write) -> io::Result<()> {
        let now = self.stopwatch.elapsed();
        if self.bar.is_none() && now.saturating_sub(self.last_line) >= PLAIN_EVERY {
            self.last_line = now;
            writeln!(err, "{}", self.line())?;
        }
        Ok(())
    }

    /// Clears the bar; the caller prints the closing line.
    pub fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.stopwatch.elapsed()
    }

    /// `campaign: 120/1200 runs, 2 unexpected, 3.1 runs/s, ETA 5m48s`.
    pub fn line(&self) -> String {
        let rate = self.rate();
        let remaining = self.total.saturating_sub(self.already + self.finished);
        let eta = if rate > 0.0 {
            let eta_ms = (remaining as f64 / rate * 1_000.0).min(u64::MAX as f64);
            format_ms(eta_ms as u64)
        } else {
            "unknown".to_string()
        };
        format!(
            "campaign: {}/{} runs, {} unexpected, {rate:.1} runs/s, ETA {eta}",
            self.already + self.finished,
            self.total,
            self.unexpected
        )
    }

    fn refresh_message(&mut self) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} unexpected, {:.1} runs/s", self.unexpected, self.rate()));
        }
    }

    /// Runs finished per wall-clock second in this invocation (runs resumed from the journal excluded).
    fn rate(&self) -> f64 {
        let seconds = self.stopwatch.elapsed().as_secs_f64();
        if seconds > 0.0 { self.finished as f64 / seconds } else { 0.0 }
    }
}
