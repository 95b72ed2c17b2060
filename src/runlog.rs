//! `--log FILE`: an append-only, size-rotated log of the run's events, one line each.
//!
//! Lines read `<RFC 3339 UTC time> <event> key=value ...`, meant for people tailing a CI
//! machine's log (the JSON report is the machine-readable record). Logging must never end a
//! run: I/O errors are counted and reported once, never raised.

mod lines;
#[cfg(test)]
mod tests;

use crate::events::{EventSink, RunEvent};
use crate::model::Report;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use lines::{event_line, finished_line, started_line};

pub struct RunLog {
    path: PathBuf,
    file: Option<File>,
    /// Rotate before a write would take the file past this; 0 never rotates.
    max_size: u64,
    /// Rotated files kept: FILE.1 (newest) to FILE.<keep>.
    keep: u32,
    errors: u64,
}

impl RunLog {
    /// Opens (creating it and its folder if needed) the log for appending.
    pub fn open(path: &Path, max_size: u64, keep: u32) -> io::Result<RunLog> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)?;
        }
        let file = open_append(path)?;
        Ok(RunLog { path: path.to_owned(), file: Some(file), max_size, keep, errors: 0 })
    }

    /// Writes `<time> <text>`, one line (newlines in `text` are escaped).
    pub fn line(&mut self, text: &str) {
        let time = humantime::format_rfc3339_millis(SystemTime::now());
        let entry = format!("{time} {}\n", lines::one_line(text));
        if let Err(err) = self.append(entry.as_bytes()) {
            self.failed(err);
        }
    }

    /// The first lines of a run: the command, then one line per setting applied
    /// (`ChildEnv::describe`).
    pub fn run_started(&mut self, command: &[String], settings: &[String]) {
        let cwd = std::env::current_dir().ok();
        self.line(&started_line(command, cwd.as_deref(), std::process::id()));
        for setting in settings {
            self.line(&format!("setting {setting}"));
        }
    }

    /// The last line of a run: outcome, exit code, duration, peak memory.
    pub fn run_finished(&mut self, report: &Report) {
        self.line(&finished_line(report));
    }

    /// How many writes failed.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn append(&mut self, entry: &[u8]) -> io::Result<()> {
        let max_size = self.max_size;
        let size = self.current_file()?.metadata()?.len();
        if max_size > 0 && size > 0 && size + entry.len() as u64 > max_size {
            self.rotate()?;
        }
        // One write of the whole line on an O_APPEND file: runs sharing a log never
        // interleave within a line.
        self.current_file()?.write_all(entry)
    }

    /// Our open file, reopened when the path no longer names it: another faultline run
    /// sharing the log rotated it, or someone deleted it.
    fn current_file(&mut self) -> io::Result<&File> {
        let stale = match (&self.file, fs::metadata(&self.path)) {
            (Some(file), Ok(on_disk)) => {
                let ours = file.metadata()?;
                (ours.dev(), ours.ino()) != (on_disk.dev(), on_disk.ino())
            }
            _ => true,
        };
        if stale {
            self.file = None;
            self.file = Some(open_append(&self.path)?);
        }
        self.file.as_ref().ok_or_else(|| io::Error::other("log file not open"))
    }

    /// FILE → FILE.1 → … → FILE.<keep>; the oldest is dropped.
    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        if self.keep == 0 {
            return File::create(&self.path).map(drop);
        }
        ignore_missing(fs::remove_file(self.numbered(self.keep)))?;
        for n in (1..self.keep).rev() {
            ignore_missing(fs::rename(self.numbered(n), self.numbered(n + 1)))?;
        }
        ignore_missing(fs::rename(&self.path, self.numbered(1)))
    }

    fn numbered(&self, n: u32) -> PathBuf {
        let mut name = OsString::from(self.path.as_os_str());
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn failed(&mut self, err: io::Error) {
        self.errors += 1;
        if self.errors == 1 {
            // The run goes on; one line is enough to say the log is incomplete.
            crate::say!(
                "faultline: warning: cannot write the log {}: {err} (further log errors are not shown)",
                self.path.display()
            );
        }
    }
}

impl EventSink for RunLog {
    fn event(&mut self, event: RunEvent) {
        self.line(&event_line(&event));
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn ignore_missing(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}
