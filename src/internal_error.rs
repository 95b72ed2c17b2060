//! faultline's own bugs: a panic prints one line asking for a report, instead of a Rust
//! backtrace in the middle of the user's output, and never costs the command's status.

/// The exit code of a faultline failure that happened before any command status existed.
pub const EXIT_CODE: i32 = 125;

/// Replaces the default panic message with one line. `RUST_BACKTRACE` set keeps the full
/// default message, for whoever debugs faultline.
pub fn install_hook() {
    if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        // Not the panic's message: it can quote text from the traced process (a secret, an
        // escape sequence). The place is enough to find the bug; RUST_BACKTRACE shows all.
        let place = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let thread = std::thread::current().name().unwrap_or("unnamed").to_owned();
        faultline::say!(
            "faultline: internal error{place} (thread {thread}), please report it; run again with RUST_BACKTRACE=1 for details"
        );
    }));
}

/// The environment variable that makes faultline panic at a named point, so that tests can
/// show on a real run that a bug there costs nothing but the report. Values: `report`
/// (after the command ended, while reporting), `event` (while the command runs).
pub const INJECT_PANIC_ENV: &str = "FAULTLINE_INJECT_PANIC";

/// Panics when `INJECT_PANIC_ENV` names `point`.
pub fn panic_if_injected(point: &str) {
    if std::env::var_os(INJECT_PANIC_ENV).is_some_and(|v| v == point) {
        panic!("{INJECT_PANIC_ENV}={point}");
    }
}
