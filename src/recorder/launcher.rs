//! Which processes of the tree only launched the command.
//!
//! A launcher is a command whose root process becomes another program: pyenv's `python3` is
//! a bash script that runs some forty helpers (`pyenv-version-name`, `readlink`, `head` …)
//! and then execs the real `python3`; `env FOO=1 python3` execs at once. The real program is
//! what the root finally became, from the first exec of that program on (a program that
//! re-execs itself stays the same program). The stages before it exec'd away; the processes
//! that ended before it started were the launcher's helpers.
//!
//! Told from the event stream alone: no names are matched, so any shim, wrapper script or
//! `env`-style launcher is seen the same way.

use crate::events::RunEvent;
use crate::model::{Launcher, Pid};

/// Follows the events that tell launcher from program: the root's execs, and when each
/// other process ended.
#[derive(Debug, Default)]
pub(crate) struct LauncherWatch {
    root: Option<Pid>,
    /// Position of each event in the stream: the order is all that matters.
    position: u64,
    /// The root's execs, in order: (position, executable).
    root_execs: Vec<(u64, Option<String>)>,
    /// When each process other than the root ended.
    ended: Vec<u64>,
}

impl LauncherWatch {
    pub(crate) fn event(&mut self, event: &RunEvent) {
        self.position += 1;
        match event {
            RunEvent::Started { root_pid, .. } => self.root = Some(*root_pid),
            RunEvent::ProcessExec { pid, executable } if Some(*pid) == self.root => {
                self.root_execs.push((self.position, executable.clone()));
            }
            RunEvent::ProcessExited { pid, .. } if Some(*pid) != self.root => self.ended.push(self.position),
            _ => {}
        }
    }

    /// The launcher, when the root ran something else before the real program; `program`
    /// is the command's program as found on PATH.
    pub(crate) fn finish(self, program: String) -> Option<Launcher> {
        let (_, became) = self.root_execs.last()?;
        // The real program starts at the first exec of the trailing run of execs of it.
        let start = self.root_execs.iter().rposition(|(_, exe)| exe != became).map_or(0, |i| i + 1);
        if start == 0 {
            return None;
        }
        let (program_started, _) = self.root_execs[start];
        let helpers = self.ended.iter().filter(|&&at| at < program_started).count();
        Some(Launcher { program, became: became.clone(), processes: u32::try_from(helpers).unwrap_or(u32::MAX) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ExitInfo, Pid, ProcessRole};

    const ROOT: Pid = Pid(100);

    fn exec(pid: i32, exe: &str) -> RunEvent {
        RunEvent::ProcessExec { pid: Pid(pid), executable: Some(exe.into()) }
    }
    fn fork(pid: i32, parent: i32) -> RunEvent {
        RunEvent::ProcessStarted { pid: Pid(pid), parent: Pid(parent) }
    }
    fn exit(pid: i32) -> RunEvent {
        let role = if Pid(pid) == ROOT { ProcessRole::Main } else { ProcessRole::Child };
        RunEvent::ProcessExited { pid: Pid(pid), role, exit: ExitInfo { code: 0, signal: None, core_dumped: false } }
    }

    fn watch(events: &[RunEvent]) -> Option<Launcher> {
        let mut w = LauncherWatch::default();
        w.event(&RunEvent::Started { root_pid: ROOT, untraced: None });
        for e in events {
            w.event(e);
        }
        w.finish("/home/u/.pyenv/shims/python3".into())
    }

    #[test]
    fn a_shim_that_runs_helpers_then_execs_the_program() {
        let python = "/home/u/.pyenv/versions/3.11.7/bin/python3.11";
        let events = [
            exec(ROOT.0, "/usr/bin/env"),
            exec(ROOT.0, "/usr/bin/bash"),
            fork(101, ROOT.0),
            fork(102, 101),
            exec(102, "/usr/bin/readlink"),
            exit(102),
            exit(101),
            fork(103, ROOT.0),
            exit(103),
            exec(ROOT.0, python),
            // The program's own children are the program's.
            fork(104, ROOT.0),
            exit(104),
            exit(ROOT.0),
        ];
        let launcher = watch(&events).expect("a launcher");
        assert_eq!(launcher.processes, 3);
        assert_eq!(launcher.became.as_deref(), Some(python));
        assert_eq!(launcher.program, "/home/u/.pyenv/shims/python3");
    }

    #[test]
    fn a_program_that_execs_itself_is_still_the_program() {
        let events = [exec(ROOT.0, "/usr/bin/python3"), fork(101, ROOT.0), exit(101), exec(ROOT.0, "/usr/bin/python3")];
        assert_eq!(watch(&events), None);
    }

    #[test]
    fn a_plain_command_has_no_launcher() {
        assert_eq!(watch(&[exec(ROOT.0, "/usr/bin/python3"), fork(101, ROOT.0), exit(101), exit(ROOT.0)]), None);
        assert_eq!(watch(&[]), None);
    }

    #[test]
    fn env_execs_at_once_and_has_no_helpers() {
        let launcher = watch(&[exec(ROOT.0, "/usr/bin/env"), exec(ROOT.0, "/usr/bin/python3")]).expect("a launcher");
        assert_eq!(launcher.processes, 0);
    }
}
