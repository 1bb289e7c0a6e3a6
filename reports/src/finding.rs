//! Violations read as findings: the instances of one check on one subject close together in time are
//! one finding, reported once with a count and its first and last instance.
//!
//! A hazard run can break the same property thousands of times (every write of a zombie on a shared
//! LUN, every second of an outage); listing each one buries what happened. A finding says it once:
//! "split-brain on SG1, 3,301 times from 62.0 s to 418.7 s".

use serde::{Deserialize, Serialize};

/// Instances of one check on one subject further apart than this start a new finding: the property
/// held in between, so the two episodes are worth seeing apart.
pub const FINDING_GAP_MS: u64 = 5_000;

/// One broken property, as a checker found it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViolationRecord {
    /// The check that broke: `split-brain`, `data-loss`, `lineage`, `quorum`, `rto`, `liveness`, ...
    pub check: String,
    /// What it broke on: a database, a LUN, a node, or `cluster` for a property of the whole.
    pub subject: String,
    /// True time of the evidence, in milliseconds since the run began.
    pub time_ms: u64,
    pub detail: String,
}

/// The violations of one check on one subject within one interval of true time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRecord {
    pub check: String,
    pub subject: String,
    /// How many violations the finding stands for.
    pub count: u64,
    /// True time of the first and the last instance, in milliseconds.
    pub first_ms: u64,
    pub last_ms: u64,
    /// The first instance's explanation.
    pub first: String,
    /// The last instance's explanation, when there was more than one.
    pub last: Option<String>,
}

impl FindingRecord {
    /// Groups `violations` into findings, ordered by first instance (then check and subject, so the
    /// order does not depend on the order the checkers ran in).
    pub fn group(violations: &[ViolationRecord]) -> Vec<FindingRecord> {
        let mut sorted: Vec<&ViolationRecord> = violations.iter().collect();
        sorted.sort_by(|a, b| (&a.check, &a.subject, a.time_ms).cmp(&(&b.check, &b.subject, b.time_ms)));
        let mut findings: Vec<FindingRecord> = Vec::new();
        for violation in sorted {
            match findings.last_mut() {
                Some(finding) if finding.continues_with(violation) => finding.extend(violation),
                _ => findings.push(FindingRecord::start(violation)),
            }
        }
        findings.sort_by(|a, b| (a.first_ms, &a.check, &a.subject).cmp(&(b.first_ms, &b.check, &b.subject)));
        findings
    }

    /// When it happened, as every renderer says it: `once at 1m17s` or `3301 times, 12s to 15.3s`.
    pub fn times(&self) -> String {
        let format_ms = crate::text::format_ms;
        if self.count == 1 {
            format!("once at {}", format_ms(self.first_ms))
        } else {
            format!("{} times, {} to {}", self.count, format_ms(self.first_ms), format_ms(self.last_ms))
        }
    }

    fn start(violation: &ViolationRecord) -> FindingRecord {
        FindingRecord {
            check: violation.check.clone(),
            subject: violation.subject.clone(),
            count: 1,
            first_ms: violation.time_ms,
            last_ms: violation.time_ms,
            first: violation.detail.clone(),
            last: None,
        }
    }

    fn continues_with(&self, violation: &ViolationRecord) -> bool {
        self.check == violation.check
            && self.subject == violation.subject
            && violation.time_ms.saturating_sub(self.last_ms) <= FINDING_GAP_MS
    }

    fn extend(&mut self, violation: &ViolationRecord) {
        self.count += 1;
        self.last_ms = violation.time_ms;
        self.last = Some(violation.detail.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(check: &str, subject: &str, time_ms: u64) -> ViolationRecord {
        ViolationRecord {
            check: check.to_string(),
            subject: subject.to_string(),
            time_ms,
            detail: format!("{check} on {subject} at {time_ms}"),
        }
    }

    #[test]
    fn instances_of_one_check_on_one_subject_close_in_time_are_one_finding_with_count_first_and_last() {
        let violations: Vec<_> =
            (0..3_301).map(|i| violation("split-brain", "SG1", 62_000 + i * 100)).collect();
        let findings = FindingRecord::group(&violations);
        assert_eq!(findings.len(), 1);
        let finding = &findings[0];
        assert_eq!((finding.count, finding.first_ms, finding.last_ms), (3_301, 62_000, 392_000));
        assert_eq!(finding.first, "split-brain on SG1 at 62000");
        assert_eq!(finding.last.as_deref(), Some("split-brain on SG1 at 392000"));
    }

    #[test]
    fn another_subject_another_check_or_a_quiet_gap_start_a_new_finding() {
        let violations = vec![
            violation("split-brain", "SG1", 1_000),
            violation("split-brain", "SG2", 1_000),
            violation("data-loss", "SG1", 1_500),
            violation("split-brain", "SG1", 1_000 + FINDING_GAP_MS),
            violation("split-brain", "SG1", 2_001 + 2 * FINDING_GAP_MS),
        ];
        let findings = FindingRecord::group(&violations);
        let summary: Vec<_> =
            findings.iter().map(|f| (f.check.as_str(), f.subject.as_str(), f.count, f.first_ms)).collect();
        assert_eq!(
            summary,
            vec![
                ("split-brain", "SG1", 2, 1_000),
                ("split-brain", "SG2", 1, 1_000),
                ("data-loss", "SG1", 1, 1_500),
                ("split-brain", "SG1", 1, 12_001),
            ]
        );
        assert_eq!(findings[1].last, None, "a single instance has no last");
    }

    #[test]
    fn the_findings_do_not_depend_on_the_order_the_checkers_reported_in() {
        let mut violations = vec![
            violation("rto", "SG1", 9_000),
            violation("quorum", "cluster", 3_000),
            violation("rto", "SG1", 4_000),
        ];
        let forward = FindingRecord::group(&violations);
        violations.reverse();
        assert_eq!(FindingRecord::group(&violations), forward);
    }
}
