//! Tests that touch the machine: a real tree of processes, a real cgroup where one can be
//! made, and the fake cgroup v2 tree for the rules this machine cannot show.

use super::cgroup::Cgroup;
use super::fake_cgroupfs::FakeV2;
use super::*;
use crate::model::TrendVerdict;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const MIB: u64 = 1024 * 1024;

/// Children killed and reaped however the test ends.
struct Tree(Vec<Child>);

impl Drop for Tree {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Tree {
    fn pids(&self) -> Vec<i32> {
        self.0.iter().map(|c| c.id() as i32).collect()
    }
}

/// `spawn` returns after the exec succeeded, so each is already `sleep`, not a fork of us.
fn sleepers(n: usize) -> Tree {
    Tree((0..n).map(|_| Command::new("sleep").arg("30").spawn().expect("spawn sleep")).collect())
}

fn python_available() -> bool {
    Command::new("python3").arg("-c").arg("pass").status().is_ok_and(|s| s.success())
}

/// A python process holding `mib` MiB, returned once it says the memory is touched.
fn python_holding(mib: u64) -> Child {
    let code = format!("b = bytearray({mib} << 20)\nprint('ready', flush=True)\nimport sys\nsys.stdin.read()");
    let mut child = Command::new("python3")
        .args(["-c", &code])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("piped stdout");
    BufReader::new(stdout).read_line(&mut line).expect("read ready");
    assert_eq!(line.trim(), "ready");
    child
}

/// VmRSS from /proc/<pid>/status: a second opinion on statm.
fn vm_rss(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kb * 1024
}

#[test]
fn parses_statm_and_cmdline() {
    assert_eq!(parse_statm_rss_pages("6036 1325 1012 5 0 236 0\n"), Some(1325));
    assert_eq!(parse_statm_rss_pages("6036\n"), None);
    assert_eq!(parse_statm_rss_pages(""), None);
    assert_eq!(parse_cmdline(b"python3\0-m\0pytest\0"), ["python3", "-m", "pytest"]);
    assert_eq!(parse_cmdline(b"a\0\0b\0"), ["a", "", "b"]);
    assert!(parse_cmdline(b"").is_empty());
}

#[test]
fn samples_a_tree_of_fifty_processes() {
    if !python_available() {
        eprintln!("skipped: python3 is not available to hold memory");
        return;
    }
    let mut tree = sleepers(50);
    tree.0.push(python_holding(64));
    let holder_pid = tree.0[50].id() as i32;
    let mut pids = tree.pids();
    // A process that is gone by the time it is read counts as nothing.
    pids.push(i32::MAX);

    // A just-exec'd `sleep` may still be faulting its pages in: compare only a sample
    // taken while the independent reading before it and after it agree.
    let tree_rss = || tree.pids().iter().map(|&pid| vm_rss(pid)).sum::<u64>();
    let (watch, events, expected) = (0..100)
        .find_map(|_| {
            let before = tree_rss();
            let mut watch = MemoryWatch::new(MemoryConfig::default());
            let events = watch.sample(Duration::from_millis(100), &pids);
            let settled = tree_rss() == before;
            if !settled {
                std::thread::sleep(Duration::from_millis(5));
            }
            settled.then_some((watch, events, before))
        })
        .expect("the tree settles");

    assert!(events.is_empty());
    assert_eq!(watch.last_bytes(), expected);
    assert_eq!(watch.peak_bytes(), expected);
    assert!(expected > 64 * MIB, "the holder alone has 64 MiB: {expected}");
    let report = watch.finish(None, Vec::new(), None);
    let holder = report.peak_holder.expect("a holder");
    assert_eq!((holder.pid.0, holder.rss_bytes), (holder_pid, vm_rss(holder_pid)));
    assert_eq!(holder.argv.first().map(|a| a.contains("python")), Some(true), "{:?}", holder.argv);
    assert_eq!(holder.argv.get(1).map(String::as_str), Some("-c"));
    assert_eq!(report.samples, vec![(100.0, expected)]);
    assert_eq!(report.trend, None);

    let cost = measure_sampling_cost(&tree.pids(), 200);
    eprintln!("{cost}");
}

#[test]
fn a_launcher_before_the_roots_exec_never_names_the_holder() {
    if !python_available() {
        eprintln!("skipped: python3 is not available to hold memory");
        return;
    }
    // The launcher's stage: a helper holding more than the program ever will.
    let helper = Tree(vec![python_holding(32)]);
    let program = sleepers(1);
    // Under load the new process's command line can read empty for a moment: the test is
    // about whom the watch names, so it starts once `sleep` shows as itself.
    let shows_sleep =
        || std::fs::read(format!("/proc/{}/cmdline", program.pids()[0])).is_ok_and(|c| c.starts_with(b"sleep"));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !shows_sleep() && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    let mut watch = MemoryWatch::new(MemoryConfig::default());
    watch.sample(Duration::from_millis(20), &helper.pids());
    let launcher_peak = watch.peak_bytes();
    drop(helper);
    watch.root_exec();
    watch.sample(Duration::from_millis(120), &program.pids());
    let report = watch.finish(None, Vec::new(), None);
    let holder = report.peak_holder.expect("the program is sampled");
    assert_eq!(holder.pid, crate::model::Pid(program.pids()[0]));
    assert_eq!(holder.argv.first().map(String::as_str), Some("sleep"));
    // The tree's peak is still the tree's.
    assert_eq!(report.peak_rss_bytes, launcher_peak);

    // No sample since the exec: nobody is named.
    let helper = Tree(vec![python_holding(8)]);
    let mut watch = MemoryWatch::new(MemoryConfig::default());
    watch.sample(Duration::from_millis(20), &helper.pids());
    watch.root_exec();
    assert_eq!(watch.finish(None, Vec::new(), None).peak_holder, None);
}

#[test]
fn thresholds_are_reported_once_and_sampling_speeds_up_near_the_limit() {
    let me = [std::process::id() as i32];
    let config = MemoryConfig { interval: Duration::from_millis(100), warn_bytes: Some(1), limit_bytes: Some(2) };
    let mut watch = MemoryWatch::new(config);
    assert_eq!(watch.next_interval(), Duration::from_millis(100));
    let events = watch.sample(Duration::ZERO, &me);
    let total = watch.last_bytes();
    assert_eq!(
        events,
        [SampleEvent::CrossedWarn { tree_bytes: total }, SampleEvent::CrossedLimit { tree_bytes: total }]
    );
    assert_eq!(watch.next_interval(), FAST_INTERVAL);
    assert!(watch.sample(Duration::from_millis(10), &me).is_empty());

    let far = MemoryConfig { limit_bytes: Some(u64::MAX), ..MemoryConfig::default() };
    let mut watch = MemoryWatch::new(far);
    assert!(watch.sample(Duration::ZERO, &me).is_empty());
    assert_eq!(watch.next_interval(), Duration::from_millis(100));
}

#[test]
fn an_empty_tree_samples_as_zero() {
    let mut watch = MemoryWatch::new(MemoryConfig::default());
    assert!(watch.sample(Duration::ZERO, &[]).is_empty());
    let report = watch.finish(None, vec![7], Some("cgroup v1".into()));
    assert_eq!((report.peak_rss_bytes, report.peak_holder, report.oom_killed), (0, None, vec![7]));
    assert!(report.samples.is_empty());
    assert_eq!(report.enforcement.as_deref(), Some("cgroup v1"));
}

#[test]
fn limits_leave_room_above_the_watchdog() {
    assert_eq!(hard_cap(1024 * MIB), 1280 * MIB);
    assert_eq!(hard_cap(100 * MIB), 164 * MIB);
    assert_eq!(hard_cap(u64::MAX), u64::MAX);
    assert_eq!(address_space_limit(1024 * MIB), 5 * 1024 * MIB);
    assert_eq!(address_space_limit(8192 * MIB), 16384 * MIB);
    let watchdog = LimitEnforcer::watchdog_only(512 * MIB);
    assert_eq!(watchdog.describe(), "watchdog + RLIMIT_AS");
    assert_eq!(watchdog.child_address_space_limit(), Some(512 * MIB + 4096 * MIB));
    assert_eq!((watchdog.oom_kills(), watchdog.cgroup_dir(), watchdog.hard_cap_bytes()), (0, None, None));
    assert!(watchdog.add_process(1).is_ok());
}

/// On this machine (cgroup v1 memory hierarchy) the child must die of the kernel cap and
/// the cgroup's counter must see it; elsewhere the test says why it did not run.
#[test]
fn cgroup_cap_kills_a_runaway_allocator() {
    if !python_available() {
        eprintln!("skipped: python3 is not available to allocate");
        return;
    }
    let limit = 64 * MIB;
    let machine_ooms = OomCounter::start();
    let mut enforcer = LimitEnforcer::prepare(limit);
    let Some(dir) = enforcer.cgroup_dir().map(Path::to_path_buf) else {
        eprintln!("skipped: no cgroup could be made here; enforcement is {}", enforcer.describe());
        return;
    };
    eprintln!("enforcement: {} at {} (hard cap {:?})", enforcer.describe(), dir.display(), enforcer.hard_cap_bytes());
    assert_eq!(enforcer.child_address_space_limit(), None);
    let code = "import sys\nsys.stdin.readline()\nchunks = []\nwhile True:\n    chunks.append(bytearray(16 << 20))";
    let mut child = Command::new("python3").args(["-c", code]).stdin(Stdio::piped()).spawn().expect("spawn python3");
    let tree = Tree(Vec::new());
    enforcer.add_process(child.id() as i32).expect("join the cgroup");
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).expect("cgroup.procs");
    assert!(procs.lines().any(|l| l == child.id().to_string()), "{procs}");
    child.stdin.take().expect("stdin").write_all(b"go\n").expect("release the allocator");
    let status = child.wait().expect("wait");
    drop(tree);

    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    assert_eq!(enforcer.oom_kills(), 1);
    assert!(machine_ooms.kills_since_start() >= 1);
    enforcer.cleanup();
    assert!(!dir.exists(), "the cgroup is removed");
    assert_eq!(enforcer.oom_kills(), 1, "the count survives the cgroup");
}

