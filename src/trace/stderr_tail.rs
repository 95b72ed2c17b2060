//! Keeping the tail of what the tree wrote to stderr.
//!
//! Some fatal messages exist only there (CPython's `Fatal Python error: …`, Qt's qFatal,
//! a Rust panic, `terminate called after throwing…`). How we keep them depends on what
//! stderr is, so that the command sees the same kind of stderr it would have had:
//! - a terminal: left alone (the person sees the message; isatty must stay true);
//! - a regular file: left alone, and its last bytes are read back at the crash;
//! - a pipe, socket or other device: the command gets a pipe of ours, and a thread copies
//!   everything to the real stderr as it arrives, keeping the last few KiB. When stdout is
//!   the same pipe as stderr (`2>&1`), stdout goes through the same pipe so that the order
//!   of the two is kept.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How much of the end of stderr to keep.
const KEEP_BYTES: usize = 16 * 1024;
/// How many lines a crash report shows.
const TAIL_LINES: usize = 20;
/// After a read that did not fill the buffer, the copier waits this long before reading
/// again. A writer whose reader is not blocked in read() pays no wakeup, so a program that
/// flushes thousands of tiny writes (pytest's progress dots) costs ~100 wakeups a second
/// instead of one per write. Output reaches the real stderr at most this much later.
const BATCH_PAUSE: Duration = Duration::from_millis(10);
/// Room for BATCH_PAUSE worth of fast output without blocking the writer.
const PIPE_SIZE: libc::c_int = 1 << 20;

pub enum StderrTail {
    /// stderr is a terminal (or unusable): nothing is kept.
    Off,
    /// stderr is a regular file: read its end when asked.
    File,
    /// stderr goes through our pipe.
    Tee(Tee),
}

pub struct Tee {
    /// Our read end; kept to ask how much is still unread.
    read_fd: RawFd,
    /// The write end the child gets as its fd 2 (and fd 1 when they were one).
    write_end: Option<OwnedFd>,
    also_stdout: bool,
    kept: Arc<Mutex<VecDeque<u8>>>,
    copier: Option<JoinHandle<()>>,
}

impl StderrTail {
    /// Decides how to keep stderr, from what our own fd 2 is.
    pub fn setup() -> StderrTail {
        let Some(err) = fd_identity(2) else {
            return StderrTail::Off;
        };
        // SAFETY: isatty on a valid descriptor number.
        if unsafe { libc::isatty(2) } == 1 {
            return StderrTail::Off;
        }
        if err.mode & libc::S_IFMT == libc::S_IFREG {
            return StderrTail::File;
        }
        let also_stdout = fd_identity(1).is_some_and(|out| out.same_object(&err));
        match Tee::start(also_stdout) {
            Some(tee) => StderrTail::Tee(tee),
            None => StderrTail::Off,
        }
    }

    /// The descriptors the child must `dup2` onto 1 and 2 before exec, if any.
    pub fn child_redirect(&self) -> Option<(RawFd, bool)> {
        match self {
            StderrTail::Tee(tee) => tee.write_end.as_ref().map(|fd| (fd.as_raw_fd(), tee.also_stdout)),
            _ => None,
        }
    }

    /// Called once the child has started: our copy of the write end must close, or the
    /// copier would never see end-of-file.
    pub fn child_started(&mut self) {
        if let StderrTail::Tee(tee) = self {
            tee.write_end = None;
        }
    }

    /// The last lines written so far. For the pipe, what is already in it is read first.
    pub fn last_lines(&self) -> Vec<String> {
        match self {
            StderrTail::Off => Vec::new(),
            StderrTail::File => file_tail(),
            StderrTail::Tee(tee) => {
                tee.wait_drained(Duration::from_millis(50));
                let kept = tee.kept.lock().map(|k| k.iter().copied().collect::<Vec<u8>>()).unwrap_or_default();
                last_lines_of(&kept, TAIL_LINES)
            }
        }
    }

    /// Waits (briefly) until everything the tree wrote has reached the real stderr, so our
    /// report comes after it. Descendants that outlive the root may hold the pipe open.
    pub fn finish(&mut self, patience: Duration) {
        if let StderrTail::Tee(tee) = self {
            tee.write_end = None;
            let deadline = Instant::now() + patience;
            while tee.copier.as_ref().is_some_and(|c| !c.is_finished()) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            if let Some(copier) = tee.copier.take() {
                if copier.is_finished() {
                    let _ = copier.join();
                }
            }
        }
    }
}

