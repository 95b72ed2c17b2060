//! The doctor checks made of an [`ExtensionReport`]: the problems grouped by the distribution
//! that installed the files (the files of one distribution that share a problem make one
//! check), then `extensions.plugins`, then the summary, `extensions.examined`, last.

use super::{ExtensionProblem, ExtensionReport};
use crate::doctor::Check;
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
            "{} examined (and the {} they load) in {:.2} s, {}",
            plural(report.modules, "extension module"),
            count(report.libraries, "library", "libraries"),
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
        n => format!("{} and {} more", paths[0].display(), plural(n - 1, "file")),
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