/// memory-blowup's shape (50 MB chunks as fast as they can be zero-filled, ~2 GB/s): the
/// watchdog, sampling every 10 ms past half the limit, must see the limit crossed well
/// before the kernel's hard cap would kill.
#[test]
fn watchdog_catches_a_fast_allocator_before_the_hard_cap() {
    if !python_available() {
        eprintln!("skipped: python3 is not available to allocate");
        return;
    }
    let limit = 512 * MIB;
    let enforcer = LimitEnforcer::prepare(limit);
    let code = "import sys, time\nsys.stdin.readline()\nkeep = []\nwhile True:\n    keep.append(bytearray(50 << 20))\n    time.sleep(0.01)";
    let mut child = Command::new("python3").args(["-c", code]).stdin(Stdio::piped()).spawn().expect("spawn python3");
    let pid = [child.id() as i32];
    let _ = enforcer.add_process(pid[0]);
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"go\n").expect("release the allocator");
    let tree = Tree(vec![child]);
    let config = MemoryConfig { limit_bytes: Some(limit), ..MemoryConfig::default() };
    let mut watch = MemoryWatch::new(config);
    let start = std::time::Instant::now();
    let crossed = loop {
        let events = watch.sample(start.elapsed(), &pid);
        if let Some(SampleEvent::CrossedLimit { tree_bytes }) = events.last() {
            break *tree_bytes;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "the limit was never crossed");
        std::thread::sleep(watch.next_interval());
    };
    drop(tree);
    eprintln!(
        "{}: limit crossed at {} MiB (overshoot {} MiB, hard cap {} MiB) after {:?}",
        enforcer.describe(),
        crossed / MIB,
        (crossed - limit) / MIB,
        hard_cap(limit) / MIB,
        start.elapsed()
    );
    assert!(crossed < hard_cap(limit), "{crossed}");
    assert_eq!(enforcer.oom_kills(), 0);
}

