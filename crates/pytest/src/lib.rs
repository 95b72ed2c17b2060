//! faultline and pytest.
//!
//! Every pytest that `faultline run` supervises loads faultline's small pytest plugin
//! (`python/faultline/_channel.py`, embedded here) and writes what pytest knows to a private
//! folder: the collected tests, each test's start and outcomes. From that:
//!
//! - [`channel`]: the folder, the plugin file and the command's environment that loads it;
//! - [`log`]: reading what one process wrote;
//! - [`progress`]: a crashed process's breadcrumbs (what passed before, the last tests);
//! - [`suite`]: every test of a `--keep-going` run over its restarts, and pytest's words for it;
//! - [`selection`]: the file that tells a pytest which tests to run, in which order;
//! - [`ddmin`]: delta debugging, for `faultline bisect`.

pub mod channel;
pub mod ddmin;
pub mod log;
pub mod progress;
pub mod selection;
pub mod suite;

pub use channel::Channel;
pub use log::ProcessLog;
