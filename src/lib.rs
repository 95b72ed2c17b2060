//! faultline: run a command under ptrace and explain every native crash in its process tree.
//!
//! Data flows one way: `faultline-trace` (the supervisor) → `faultline-unwind` and
//! `faultline-python` (stacks) → `faultline-diagnose` (what it means) → `faultline-model`
//! (the report) → `faultline-report` (what people read) and `faultline-store`. This crate
//! is the command: its settings, the child's environment, the run session that consumes
//! the tracer's events, the run log. It re-exports the crates' modules under the names
//! they had before the workspace, so `faultline::model::Report` still reads as it did.

#[cfg(target_os = "linux")]
pub mod childenv;
#[cfg(test)]
mod properties;
pub mod recorder;
pub mod runlog;
pub mod settings;
pub mod variants;

pub use faultline_diagnose as diagnose;
pub use faultline_doctor as doctor;
pub use faultline_model::{capture, console, escape, events, model, read, redact, say, signals, texts, units};
pub use faultline_procfs::{maps, memory, process_globals, system};
pub use faultline_pytest as pytest;
pub use faultline_python as python;
pub use faultline_report as report;
pub use faultline_report::html;
pub use faultline_store as store;
pub use faultline_store::stress;
#[cfg(target_os = "linux")]
pub use faultline_trace as trace;
#[cfg(target_os = "linux")]
pub use faultline_trace::{memwatch, supervised};
pub use faultline_unwind as native;
