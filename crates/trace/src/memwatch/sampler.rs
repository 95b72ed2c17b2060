//! Reading one process's resident memory and command line from `/proc`. The parsers are
//! pure; [`ProcReader`] reuses its buffers so a sample of a big tree allocates nothing.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Read;

/// Resident pages from the text of `/proc/<pid>/statm` (`size resident shared ...`).
pub fn parse_statm_rss_pages(text: &str) -> Option<u64> {
    text.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// `argv` from `/proc/<pid>/cmdline`: NUL-separated, with a trailing NUL.
pub fn parse_cmdline(bytes: &[u8]) -> Vec<String> {
    let bytes = bytes.strip_suffix(b"\0").unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes.split(|&b| b == 0).map(|arg| String::from_utf8_lossy(arg).into_owned()).collect()
}

pub(crate) fn page_size() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as u64
    } else {
        4096
    }
}

pub(crate) struct ProcReader {
    page_size: u64,
    path: String,
    buf: Vec<u8>,
}

impl ProcReader {
    pub(crate) fn new() -> ProcReader {
        ProcReader { page_size: page_size(), path: String::with_capacity(32), buf: Vec::with_capacity(256) }
    }

    /// The process's resident memory, or `None` when it is gone (or not ours to read).
    pub(crate) fn rss_bytes(&mut self, pid: i32) -> Option<u64> {
        self.read(pid, "statm").ok()?;
        let text = std::str::from_utf8(&self.buf).ok()?;
        parse_statm_rss_pages(text).map(|pages| pages.saturating_mul(self.page_size))
    }

    /// The process's command line; empty when it is gone or a kernel thread.
    pub(crate) fn argv(&mut self, pid: i32) -> Vec<String> {
        match self.read(pid, "cmdline") {
            Ok(()) => parse_cmdline(&self.buf),
            Err(_) => Vec::new(),
        }
    }

    fn read(&mut self, pid: i32, file: &str) -> std::io::Result<()> {
        self.path.clear();
        // Writing to a String cannot fail.
        let _ = write!(self.path, "/proc/{pid}/{file}");
        self.buf.clear();
        File::open(&self.path)?.read_to_end(&mut self.buf)?;
        Ok(())
    }
}
