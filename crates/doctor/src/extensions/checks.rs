//! The doctor checks made of an [`ExtensionReport`]: the problems grouped by the distribution
//! that installed the files (the files of one distribution that share a problem make one
//! check), then `extensions.plugins`, then the summary, `extensions.examined`, last.

use super::{ExtensionProblem, ExtensionReport};
use crate::Check;
use std::collections::HashMap;
use std::path::Path;

pub const PLUGINS: &str = "extensions.plugins";
pub const EXAMINED: &str = "extensions.examined";

/// How many of the absent libraries the plugin summary names.
const NAMED: usize = 4;

/// `1 file`, `2 files`; `many` for irregular plurals.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn plural(n: usize, word: &str) -> String {
    count(n, word, &format!("{word}s"))
}

pub fn checks(report: &ExtensionReport) -> Vec<Check> {
    // The problems come sorted by owner, id and path: groups keep that order.
    let mut groups: Vec<Vec<&ExtensionProblem>> = Vec::new();
    for problem in &report.problems {
        match groups.last_mut() {
            Some(group) if group[0].owner == problem.owner && group[0].id == problem.id => group.push(problem),
            _ => groups.push(vec![problem]),
        }
    }
    let mut checks: Vec<Check> = groups.iter().flat_map(|group| group_checks(group)).collect();
    let problems = checks.len();
    checks.push(plugins_check(report));
    checks.push(Check::ok(
        EXAMINED,
        format!(
            "{} and {} {} examined in {:.2} s, {}",
            plural(report.modules, "extension module"),
            count(report.libraries, "library", "libraries"),
            if report.modules == 1 { "it loads" } else { "they load" },
            report.elapsed.as_secs_f64(),
            plural(problems, "problem")
        ),
    ));
    checks
}

/// The checks for one owner's problems of one kind: the files that share a finding make one;
/// missing libraries make one whatever they are, naming them all.
fn group_checks(group: &[&ExtensionProblem]) -> Vec<Check> {
    let first = group[0];
    let id = format!("extensions.{}", first.id);
    let mut distinct: Vec<(&str, &str, Vec<&Path>)> = Vec::new();
    for problem in group {
        match distinct.iter_mut().find(|(f, x, _)| *f == problem.finding && *x == problem.fix) {
            Some((_, _, paths)) => push_new(paths, problem.path.as_path()),
            None => distinct.push((&problem.finding, &problem.fix, vec![&problem.path])),
        }
    }
    let owned = |text: String| match &first.owner {
        Some(owner) => format!("{owner}: {text}"),
        None => text,
    };
    if distinct.len() == 1 || first.id != super::MISSING_LIBRARY {
        return distinct
            .into_iter()
            .map(|(finding, fix, paths)| Check::warn(&id, owned(format!("{}: {finding}", files(&paths))), fix))
            .collect();
    }
    let mut paths = Vec::new();
    let mut names = Vec::new();
    let mut needers = Vec::new();
    for problem in group {
        push_new(&mut paths, problem.path.as_path());
        if let Some(missing) = &problem.missing {
            push_new(&mut names, missing.name.as_str());
            if let Some(name) = missing.through.as_deref().and_then(Path::file_name) {
                push_new(&mut needers, name.to_string_lossy().into_owned());
            }
        }
    }
    let needed_by = if needers.is_empty() { String::new() } else { format!(" (needed by {})", listed(&needers, 4)) };
    let finding = format!(
        "{}: {} {} cannot be found by the dynamic loader: {}{needed_by}",
        files(&paths),
        count(names.len(), "library", "libraries"),
        if paths.len() == 1 { "it loads" } else { "they load" },
        listed(&names, 6)
    );
    vec![Check::warn(
        &id,
        owned(finding),
        "install the packages that provide them, or reinstall the package so it bundles them",
    )]
}

fn push_new<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// `a, b, c and 4 more`, at most `shown` named.
fn listed<T: std::fmt::Display>(items: &[T], shown: usize) -> String {
    let named: Vec<String> = items.iter().take(shown).map(ToString::to_string).collect();
    match items.len().saturating_sub(shown) {
        0 => named.join(", "),
        more => format!("{} and {more} more", named.join(", ")),
    }
}

/// `/x/a.so`, or `/x/a.so and 3 more files`.
fn files(paths: &[&Path]) -> String {
    match paths.len() {
        1 => paths[0].display().to_string(),
        n => format!("{} and {} more {}", paths[0].display(), n - 1, if n == 2 { "file" } else { "files" }),
    }
}

