//! `faultline stress`: what many runs of one command came to. The runs themselves are
//! ordinary `faultline run`s started by the CLI; this turns their reports into groups and
//! counts, with no I/O, so it is tested on plain data.

use crate::model::{Outcome, Report};
use crate::GroupSummary;
use serde::Serialize;
use std::path::PathBuf;

/// One finished run.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// 1-based, in the order runs were started (`FAULTLINE_STRESS_RUN` in the command's
    /// environment).
    pub run: u32,
    /// The exit status `faultline run` gave (the command's own).
    pub exit_code: i32,
    /// Its report; `None` when faultline could not run the command at all.
    pub report: Option<Report>,
    pub report_path: PathBuf,
    pub log_path: PathBuf,
    /// When the run finished, milliseconds since the Unix epoch.
    pub finished_ms: i64,
    /// The allocator variant it ran under (`stress --variants`).
    pub variant: Option<String>,
}

/// The crashes of many runs that share a signature.
#[derive(Debug, Clone, Serialize)]
pub struct StressGroup {
    #[serde(flatten)]
    pub summary: GroupSummary,
    /// The runs that crashed this way, in order.
    pub runs: Vec<u32>,
    /// The report file of the first of them.
    pub first_report: PathBuf,
}

/// Per-outcome counts of the runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub passed: u32,
    pub failed: u32,
    pub crashed: u32,
    pub timeout: u32,
    pub oom: u32,
    pub killed: u32,
    /// faultline could not run the command (not found, not executable, no report).
    pub error: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct StressSummary {
    pub command: Vec<String>,
    pub runs_planned: u32,
    pub runs_done: u32,
    pub jobs: u32,
    pub counts: Counts,
    /// Most frequent first.
    pub groups: Vec<StressGroup>,
    pub duration_ms: f64,
    /// Why fewer runs than planned were made (`first crash`, `interrupted`).
    pub stopped_early: Option<String>,
    /// Where each run's report and output were kept (`None`: removed, every run passed).
    pub logs: Option<PathBuf>,
    /// The crash rate over every run, with its 95% interval.
    pub rate: Rate,
    /// One row per variant (`stress --variants`), in the order they were asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<VariantRow>,
}

/// How often runs crashed, with the 95% Wilson score interval: the range the true rate lies
/// in, with 95% confidence, given so few runs. 0 of 50 means "below 7%", not "never".
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    pub crashed: u32,
    pub runs: u32,
    pub rate: f64,
    pub low: f64,
    pub high: f64,
}

/// The Wilson score interval at 95% (z = 1.96); well-behaved at 0 and at n, unlike p ± z·se.
pub fn wilson(crashed: u32, runs: u32) -> Rate {
    if runs == 0 {
        return Rate { crashed, runs, rate: 0.0, low: 0.0, high: 1.0 };
    }
    let (x, n, z) = (f64::from(crashed.min(runs)), f64::from(runs), 1.96_f64);
    let p = x / n;
    let denominator = 1.0 + z * z / n;
    let center = (p + z * z / (2.0 * n)) / denominator;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denominator;
    Rate { crashed, runs, rate: p, low: (center - half).max(0.0), high: (center + half).min(1.0) }
}

/// One variant's runs.
#[derive(Debug, Clone, Serialize)]
pub struct VariantRow {
    pub name: String,
    pub rate: Rate,
    /// The crash groups its runs showed, most runs first.
    pub groups: Vec<String>,
    /// The median wall time of its runs, from their reports.
    pub median_ms: Option<f64>,
}

fn variant_rows(results: &[&RunResult]) -> Vec<VariantRow> {
    let mut names: Vec<&str> = Vec::new();
    for name in results.iter().filter_map(|r| r.variant.as_deref()) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let runs: Vec<&&RunResult> = results.iter().filter(|r| r.variant.as_deref() == Some(name)).collect();
            let crashed = runs.iter().filter(|r| r.report.as_ref().is_some_and(|rep| !rep.crashes.is_empty())).count();
            let mut groups: Vec<(String, usize)> = Vec::new();
            for crash in runs.iter().filter_map(|r| r.report.as_ref()).flat_map(|rep| &rep.crashes) {
                let id = crate::group_id(&crash.signature).to_owned();
                match groups.iter_mut().find(|(g, _)| *g == id) {
                    Some(slot) => slot.1 += 1,
                    None => groups.push((id, 1)),
                }
            }
            groups.sort_by(|a, b| b.1.cmp(&a.1));
            let mut times: Vec<f64> =
                runs.iter().filter_map(|r| r.report.as_ref().map(|rep| rep.duration_ms)).collect();
            times.sort_by(f64::total_cmp);
            VariantRow {
                name: name.to_owned(),
                rate: wilson(crashed as u32, runs.len() as u32),
                groups: groups.into_iter().map(|(g, _)| g).collect(),
                median_ms: times.get(times.len() / 2).copied(),
            }
        })
        .collect()
}

impl StressSummary {
    /// Whether every run passed: `faultline stress` exits 0 only then.
    pub fn all_passed(&self) -> bool {
        self.counts.passed == self.runs_done && self.runs_done > 0
    }
}

