use super::limits::{has_capability, plan, CurrentLimits};
use super::*;
use std::os::unix::fs::PermissionsExt;

fn base() -> Vec<(OsString, OsString)> {
    [("PATH", "/usr/bin"), ("DISPLAY", ":0"), ("MPLBACKEND", "TkAgg"), ("HOME", "/home/u")]
        .iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect()
}

fn get<'a>(vars: &'a [(OsString, OsString)], key: &str) -> Option<&'a str> {
    vars.iter().find(|(k, _)| k == key).and_then(|(_, v)| v.to_str())
}

#[test]
fn nothing_asked_leaves_our_environment_alone() {
    let (vars, described) = build_vars(base(), &RunSettings::default(), None, None);
    assert_eq!(vars, base());
    assert!(described.is_empty());
}

#[test]
fn headless_sets_backends_and_unsets_displays() {
    let settings = RunSettings { headless: Some(true), ..RunSettings::default() };
    let (vars, described) = build_vars(base(), &settings, None, None);
    assert_eq!(get(&vars, "QT_QPA_PLATFORM"), Some("offscreen"));
    assert_eq!(get(&vars, "MPLBACKEND"), Some("Agg"), "an inherited value is overridden");
    assert_eq!(get(&vars, "SDL_VIDEODRIVER"), Some("dummy"));
    assert_eq!(get(&vars, "SDL_AUDIODRIVER"), Some("dummy"));
    assert_eq!(get(&vars, "PYGAME_HIDE_SUPPORT_PROMPT"), Some("1"));
    assert_eq!(get(&vars, "ETS_TOOLKIT"), Some("null"));
    assert_eq!(get(&vars, "PYVISTA_OFF_SCREEN"), Some("true"));
    assert_eq!(get(&vars, "DISPLAY"), None);
    assert_eq!(get(&vars, "PATH"), Some("/usr/bin"));
    assert_eq!(described.len(), 1);
    assert!(described[0].starts_with("headless: QT_QPA_PLATFORM=offscreen, MPLBACKEND=Agg"), "{described:?}");
    assert!(described[0].ends_with("DISPLAY unset"), "{described:?}");
}

#[test]
fn explicit_env_wins_over_headless_and_single_thread() {
    let settings = RunSettings {
        headless: Some(true),
        single_thread: Some(true),
        env: vec![
            ("MPLBACKEND".into(), "QtAgg".into()),
            ("DISPLAY".into(), ":1".into()),
            ("OMP_NUM_THREADS".into(), "4".into()),
            ("OMP_NUM_THREADS".into(), "8".into()),
        ],
        ..RunSettings::default()
    };
    let (vars, described) = build_vars(base(), &settings, None, None);
    assert_eq!(get(&vars, "MPLBACKEND"), Some("QtAgg"));
    assert_eq!(get(&vars, "DISPLAY"), Some(":1"));
    assert_eq!(get(&vars, "OMP_NUM_THREADS"), Some("8"), "the later pair wins");
    assert_eq!(get(&vars, "MKL_NUM_THREADS"), Some("1"));
    assert!(!described[0].contains("MPLBACKEND"), "{described:?}");
    assert!(!described[0].contains("DISPLAY"), "{described:?}");
    assert!(!described[1].contains("OMP_NUM_THREADS"), "{described:?}");
}

#[test]
fn single_thread_sets_every_pool_to_one() {
    let settings = RunSettings { single_thread: Some(true), ..RunSettings::default() };
    let (vars, described) = build_vars(base(), &settings, None, None);
    for key in THREAD_VARS {
        assert_eq!(get(&vars, key), Some("1"), "{key}");
    }
    assert_eq!(
        described,
        ["single-thread: OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1, MKL_NUM_THREADS=1, \
          NUMEXPR_NUM_THREADS=1, VECLIB_MAXIMUM_THREADS=1, BLIS_NUM_THREADS=1"]
    );
}

#[test]
fn env_pairs_are_added_and_secrets_hidden_in_the_description() {
    let settings = RunSettings {
        env: vec![("MODE".into(), "ci".into()), ("API_TOKEN".into(), "hunter2".into()), ("PATH".into(), "/x".into())],
        ..RunSettings::default()
    };
    let (vars, described) = build_vars(base(), &settings, None, None);
    assert_eq!(get(&vars, "MODE"), Some("ci"));
    assert_eq!(get(&vars, "API_TOKEN"), Some("hunter2"));
    assert_eq!(get(&vars, "PATH"), Some("/x"));
    assert_eq!(vars[0].0, "PATH", "an inherited variable keeps its place");
    assert_eq!(described, ["env: MODE=ci, API_TOKEN=[redacted], PATH=/x"]);
}

#[test]
fn envp_is_key_equals_value() {
    let vars = vec![(OsString::from("A"), OsString::from("1=2")), (OsString::from("EMPTY"), OsString::new())];
    let envp = to_envp(&vars).unwrap();
    assert_eq!(envp, [CString::new("A=1=2").unwrap(), CString::new("EMPTY=").unwrap()]);
}