/// Without a cgroup, the child's RLIMIT_AS turns an absurd request into a MemoryError.
#[test]
fn address_space_limit_stops_an_absurd_allocation() {
    if !python_available() {
        eprintln!("skipped: python3 is not available to allocate");
        return;
    }
    let bytes = LimitEnforcer::watchdog_only(64 * MIB).child_address_space_limit().expect("a limit");
    let mut command = Command::new("python3");
    command.args(["-c", "import numpy"]).stderr(Stdio::null());
    let numpy_loads = {
        // SAFETY: setrlimit is async-signal-safe and touches no memory of ours.
        unsafe { command.pre_exec(move || set_as(bytes)) };
        command.status().is_ok_and(|s| s.success())
    };
    let mut command = Command::new("python3");
    command.args(["-c", "b = bytearray(16 << 30)"]).stderr(Stdio::piped());
    // SAFETY: as above.
    unsafe { command.pre_exec(move || set_as(bytes)) };
    let out = command.output().expect("run python3");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MemoryError"));
    eprintln!("under RLIMIT_AS of {} MiB numpy imports: {numpy_loads}", bytes / MIB);
}

fn set_as(bytes: u64) -> std::io::Result<()> {
    let limit = libc::rlimit { rlim_cur: bytes, rlim_max: bytes };
    // SAFETY: limit is a valid rlimit.
    if unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

const OWN: &str = "/sys/fs/cgroup/user.slice/session-1.scope";

#[test]
fn v2_shared_cgroup_falls_back_and_leaves_nothing() {
    let own = Path::new(OWN);
    let fs = FakeV2::new(own, &[100, 4242]);
    assert!(Cgroup::create_v2(&fs, own, "faultline-4242", 4242, 64 * MIB, 128 * MIB).is_none());
    assert!(fs.children(own).is_empty());
    let node = fs.node(own).expect("own cgroup");
    assert!(node.subtree.is_empty());
    assert_eq!(node.procs.into_iter().collect::<Vec<_>>(), [100, 4242]);
}

#[test]
fn v2_alone_in_our_cgroup_moves_aside_then_restores() {
    let own = Path::new(OWN);
    let fs = FakeV2::new(own, &[4242]);
    let mut cgroup = Cgroup::create_v2(&fs, own, "faultline-4242", 4242, 64 * MIB, 128 * MIB).expect("a cgroup");
    let dir = own.join("faultline-4242");
    assert_eq!(cgroup.dir(), dir);
    let job = fs.node(&dir).expect("job cgroup");
    assert_eq!(job.files.get("memory.max").map(String::as_str), Some("134217728"));
    assert_eq!(job.files.get("memory.high").map(String::as_str), Some("67108864"));
    assert_eq!(job.files.get("memory.swap.max").map(String::as_str), Some("0"));
    let leaf = fs.node(&own.join("faultline-4242-self")).expect("our leaf");
    assert!(leaf.procs.contains(&4242));

    cgroup.add(&fs, 5000).expect("join");
    assert!(fs.node(&dir).expect("job").procs.contains(&5000));
    // A daemon outlives the run: it is moved out, then everything is put back.
    cgroup.remove(&fs);
    assert!(fs.children(own).is_empty());
    let node = fs.node(own).expect("own cgroup");
    assert!(node.subtree.is_empty());
    assert_eq!(node.procs.into_iter().collect::<Vec<_>>(), [4242, 5000]);
}

#[test]
fn v2_with_the_controller_already_delegated() {
    let own = Path::new(OWN);
    let fs = FakeV2::new(own, &[]);
    fs.nodes.lock().expect("lock").get_mut(own).expect("own").subtree.insert("memory".into());
    let mut cgroup = Cgroup::create_v2(&fs, own, "faultline-4242", 4242, 64 * MIB, 128 * MIB).expect("a cgroup");
    assert_eq!(cgroup.oom_kills(&fs), 0);
    let events = own.join("faultline-4242/memory.events");
    fs.nodes
        .lock()
        .expect("lock")
        .get_mut(events.parent().expect("dir"))
        .expect("job")
        .files
        .insert("memory.events".into(), "low 0\nhigh 3\nmax 9\noom 1\noom_kill 1\n".into());
    assert_eq!(cgroup.oom_kills(&fs), 1);
    cgroup.remove(&fs);
    assert_eq!(cgroup.oom_kills(&fs), 1);
    assert!(fs.children(own).is_empty());
    assert!(fs.node(own).expect("own").subtree.contains("memory"), "left as found");
}

#[test]
fn v2_without_the_memory_controller_is_not_used() {
    let own = Path::new(OWN);
    let fs = FakeV2::new(own, &[4242]);
    fs.nodes.lock().expect("lock").get_mut(own).expect("own").controllers.remove("memory");
    assert!(Cgroup::create_v2(&fs, own, "faultline-4242", 4242, 64 * MIB, 128 * MIB).is_none());
    assert!(fs.children(own).is_empty());
}

/// Samples `code` run by python3 every 100 ms until it exits, as the supervisor would.
fn watch_python(code: &str) -> crate::model::MemoryReport {
    let start = std::time::Instant::now();
    let mut child = Command::new("python3").args(["-c", code]).spawn().expect("spawn python3");
    let mut watch = MemoryWatch::new(MemoryConfig::default());
    let pid = [child.id() as i32];
    while child.try_wait().expect("try_wait").is_none() {
        watch.sample(start.elapsed(), &pid);
        std::thread::sleep(watch.next_interval());
    }
    watch.finish(None, Vec::new(), None)
}

/// Real programs, real timing: the shapes the trend rule is for.
#[test]
fn trend_of_real_programs() {
    if !python_available() {
        eprintln!("skipped: python3 is not available");
        return;
    }
    // leak-per-cycle's shape: 1 MiB kept per 10 ms cycle, 200 cycles.
    let leak =
        "import time\nkeep = []\nfor i in range(200):\n    keep.append(bytearray(1 << 20))\n    time.sleep(0.01)";
    // The 200 MB of `once` and `step` come in one mmap(MAP_POPULATE) call, and the flat part
    // after it lasts at least three times as long as the fill took: on this 2-core machine,
    // under the load of the other tests, even the kernel's fill has taken over a second, and
    // a step that takes a third of the run really is growth.
    let fill = "import mmap, time\nt = time.time()\nb = mmap.mmap(-1, 200 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | mmap.MAP_POPULATE)\nflat = max(FLAT, 3 * (time.time() - t))\n";
    // 200 MB once at start, then at least 2 s of work that allocates and frees.
    let once = format!(
        "{}end = time.time() + flat\nwhile time.time() < end:\n    x = [0] * 10000\n    time.sleep(0.01)",
        fill.replace("FLAT", "2")
    );
    // A step in the middle.
    let step = format!("import time\ntime.sleep(1.1)\n{}time.sleep(flat)", fill.replace("FLAT", "1.1"));
    let reports = std::thread::scope(|s| {
        let handles: Vec<_> =
            [leak, once.as_str(), step.as_str()].map(|code| s.spawn(move || watch_python(code))).into_iter().collect();
        handles.into_iter().map(|h| h.join().expect("watcher")).collect::<Vec<_>>()
    });
    let verdicts: Vec<_> = reports.iter().map(|r| r.trend.as_ref().map(|t| t.verdict)).collect();
    let shown: Vec<_> = reports
        .iter()
        .map(|r| (r.trend.clone(), r.samples.iter().map(|&(t, b)| (t as u64, b / MIB)).collect::<Vec<_>>()))
        .collect();
    let expected = [Some(TrendVerdict::Growing), Some(TrendVerdict::Flat), Some(TrendVerdict::Flat)];
    assert_eq!(verdicts, expected, "{shown:#?}");
    assert!(reports[0].peak_rss_bytes > 200 * MIB);
}

/// The sampler's cost on a tree of 50 processes, for the benchmark. Run with
/// `cargo test --release --lib memwatch::tests::sampling_cost -- --ignored --nocapture`.
#[test]
#[ignore]
fn sampling_cost_of_fifty_processes() {
    let tree = sleepers(50);
    let cost = measure_sampling_cost(&tree.pids(), 2000);
    println!("{cost}");
    assert!(cost.core_share_at(10.0) < 0.01, "{cost}");
}
