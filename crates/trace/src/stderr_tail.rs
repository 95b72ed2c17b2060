//! Keeping the tail of what the tree wrote to stderr.
//!
//! Some fatal messages exist only there (CPython's `Fatal Python error: …`, Qt's qFatal,
//! a Rust panic, `terminate called after throwing…`). How we keep them depends on what
//! stderr is, so that the command sees the same kind of stderr it would have had:
//! - a terminal: left alone (the person sees the message; isatty must stay true);
//! - a regular file: left alone, and the end of what the run wrote to it is read back at
//!   the crash;
//! - a pipe, socket or other device: the command gets a pipe of ours, and a thread copies
//!   everything to the real stderr as it arrives, keeping the last few KiB. When stdout is
//!   the same pipe as stderr (`2>&1`), stdout goes through the same pipe so that the order
//!   of the two is kept. If descendants still hold that pipe when the root has exited, the
//!   copy is handed to a detached relay process (`relay.rs`) so that they keep their stderr
//!   and faultline still exits when the root does.

mod relay;

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How much of the end of stderr to keep.
const KEEP_BYTES: usize = 16 * 1024;
/// How many of the last lines a capture keeps: enough that a runtime's fatal message
/// survives what it prints after it (a Rust backtrace with RUST_BACKTRACE=1, faulthandler's
/// dump of many threads); the report keeps fewer (`faultline_diagnose::REPORTED_STDERR_LINES`).
const TAIL_LINES: usize = 200;
/// After a read that did not fill the buffer, the copier waits this long before reading
/// again. A writer whose reader is not blocked in read() pays no wakeup, so a program that
/// flushes thousands of tiny writes (pytest's progress dots) costs ~100 wakeups a second
/// instead of one per write. Output reaches the real stderr at most this much later.
const BATCH_PAUSE: Duration = Duration::from_millis(10);
/// The most the copier reads at once.
const COPY_BUFFER: usize = 64 * 1024;
/// Room for BATCH_PAUSE worth of fast output without blocking the writer.
const PIPE_SIZE: libc::c_int = 1 << 20;

pub enum StderrTail {
    /// stderr is a terminal (or unusable): nothing is kept.
    Off,
    /// stderr is a regular file: read the run's part of it when asked.
    File(FileStart),
    /// stderr goes through our pipe.
    Tee(Tee),
}

/// Where the run's output begins in a regular-file stderr, so that what earlier commands
/// wrote to the same file (`2>>build.log` in CI) is not shown as this run's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStart {
    /// Opened with O_APPEND: every write lands at the end, so the run's part ends there.
    /// Otherwise writes land at the shared offset, which is where the run's part ends.
    append: bool,
    /// The size (append) or the offset (otherwise) when the run started.
    at: u64,
}

pub struct Tee {
    /// Our read end (owned by the copier thread); kept to ask how much is still unread.
    read_fd: RawFd,
    /// The write end the child gets as its fd 2 (and fd 1 when they were one).
    write_end: Option<OwnedFd>,
    also_stdout: bool,
    kept: Arc<Mutex<VecDeque<u8>>>,
    /// Dropping it tells the copier thread to stop and give back the read end.
    stop: Option<OwnedFd>,
    /// Returns the read end when it was told to stop, `None` once the copy is over.
    copier: Option<JoinHandle<Option<OwnedFd>>>,
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
            return StderrTail::File(FileStart::of(2, err.size));
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
            StderrTail::File(start) => file_tail(*start),
            StderrTail::Tee(tee) => {
                tee.wait_drained(Duration::from_millis(50));
                let kept = tee.kept.lock().map(|k| k.iter().copied().collect::<Vec<u8>>()).unwrap_or_default();
                last_lines_of(&kept, TAIL_LINES)
            }
        }
    }

    /// Waits (briefly) until everything the tree wrote has reached the real stderr, so our
    /// report comes after it. If descendants that outlive the root still hold the pipe
    /// then, the rest of the copy goes to a detached relay, which starts once faultline
    /// has exited: they keep their stderr, and nothing waits for them.
    /// Says why, when the relay could not take over.
    pub fn finish(&mut self, patience: Duration) -> Option<String> {
        let StderrTail::Tee(tee) = self else { return None };
        tee.write_end = None;
        let deadline = Instant::now() + patience;
        while tee.copier.as_ref().is_some_and(|c| !c.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        // Still running means still held: stop the thread between two copies, so that no
        // byte it read is left unwritten, and give the rest of the pipe to the relay.
        tee.stop = None;
        let copier = tee.copier.take()?;
        let read_end = copier.join().ok()??;
        relay::hand_off(read_end).err().map(|err| err.to_string())
    }
}