impl Tee {
    fn start(also_stdout: bool) -> Option<Tee> {
        let mut fds = [0; 2];
        // SAFETY: fds is a valid two-element array. Both ends close on exec; the child
        // dup2s the write end onto 2, which clears the flag on the copy.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return None;
        }
        // SAFETY: resizing a pipe we own; failure (a lower system limit) leaves the default.
        unsafe { libc::fcntl(fds[1], libc::F_SETPIPE_SZ, PIPE_SIZE) };
        // SAFETY: fresh descriptors we own.
        let (read_end, write_end) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let kept = Arc::new(Mutex::new(VecDeque::with_capacity(KEEP_BYTES)));
        let read_fd = read_end.as_raw_fd();
        let shared = Arc::clone(&kept);
        let copier = std::thread::Builder::new()
            .name("stderr-tail".into())
            .spawn(move || copy_and_keep(read_end, shared))
            .ok()?;
        Some(Tee { read_fd, write_end: Some(write_end), also_stdout, kept, copier: Some(copier) })
    }

    fn wait_drained(&self, patience: Duration) {
        let deadline = Instant::now() + patience;
        while unread_bytes(self.read_fd) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
        // The copier may have read the last chunk and not yet stored it.
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Copies the pipe to our real stderr, keeping the last KEEP_BYTES.
fn copy_and_keep(read_end: OwnedFd, kept: Arc<Mutex<VecDeque<u8>>>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: reading into a valid buffer from a descriptor we own.
        let n = unsafe { libc::read(read_end.as_raw_fd(), buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if n == 0 {
            return;
        }
        let chunk = &buf[..n as usize];
        if let Ok(mut kept) = kept.lock() {
            kept.extend(chunk);
            let excess = kept.len().saturating_sub(KEEP_BYTES);
            kept.drain(..excess);
        }
        if !write_all(2, chunk) {
            // The real stderr is gone (its reader closed): stop reading too, so the tree's
            // writes fail the way they would have without us.
            return;
        }
        if (n as usize) < buf.len() {
            std::thread::sleep(BATCH_PAUSE);
        }
    }
}

fn write_all(fd: RawFd, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        // SAFETY: writing from a valid buffer.
        let n = unsafe { libc::write(fd, bytes.as_ptr() as *const libc::c_void, bytes.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        bytes = &bytes[n as usize..];
    }
    true
}

fn unread_bytes(fd: RawFd) -> i32 {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    if unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) } != 0 {
        return 0;
    }
    n
}

/// The end of a regular-file stderr, read through our own descriptor 2.
fn file_tail() -> Vec<String> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open("/proc/self/fd/2") else {
        return Vec::new();
    };
    let Ok(len) = file.seek(SeekFrom::End(0)) else {
        return Vec::new();
    };
    let start = len.saturating_sub(KEEP_BYTES as u64);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    last_lines_of(&bytes, TAIL_LINES)
}

/// The last `count` non-empty lines, lossily decoded, without a partial first line.
pub fn last_lines_of(bytes: &[u8], count: usize) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines: Vec<String> = text.lines().map(|l| l.trim_end().to_owned()).filter(|l| !l.is_empty()).collect();
    if bytes.len() >= KEEP_BYTES && !lines.is_empty() {
        lines.remove(0);
    }
    let skip = lines.len().saturating_sub(count);
    lines.split_off(skip)
}

struct FdIdentity {
    dev: u64,
    ino: u64,
    mode: u32,
}

impl FdIdentity {
    fn same_object(&self, other: &FdIdentity) -> bool {
        self.dev == other.dev && self.ino == other.ino
    }
}

fn fd_identity(fd: RawFd) -> Option<FdIdentity> {
    // SAFETY: stat is plain data filled by fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return None;
    }
    Some(FdIdentity { dev: st.st_dev, ino: st.st_ino, mode: st.st_mode })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines() {
        let text = b"one\ntwo\n\nthree\nFatal Python error: boom\n";
        assert_eq!(last_lines_of(text, 2), vec!["three", "Fatal Python error: boom"]);
        assert_eq!(last_lines_of(text, 10).len(), 4);
    }
}

/// Property test (issue 9, A4): any bytes at all, cut anywhere, give lines without a panic.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(crate::properties::config())]

        #[test]
        fn any_bytes_give_lines(bytes in crate::properties::strategies::bytes(), count in 0usize..30, long in any::<bool>()) {
            // A tail of KEEP_BYTES or more drops its first, partial line.
            let bytes = if long { bytes.repeat(super::KEEP_BYTES / bytes.len().max(1) + 1) } else { bytes };
            let lines = super::last_lines_of(&bytes, count);
            prop_assert!(lines.len() <= count);
        }
    }
}
