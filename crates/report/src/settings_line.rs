//! `  settings: pyproject.toml [tool.faultline]`: which settings file the run applied, so
//! that a limit or variable nobody typed is traced to where it came from.

use crate::model::Report;
use crate::model::PYPROJECT_TOML;
use faultline_model::style::{Role, TerminalStyle};

/// The line, when the run applied a settings file. The path is relative to `cwd` when the
/// file is in it (the usual case), absolute when it was found further up.
pub(crate) fn settings_line(report: &Report, cwd: Option<&str>, style: &TerminalStyle) -> Option<String> {
    let file = report.settings_file.as_deref()?;
    let shown = cwd
        .map(|cwd| cwd.trim_end_matches('/'))
        .and_then(|cwd| file.strip_prefix(cwd)?.strip_prefix('/'))
        .unwrap_or(file);
    let table = if std::path::Path::new(file).file_name().is_some_and(|name| name == PYPROJECT_TOML) {
        " [tool.faultline]"
    } else {
        ""
    };
    // The path is the user's, but a folder name can hold anything: escape control characters.
    let shown = crate::diagnose::hang::one_line(shown);
    Some(format!("  {} {shown}{table}", style.paint(Role::Faint, "settings:")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(file: Option<&str>, cwd: Option<&str>) -> Option<String> {
        let mut report = crate::diagnose::fixtures::report(&[]);
        report.settings_file = file.map(str::to_owned);
        settings_line(&report, cwd, &TerminalStyle::plain())
    }

    #[test]
    fn names_the_file_and_the_table() {
        assert_eq!(
            line(Some("/src/app/pyproject.toml"), Some("/src/app")).unwrap(),
            "  settings: pyproject.toml [tool.faultline]"
        );
        assert_eq!(line(Some("/src/app/faultline.toml"), Some("/src/app/")).unwrap(), "  settings: faultline.toml");
        assert_eq!(
            line(Some("/src/app/faultline.toml"), Some("/src/app/tests")).unwrap(),
            "  settings: /src/app/faultline.toml"
        );
        assert_eq!(
            line(Some("/src/application/faultline.toml"), Some("/src/app")).unwrap(),
            "  settings: /src/application/faultline.toml"
        );
        assert_eq!(line(None, Some("/src/app")), None);
    }
}