/// Counts and groups the results; `results` may come in any order.
pub fn summarize(
    command: Vec<String>,
    runs_planned: u32,
    jobs: u32,
    results: &[RunResult],
    duration_ms: f64,
    stopped_early: Option<String>,
    logs: Option<PathBuf>,
) -> StressSummary {
    let mut sorted: Vec<&RunResult> = results.iter().collect();
    sorted.sort_by_key(|r| r.run);
    let mut counts = Counts::default();
    let mut groups: Vec<StressGroup> = Vec::new();
    for result in sorted {
        let Some(report) = &result.report else {
            counts.error += 1;
            continue;
        };
        let slot = match report.outcome {
            Outcome::Passed => &mut counts.passed,
            Outcome::Failed => &mut counts.failed,
            Outcome::Crashed => &mut counts.crashed,
            Outcome::Timeout => &mut counts.timeout,
            Outcome::Oom => &mut counts.oom,
            Outcome::Killed => &mut counts.killed,
            Outcome::Error => &mut counts.error,
        };
        *slot += 1;
        for crash in &report.crashes {
            match groups.iter_mut().find(|g| g.summary.signature == crash.signature) {
                Some(group) => {
                    group.summary.add(crash, result.finished_ms);
                    if group.runs.last() != Some(&result.run) {
                        group.runs.push(result.run);
                    }
                }
                None => groups.push(StressGroup {
                    summary: GroupSummary::of_crash(crash, result.finished_ms),
                    runs: vec![result.run],
                    first_report: result.report_path.clone(),
                }),
            }
        }
    }
    // Most runs first; ties by the first run that showed it.
    groups.sort_by(|a, b| b.runs.len().cmp(&a.runs.len()).then(a.runs[0].cmp(&b.runs[0])));
    let mut in_order: Vec<&RunResult> = results.iter().collect();
    in_order.sort_by_key(|r| r.run);
    StressSummary {
        rate: wilson(counts.crashed, results.len() as u32),
        variants: variant_rows(&in_order),
        command,
        runs_planned,
        runs_done: results.len() as u32,
        jobs,
        counts,
        groups,
        duration_ms,
        stopped_early,
        logs,
    }
}

/// A finished run with these crashes (none: it passed), its files in `logs`.
#[cfg(any(test, feature = "fixtures"))]
pub fn fixture_result(run: u32, crashes: &[faultline_model::capture::Capture], logs: &str) -> RunResult {
    RunResult {
        run,
        exit_code: if crashes.is_empty() { 0 } else { 139 },
        report: Some(crate::diagnose::fixtures::report(crashes)),
        report_path: PathBuf::from(format!("{logs}/run-{run}.json")),
        log_path: PathBuf::from(format!("{logs}/run-{run}.log")),
        finished_ms: 1_795_132_800_000 + i64::from(run) * 1000,
        variant: None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn wilson_intervals() {
        let none = wilson(0, 50);
        assert_eq!(none.low, 0.0);
        assert!((none.high - 0.0714).abs() < 0.001, "{none:?}");
        let some = wilson(3, 50);
        assert!((some.low - 0.0206).abs() < 0.001 && (some.high - 0.1622).abs() < 0.001, "{some:?}");
        let all = wilson(20, 20);
        assert!(all.high == 1.0 && (all.low - 0.8389).abs() < 0.001, "{all:?}");
        assert_eq!(wilson(0, 0).high, 1.0);
    }

    #[test]
    fn one_row_per_variant_in_the_order_asked() {
        let crash = faultline_model::fixtures::cext_null_deref();
        let mut results = Vec::new();
        for run in 1..=6u32 {
            let variant = if run % 2 == 1 { "default" } else { "heap-check" };
            let crashes = if variant == "heap-check" || run == 1 { vec![crash.clone()] } else { Vec::new() };
            let mut result = fixture_result(run, &crashes, "/logs");
            result.variant = Some(variant.to_owned());
            results.push(result);
        }
        let summary = summarize(vec!["app".into()], 6, 2, &results, 1.0, None, None);
        let rows: Vec<(&str, u32, u32)> =
            summary.variants.iter().map(|v| (v.name.as_str(), v.rate.crashed, v.rate.runs)).collect();
        assert_eq!(rows, [("default", 1, 3), ("heap-check", 3, 3)]);
        assert_eq!(summary.variants[1].groups.len(), 1);
        assert_eq!(summary.rate.crashed, 4);
    }

    use super::*;
    use crate::diagnose::fixtures;

    fn result(run: u32, crashes: &[faultline_model::capture::Capture]) -> RunResult {
        fixture_result(run, crashes, "/tmp/stress")
    }

    #[test]
    fn groups_by_signature_most_frequent_first() {
        let results = vec![
            result(3, &[fixtures::double_free()]),
            result(1, &[]),
            result(2, &[fixtures::pytest_null_deref()]),
            result(5, &[fixtures::pytest_null_deref()]),
            result(4, &[]),
        ];
        let s = summarize(vec!["python3".into()], 5, 2, &results, 1000.0, None, Some("/tmp/stress".into()));
        assert_eq!(s.counts, Counts { passed: 2, crashed: 3, ..Counts::default() });
        assert_eq!(s.groups.len(), 2);
        assert_eq!(s.groups[0].runs, vec![2, 5]);
        assert_eq!(s.groups[0].summary.count, 2);
        assert_eq!(s.groups[0].summary.kind, "null-deref");
        assert_eq!(s.groups[0].first_report, PathBuf::from("/tmp/stress/run-2.json"));
        assert_eq!(s.groups[1].runs, vec![3]);
        assert!(!s.all_passed());
    }

    #[test]
    fn a_run_without_a_report_is_an_error() {
        let mut broken = result(1, &[]);
        broken.report = None;
        let s = summarize(vec![], 2, 1, &[broken, result(2, &[])], 10.0, None, None);
        assert_eq!(s.counts, Counts { passed: 1, error: 1, ..Counts::default() });
        assert!(!s.all_passed());
        let ok = summarize(vec![], 1, 1, &[result(1, &[])], 10.0, None, None);
        assert!(ok.all_passed());
    }
}