#[test]
fn bad_env_names_are_refused() {
    for key in ["", "A=B", "A\0"] {
        let settings = RunSettings { env: vec![(key.into(), "v".into())], ..RunSettings::default() };
        let err = ChildEnv::new(&settings).err().expect(key);
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().starts_with("--env: "), "{err}");
    }
    let settings = RunSettings { env: vec![("A".into(), "x\0y".into())], ..RunSettings::default() };
    assert!(ChildEnv::new(&settings).is_err());
}

#[test]
fn isolated_tmp_is_private_exported_and_removed_on_drop_with_read_only_contents() {
    let settings = RunSettings { isolate_tmp: Some(true), ..RunSettings::default() };
    let env = ChildEnv::new(&settings).unwrap();
    let dir = env.temp_dir().unwrap().to_owned();
    assert!(dir.file_name().unwrap().to_string_lossy().starts_with("faultline-"));
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    for key in TMP_VARS {
        let entry = CString::new(format!("{key}={}", dir.display())).unwrap();
        assert!(env.envp().contains(&entry), "{key}");
    }
    assert!(env.describe()[0].starts_with("isolate-tmp: TMPDIR=TEMP=TMP="), "{:?}", env.describe());

    // What a test suite might leave: a read-only file inside a read-only directory.
    let nested = dir.join("fixtures/deeper");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::write(nested.join("data.bin"), b"x").unwrap();
    std::fs::set_permissions(nested.join("data.bin"), std::fs::Permissions::from_mode(0o400)).unwrap();
    std::fs::set_permissions(&nested, std::fs::Permissions::from_mode(0o500)).unwrap();
    std::fs::set_permissions(dir.join("fixtures"), std::fs::Permissions::from_mode(0o000)).unwrap();
    std::os::unix::fs::symlink("/etc", dir.join("link-out")).unwrap();
    drop(env);
    assert!(!dir.exists(), "{} left behind", dir.display());
    assert!(Path::new("/etc").is_dir());
}

#[test]
fn close_reports_removal() {
    let settings = RunSettings { isolate_tmp: Some(true), ..RunSettings::default() };
    let env = ChildEnv::new(&settings).unwrap();
    let dir = env.temp_dir().unwrap().to_owned();
    std::fs::write(dir.join("left.txt"), b"x").unwrap();
    env.close().unwrap();
    assert!(!dir.exists());
}

#[test]
fn no_temp_dir_unless_asked() {
    let env = ChildEnv::new(&RunSettings::default()).unwrap();
    assert!(env.temp_dir().is_none());
    assert!(env.rlimits().is_empty());
    assert!(env.describe().is_empty());
    // Our environment, plus the mark that the command is supervised (replacing an inherited
    // one), plus what loads faultline's pytest channel.
    let added = [
        crate::supervised::SUPERVISED_ENV,
        "PYTHONPATH",
        "PYTEST_PLUGINS",
        faultline_pytest::channel::CHANNEL_ENV,
        faultline_pytest::channel::PATH_ENV,
    ];
    let ours = std::env::vars_os().filter(|(key, _)| !added.iter().any(|a| key == a)).count();
    assert_eq!(env.envp().len(), ours + added.len());
    let mark = format!("{}={}", crate::supervised::SUPERVISED_ENV, std::process::id());
    assert!(env.envp().iter().any(|e| e.to_str().unwrap() == mark));
    let channel = env.pytest_log_dir().expect("the pytest channel");
    let named = format!("{}={}", faultline_pytest::channel::CHANNEL_ENV, channel.display());
    assert!(env.envp().iter().any(|e| e.to_str().unwrap() == named));
    let plugins = env.envp().iter().filter_map(|e| e.to_str().ok()?.strip_prefix("PYTEST_PLUGINS=")).next().unwrap();
    assert!(plugins.split(',').any(|p| p == faultline_pytest::channel::PLUGIN_MODULE));
}

#[test]
fn envp_with_replaces_and_adds_variables() {
    let env = ChildEnv::new(&RunSettings::default()).unwrap();
    let extended = env
        .envp_with(&[
            ("FAULTLINE_PYTEST_SELECT", std::ffi::OsStr::new("/tmp/s.json")),
            ("PYTEST_PLUGINS", std::ffi::OsStr::new("x")),
        ])
        .unwrap();
    let texts: Vec<&str> = extended.iter().map(|e| e.to_str().unwrap()).collect();
    assert!(texts.contains(&"FAULTLINE_PYTEST_SELECT=/tmp/s.json"));
    assert_eq!(texts.iter().filter(|t| t.starts_with("PYTEST_PLUGINS=")).count(), 1);
    assert!(texts.contains(&"PYTEST_PLUGINS=x"));
    assert_eq!(extended.len(), env.envp().len() + 1);
}

const LIMITS: &str = "\
Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max stack size            8388608              unlimited            bytes     
Max core file size        0                    unlimited            bytes     
Max processes             63457                63457                processes 
Max open files            1024                 524288               files     
Max address space         unlimited            unlimited            bytes     
";