/// The shared objects Python does not import, and the optional plugins among them that cannot
/// load here: counted, with the libraries they miss most, never a warning.
fn plugins_check(report: &ExtensionReport) -> Check {
    let examined = format!(
        "{} that Python does not import examined",
        count(report.others, "plugin or library", "plugins and libraries")
    );
    if report.optional_plugins.is_empty() {
        return Check::ok(PLUGINS, format!("{examined}: all can load"));
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for plugin in &report.optional_plugins {
        for missing in &plugin.missing {
            *counts.entry(missing.as_str()).or_default() += 1;
        }
    }
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let named: Vec<String> = counts.iter().map(|(what, n)| format!("{what} ({n})")).collect();
    let n = report.optional_plugins.len();
    Check::ok(
        PLUGINS,
        format!(
            "{examined}; {} cannot load here, which matters only if {} used: absent {}",
            plural(n, "optional plugin"),
            if n == 1 { "it is" } else { "they are" },
            listed(&named, NAMED)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extensions::closure::Missing;
    use crate::extensions::{OptionalPlugin, ABI_MISMATCH, MISSING_LIBRARY};
    use crate::Status;
    use std::path::PathBuf;
    use std::time::Duration;

    fn problem(
        owner: Option<&str>,
        id: &'static str,
        path: &str,
        finding: &str,
        missing: Option<(&str, &str)>,
    ) -> ExtensionProblem {
        ExtensionProblem {
            id,
            path: PathBuf::from(path),
            owner: owner.map(str::to_owned),
            finding: finding.to_owned(),
            fix: "fix it".to_owned(),
            missing: missing
                .map(|(name, through)| Missing { name: name.to_owned(), through: Some(PathBuf::from(through)) }),
        }
    }

    #[test]
    fn problems_by_distribution_then_plugins_then_the_summary() {
        let report = ExtensionReport {
            modules: 3,
            libraries: 1,
            others: 2,
            optional_plugins: vec![
                OptionalPlugin { path: "/s/Qt/plugins/a.so".into(), missing: vec!["libxcb-icccm.so.4".into()] },
                OptionalPlugin {
                    path: "/s/Qt/plugins/b.so".into(),
                    missing: vec!["libxcb-icccm.so.4".into(), "RHPG_9.6 of libpq.so.5".into()],
                },
            ],
            problems: vec![
                problem(Some("numpy 1.26.4"), ABI_MISMATCH, "/s/numpy/a.so", "built for CPython 3.10", None),
                problem(Some("numpy 1.26.4"), ABI_MISMATCH, "/s/numpy/b.so", "built for CPython 3.10", None),
                problem(
                    Some("torch 2.5.0"),
                    MISSING_LIBRARY,
                    "/s/torch/_C.so",
                    "x",
                    Some(("libcublas.so.12", "/s/torch/lib/libtorch_cuda.so")),
                ),
                problem(
                    Some("torch 2.5.0"),
                    MISSING_LIBRARY,
                    "/s/torch/_C.so",
                    "y",
                    Some(("libcudnn.so.9", "/s/torch/lib/libtorch_python.so")),
                ),
            ],
            elapsed: Duration::from_millis(120),
        };
        let checks = checks(&report);
        let lines: Vec<(&str, Status, &str)> =
            checks.iter().map(|c| (c.id.as_str(), c.status, c.finding.as_str())).collect();
        assert_eq!(
            lines,
            vec![
                ("extensions.extension-abi-mismatch", Status::Warn, "numpy 1.26.4: /s/numpy/a.so and 1 more file: built for CPython 3.10"),
                (
                    "extensions.extension-missing-library",
                    Status::Warn,
                    "torch 2.5.0: /s/torch/_C.so: 2 libraries it loads cannot be found by the dynamic loader: libcublas.so.12, libcudnn.so.9 (needed by libtorch_cuda.so, libtorch_python.so)"
                ),
                (
                    PLUGINS,
                    Status::Ok,
                    "2 plugins and libraries that Python does not import examined; 2 optional plugins cannot load here, which matters only if they are used: absent libxcb-icccm.so.4 (2), RHPG_9.6 of libpq.so.5 (1)"
                ),
                (EXAMINED, Status::Ok, "3 extension modules and 1 library they load examined in 0.12 s, 2 problems"),
            ]
        );
    }

    #[test]
    fn nothing_to_say() {
        let report = ExtensionReport {
            modules: 1,
            libraries: 0,
            others: 1,
            optional_plugins: vec![],
            problems: vec![],
            elapsed: Duration::ZERO,
        };
        let checks = checks(&report);
        assert_eq!(checks.len(), 2);
        assert_eq!(checks[0].finding, "1 plugin or library that Python does not import examined: all can load");
        assert_eq!(checks[1].finding, "1 extension module and 0 libraries it loads examined in 0.00 s, 0 problems");
    }
}
