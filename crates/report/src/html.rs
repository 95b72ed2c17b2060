//! The HTML report: one self-contained page for a run, a stored run or a crash group.
//!
//! The page has no script and loads nothing: the CSS is inline, the charts are inline SVG
//! drawn here, folding uses `<details>`, and a Content-Security-Policy meta tag forbids
//! everything else. Everything that came from the crashed process (paths, argv, function
//! names, messages, stderr) goes through askama's HTML escaping; no template marks any of
//! it `safe`.
//!
//! ```
//! # fn show(report: &faultline_model::model::Report) {
//! let page: String = faultline_report::html::render_report(report);
//! assert!(page.starts_with("<!DOCTYPE html>"));
//! # }
//! ```

mod chart;
mod group;
mod prose;
mod stacks;
mod view;

#[cfg(test)]
mod tests;

use askama::Template;

use crate::model::Report;
use crate::store::{GroupDetail, StoredRun};
use group::{group_view, utc, GroupView};
use view::{report_view, title, ReportView};

/// The policy of every page: inline styles and data images, nothing else.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

#[derive(Template)]
#[template(path = "html/run.html")]
struct RunPage {
    csp: &'static str,
    title: String,
    /// `run 42 · recorded 2026-11-22 07:06:32 UTC · ci-runner-3`, for a stored run.
    meta: Option<String>,
    report: ReportView,
}

#[derive(Template)]
#[template(path = "html/group.html")]
struct GroupPage {
    csp: &'static str,
    title: String,
    group: GroupView,
    /// `Latest crash: run 42 · 2026-11-22 07:06:32 UTC · ci-runner-3`.
    latest_meta: String,
    latest: ReportView,
}

/// `run 42 · recorded 2026-11-22 07:06:32 UTC · host`.
fn run_meta(run: &StoredRun) -> String {
    let mut parts = vec![format!("run {}", run.id), format!("recorded {}", utc(run.recorded_at_ms))];
    if let Some(host) = &run.host {
        parts.push(host.clone());
    }
    parts.join(" · ")
}

fn render(page: &impl Template) -> String {
    // Rendering into a String only fails if a Display impl does; ours do not.
    page.render().unwrap_or_else(|_| {
        "<!DOCTYPE html><title>faultline</title><p>faultline could not render this report.</p>".to_string()
    })
}

/// The page of one run's report (from `faultline run --json`, not from a store).
pub fn render_report(report: &Report) -> String {
    render(&RunPage { csp: CONTENT_SECURITY_POLICY, title: title(report), meta: None, report: report_view(report) })
}

/// The page of one stored run.
pub fn render_run(run: &StoredRun) -> String {
    render(&RunPage {
        csp: CONTENT_SECURITY_POLICY,
        title: format!("run {}: {}", run.id, title(&run.report)),
        meta: Some(run_meta(run)),
        report: report_view(&run.report),
    })
}

/// The page of one crash group: its history, then its latest report.
pub fn render_group(group: &GroupDetail) -> String {
    let view = group_view(group);
    render(&GroupPage {
        csp: CONTENT_SECURITY_POLICY,
        title: format!("group {}: {}", group.summary.id, view.title),
        group: view,
        latest_meta: format!("Latest crash: {}", run_meta(&group.latest)),
        latest: report_view(&group.latest.report),
    })
}