#[test]
fn parses_proc_limits() {
    assert_eq!(parse_proc_limit(LIMITS, "Max core file size"), Some((0, RLIM_INFINITY)));
    assert_eq!(parse_proc_limit(LIMITS, "Max open files"), Some((1024, 524288)));
    assert_eq!(parse_proc_limit(LIMITS, "Max stack size"), Some((8388608, RLIM_INFINITY)));
    assert_eq!(parse_proc_limit(LIMITS, "Max open"), None);
    assert_eq!(parse_proc_limit(LIMITS, "Max file locks"), None);
}

#[test]
fn reads_the_effective_capability_mask() {
    let status = "Name:\tcat\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001fffeffffff\n";
    assert!(!has_capability(status, 24), "bit 24 is clear in ...fe ffffff");
    assert!(has_capability(status, 21));
    assert!(has_capability("CapEff:\t0000000001000000\n", 24));
    assert!(!has_capability("Name:\tx\n", 24));
}

fn limits(core: (u64, u64), nofile: (u64, u64), can_raise_hard: bool) -> CurrentLimits {
    CurrentLimits { core, nofile, can_raise_hard, nr_open: Some(1 << 20), core_pattern: None }
}

fn core_only() -> RunSettings {
    RunSettings { core_dumps: Some(true), ..RunSettings::default() }
}

#[test]
fn core_dumps_raise_soft_to_hard() {
    let (set, described) = plan(&core_only(), &limits((0, 4096), (1024, 4096), false)).unwrap();
    assert_eq!(set, [ChildRlimit { resource: libc::RLIMIT_CORE, soft: 4096, hard: 4096 }]);
    assert_eq!(described, ["core-dumps: core file size limit 4096 (was 0)"]);
}

#[test]
fn core_dumps_with_privilege_also_try_unlimited() {
    let (set, described) = plan(&core_only(), &limits((0, 4096), (1024, 4096), true)).unwrap();
    assert_eq!(
        set,
        [
            ChildRlimit { resource: libc::RLIMIT_CORE, soft: 4096, hard: 4096 },
            ChildRlimit { resource: libc::RLIMIT_CORE, soft: RLIM_INFINITY, hard: RLIM_INFINITY },
        ]
    );
    assert_eq!(described, ["core-dumps: core file size limit unlimited (was 0)"]);
}

#[test]
fn core_dumps_mention_a_remote_core_pattern() {
    let mut now = limits((0, RLIM_INFINITY), (1024, 4096), false);
    now.core_pattern = Some("|/usr/lib/systemd/systemd-coredump %P".to_owned());
    let (set, described) = plan(&core_only(), &now).unwrap();
    assert_eq!(set, [ChildRlimit { resource: libc::RLIMIT_CORE, soft: RLIM_INFINITY, hard: RLIM_INFINITY }]);
    assert!(described[0].contains("systemd-coredump"), "{described:?}");
}

#[test]
fn max_fds_sets_soft_and_hard() {
    let settings = RunSettings { max_fds: Some(256), ..RunSettings::default() };
    let (set, described) = plan(&settings, &limits((0, 0), (1024, 4096), false)).unwrap();
    assert_eq!(set, [ChildRlimit { resource: libc::RLIMIT_NOFILE, soft: 256, hard: 256 }]);
    assert_eq!(described, ["max-fds: open files per process limited to 256 (was 1024)"]);
    // Above the soft limit but within the hard one is fine without privilege.
    let settings = RunSettings { max_fds: Some(4096), ..RunSettings::default() };
    assert!(plan(&settings, &limits((0, 0), (1024, 4096), false)).is_ok());
}

#[test]
fn max_fds_above_the_hard_limit_needs_privilege() {
    let settings = RunSettings { max_fds: Some(10_000), ..RunSettings::default() };
    let err = plan(&settings, &limits((0, 0), (1024, 4096), false)).unwrap_err();
    assert!(err.contains("above the hard limit on open files (4096)"), "{err}");
    assert!(err.contains("use at most 4096"), "{err}");
    assert!(plan(&settings, &limits((0, 0), (1024, 4096), true)).is_ok());
    let settings = RunSettings { max_fds: Some(2 << 20), ..RunSettings::default() };
    let err = plan(&settings, &limits((0, 0), (1024, 4096), true)).unwrap_err();
    assert!(err.contains("fs.nr_open"), "{err}");
    let settings = RunSettings { max_fds: Some(0), ..RunSettings::default() };
    assert!(plan(&settings, &limits((0, 0), (1024, 4096), true)).is_err());
}

#[test]
fn live_limits_are_read_and_core_dumps_planned() {
    let env = ChildEnv::new(&core_only()).unwrap();
    let first = env.rlimits()[0];
    assert_eq!(first.resource, libc::RLIMIT_CORE);
    assert_eq!(first.soft, first.hard);
}

#[test]
fn added_limits_are_kept_in_order_and_described() {
    let mut env = ChildEnv::new(&RunSettings::default()).unwrap();
    let limit = ChildRlimit { resource: libc::RLIMIT_AS, soft: 2 << 30, hard: 2 << 30 };
    env.add_rlimit(limit);
    assert_eq!(env.rlimits(), [limit]);
    assert_eq!(env.describe(), ["limit: RLIMIT_AS = 2 GiB"]);
}
