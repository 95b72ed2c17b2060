//! The parsers of what processes and users hand faultline: messages, siginfo, `/proc` text,
//! memory, units, settings, and the redactor and escaper that every text goes through.

use proptest::prelude::*;

use super::strategies::{bytes, capture, frames, maps_text, text, texts};
use crate::memory::BufferMemory;

proptest! {
    #![proptest_config(super::config())]

    #[test]
    fn redaction_never_panics_and_is_stable(line in text(), argv in texts(8)) {
        let once = crate::redact::redact_text(&line);
        prop_assert_eq!(crate::redact::redact_text(&once), once);
        let once = crate::redact::redact_argv(&argv);
        prop_assert_eq!(crate::redact::redact_argv(&once), once);
        let _ = crate::redact::is_secret_name(&line);
    }

    #[test]
    fn escaping_leaves_no_control_character(line in text()) {
        let escaped = crate::escape::escape_controls(&line);
        prop_assert!(!escaped.chars().any(crate::escape::is_control), "{:?}", escaped);
        prop_assert_eq!(crate::escape::escape_controls(&escaped), escaped.clone());
        let kept = crate::escape::escape_controls_keeping_lines(&line);
        prop_assert!(!kept.chars().any(|c| c != '\n' && crate::escape::is_control(c)));
    }

    #[test]
    fn messages_and_aborts(lines in texts(8), message in text(), frames in frames(), capture in capture()) {
        let _ = crate::diagnose::message::fatal_line_in(&lines);
        let _ = crate::diagnose::message::crash_message(&capture);
        let _ = crate::diagnose::abort::classify_abort_message(&message);
        let _ = crate::diagnose::abort::has_abort_call(&frames);
        let _ = crate::diagnose::pytest::parse_current_test(&message);
    }

    #[test]
    fn frame_names(name in text(), module in proptest::option::of(text())) {
        use crate::diagnose::frames;
        let _ = frames::normalize_function(&name, module.as_deref());
        let _ = frames::short_function(&name);
        let _ = frames::module_stem(&name);
        let _ = frames::module_basename(&name);
        let _ = frames::file_basename(&name);
        let _ = frames::is_library_python_file(&name);
        let _ = crate::diagnose::hang::one_line(&name);
        let _ = crate::store::group_id(&name);
    }

    #[test]
    fn proc_text(text in text(), raw in bytes(), maps in maps_text()) {
        let _ = crate::maps::parse_maps_text(&text);
        let _ = crate::maps::parse_maps_text(&maps);
        let _ = crate::memwatch::parse_cmdline(&raw);
        let _ = crate::memwatch::parse_statm_rss_pages(&text);
        let _ = crate::system::parse_meminfo(&text);
        let _ = crate::system::parse_cpu_model(&text);
        let _ = crate::system::parse_python_version(&text);
    }

    /// `__environ` and `__abort_msg` read from memory the process controls.
    #[test]
    fn process_memory(
        raw in proptest::collection::vec(any::<u8>(), 0..512),
        base in prop_oneof![Just(0u64), Just(0x1000u64), any::<u64>()],
        offset in 0u64..600,
        names in proptest::collection::vec(text(), 0..3),
    ) {
        let mem = BufferMemory { base, bytes: raw };
        let at = base.wrapping_add(offset);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let _ = crate::process_globals::env_from_environ(&mem, at, &names);
        let _ = crate::process_globals::env_from_environ(&mem, at, &["PYTEST_CURRENT_TEST", "PYTEST_VERSION"]);
        let _ = crate::process_globals::abort_message_at(&mem, at);
    }

    #[test]
    fn signals(signo in any::<i32>(), code in any::<i32>(), name in text()) {
        use crate::signals;
        let _ = signals::signal_name(signo);
        let _ = signals::signal_number(&name);
        let _ = signals::si_code_name(signo, code);
        let _ = signals::describe_signal(signo);
        let _ = signals::is_fatal_by_default(signo);
        let _ = signals::dumps_core_by_default(signo);
    }

    #[test]
    fn units(text in text(), n in any::<u64>(), secs in any::<u64>(), nanos in 0u32..1_000_000_000, ms in any::<i64>()) {
        use crate::units;
        let _ = units::parse_size(&text);
        let _ = units::parse_duration(&text);
        let _ = units::format_size(n);
        let _ = units::format_duration(std::time::Duration::new(secs, nanos));
        let _ = units::format_timestamp_ms(ms);
        let _ = crate::memwatch::trend(&[(0.0, n), (ms as f64, secs)]);
    }

    #[test]
    fn names_and_places(text in text()) {
        let _ = crate::settings::check_env_name(&text);
        if let Some(location) = crate::store::Location::parse(&text, std::path::Path::new("/p")) {
            let shown = location.display();
            if text.contains("password=S3cret") {
                prop_assert!(!shown.contains("S3cret"), "{}", shown);
            }
        }
    }
}

/// Settings keys, and values of every TOML type, in a project's `faultline.toml`.
fn settings_file() -> impl Strategy<Value = String> {
    const KEYS: &[&str] = &[
        "timeout",
        "kill_after",
        "memory_interval",
        "memory_warn",
        "max_memory",
        "json",
        "junit",
        "log",
        "log_max_size",
        "log_keep",
        "store",
        "env",
        "max_fds",
        "isolate_tmp",
        "headless",
        "single_thread",
        "core_dumps",
        "nonsense",
    ];
    let value = prop_oneof![
        text().prop_map(|t| toml::Value::String(t)),
        any::<i64>().prop_map(toml::Value::Integer),
        any::<f64>().prop_map(toml::Value::Float),
        any::<bool>().prop_map(toml::Value::Boolean),
        texts(3).prop_map(|v| toml::Value::Array(v.into_iter().map(toml::Value::String).collect())),
        (text(), text()).prop_map(|(k, v)| {
            let mut table = toml::Table::new();
            table.insert(k, toml::Value::String(v));
            toml::Value::Table(table)
        }),
    ];
    let key = prop_oneof![proptest::sample::select(KEYS).prop_map(str::to_owned), text()];
    proptest::collection::vec((key, value), 0..6).prop_map(|pairs| {
        let table: toml::Table = pairs.into_iter().collect();
        toml::to_string(&table).unwrap_or_default()
    })
}

proptest! {
    // Each case writes a file: fewer of them.
    #![proptest_config(super::fewer())]

    #[test]
    fn settings_files(file in prop_oneof![settings_file(), text()]) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(crate::settings::FAULTLINE_TOML), &file).unwrap();
        let _ = crate::settings::load_project_settings(dir.path());
        std::fs::remove_file(dir.path().join(crate::settings::FAULTLINE_TOML)).unwrap();
        std::fs::write(dir.path().join(crate::settings::PYPROJECT_TOML), format!("[tool.faultline]\n{file}")).unwrap();
        let _ = crate::settings::load_project_settings(dir.path());
    }
}