impl Tee {
    fn start(also_stdout: bool) -> Option<Tee> {
        // The child dup2s the write end onto 2, which clears close-on-exec on the copy.
        let (read_end, write_end) = pipe().ok()?;
        // SAFETY: resizing a pipe we own; failure (a lower system limit) leaves the default.
        unsafe { libc::fcntl(write_end.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE) };
        let (stop_read, stop) = pipe().ok()?;
        let kept = Arc::new(Mutex::new(VecDeque::with_capacity(KEEP_BYTES)));
        let read_fd = read_end.as_raw_fd();
        let shared = Arc::clone(&kept);
        let copier = std::thread::Builder::new()
            .name("stderr-tail".into())
            .spawn(move || copy_and_keep(read_end, &stop_read, &shared))
            .ok()?;
        Some(Tee { read_fd, write_end: Some(write_end), also_stdout, kept, stop: Some(stop), copier: Some(copier) })
    }

    fn wait_drained(&self, patience: Duration) {
        // Once the copier is done, the read end is closed (and its number may be reused).
        if self.copier.as_ref().is_none_or(|c| c.is_finished()) {
            return;
        }
        let deadline = Instant::now() + patience;
        while unread_bytes(self.read_fd) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
        // The copier may have read the last chunk and not yet stored it.
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Copies the pipe to our real stderr, keeping the last KEEP_BYTES, until end-of-file or
/// until `stop` is closed. Then it copies what was already written, so that it comes before
/// faultline's report, and returns the read end for the copy to go on elsewhere.
fn copy_and_keep(read_end: OwnedFd, stop: &OwnedFd, kept: &Mutex<VecDeque<u8>>) -> Option<OwnedFd> {
    let fd = read_end.as_raw_fd();
    let mut buf = vec![0u8; COPY_BUFFER];
    loop {
        if wait_readable(fd, stop.as_raw_fd(), None) == Wake::Stop {
            break;
        }
        let n = copy_once(fd, &mut buf, kept, COPY_BUFFER).ok()?;
        if n < COPY_BUFFER && wait_readable(-1, stop.as_raw_fd(), Some(BATCH_PAUSE)) == Wake::Stop {
            break;
        }
    }
    // Only what is there now: a writer that never pauses must not keep us here.
    let mut pending = usize::try_from(unread_bytes(fd)).unwrap_or(0);
    while pending > 0 {
        pending -= copy_once(fd, &mut buf, kept, pending).ok()?.min(pending);
    }
    Some(read_end)
}

/// Why the copy is over.
struct CopyOver;

/// One read of at most `limit` bytes, kept and written to the real stderr; the count read.
fn copy_once(fd: RawFd, buf: &mut [u8], kept: &Mutex<VecDeque<u8>>, limit: usize) -> Result<usize, CopyOver> {
    let n = loop {
        let limit = limit.min(buf.len());
        // SAFETY: reading into a valid buffer of at least `limit` bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, limit) };
        if n >= 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            break n;
        }
    };
    if n <= 0 {
        // End-of-file: every writer is gone (or the pipe broke).
        return Err(CopyOver);
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
        return Err(CopyOver);
    }
    Ok(n as usize)
}

#[derive(Debug, PartialEq, Eq)]
enum Wake {
    /// `data` is readable (or at end-of-file), or the wait timed out.
    Data,
    /// `stop` was closed.
    Stop,
}

/// Sleeps until `data` (ignored when negative) has something or `stop` is closed, or for
/// at most `timeout`. A stop wins over data.
fn wait_readable(data: RawFd, stop: RawFd, timeout: Option<Duration>) -> Wake {
    let mut fds = [
        libc::pollfd { fd: stop, events: libc::POLLIN, revents: 0 },
        libc::pollfd { fd: data, events: libc::POLLIN, revents: 0 },
    ];
    let timeout = timeout.map_or(-1, |t| t.as_millis() as libc::c_int);
    loop {
        // SAFETY: polling two valid pollfd entries (a negative fd is skipped by poll).
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
        if ready < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        return if ready > 0 && fds[0].revents != 0 { Wake::Stop } else { Wake::Data };
    }
}

/// A pipe whose both ends close on exec: (read end, write end).
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
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

impl FileStart {
    /// Where the run begins in the regular file open as `fd`, of `size` bytes now.
    fn of(fd: RawFd, size: u64) -> FileStart {
        // SAFETY: fcntl and lseek on a descriptor number; failure is handled.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        let append = flags >= 0 && flags & libc::O_APPEND != 0;
        let at = if append { size } else { current_offset(fd).unwrap_or(size) };
        FileStart { append, at }
    }

    /// The byte range the run has written so far, in a file of `size` bytes whose
    /// descriptor is at `offset` now: from the start to where writes land. A file
    /// truncated or rewound since (log rotation) is read from its beginning.
    fn written_range(&self, size: u64, offset: Option<u64>) -> (u64, u64) {
        let end = if self.append { size } else { offset.unwrap_or(size).min(size) };
        let start = if end < self.at { 0 } else { self.at };
        (start, end)
    }
}

fn current_offset(fd: RawFd) -> Option<u64> {
    // SAFETY: lseek on a descriptor number, moving nothing.
    let offset = unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) };
    u64::try_from(offset).ok()
}

/// The end of the run's part of a regular-file stderr, read through our own descriptor 2.
fn file_tail(start: FileStart) -> Vec<String> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open("/proc/self/fd/2") else {
        return Vec::new();
    };
    let Ok(size) = file.seek(SeekFrom::End(0)) else {
        return Vec::new();
    };
    let (start, end) = start.written_range(size, current_offset(2));
    let from = start.max(end.saturating_sub(KEEP_BYTES as u64));
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(from)).is_err() || file.take(end - from).read_to_end(&mut bytes).is_err() {
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
    size: u64,
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
    Some(FdIdentity { dev: st.st_dev, ino: st.st_ino, mode: st.st_mode, size: u64::try_from(st.st_size).unwrap_or(0) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_from_where_the_run_began() {
        // `2>>build.log`: 100 bytes of earlier steps, the run appended 30.
        let appended = FileStart { append: true, at: 100 };
        assert_eq!(appended.written_range(130, Some(0)), (100, 130));
        // `(echo old >&2; faultline …) 2>err.log`: the run writes at the shared offset, and
        // what lies beyond it is not the run's.
        let positioned = FileStart { append: false, at: 4 };
        assert_eq!(positioned.written_range(50, Some(20)), (4, 20));
        assert_eq!(positioned.written_range(50, None), (4, 50));
        // Truncated (or rewound) during the run: all of what is there now.
        assert_eq!(appended.written_range(30, None), (0, 30));
        assert_eq!(positioned.written_range(10, Some(2)), (0, 2));
    }

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
        #![proptest_config(faultline_model::fixtures::config())]

        #[test]
        fn any_bytes_give_lines(bytes in faultline_model::fixtures::strategies::bytes(), count in 0usize..30, long in any::<bool>()) {
            // A tail of KEEP_BYTES or more drops its first, partial line.
            let bytes = if long { bytes.repeat(super::KEEP_BYTES / bytes.len().max(1) + 1) } else { bytes };
            let lines = super::last_lines_of(&bytes, count);
            prop_assert!(lines.len() <= count);
        }
    }
}
