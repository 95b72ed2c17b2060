//! faultline: run a command under ptrace and explain every native crash in its process tree.
//!
//! Data flows one way: `trace` (the supervisor) → `native` and `python` (stacks) →
//! `diagnose` (what it means) → `model` (the report) → `report` and `html` (what people read).

pub mod capture;
#[cfg(target_os = "linux")]
pub mod childenv;
pub mod console;
pub mod diagnose;
pub mod doctor;
pub mod escape;
pub mod events;
pub mod html;
pub mod memory;
pub mod memwatch;
pub mod model;
pub mod native;
pub mod process_globals;
#[cfg(test)]
mod properties;
pub mod python;
pub mod recorder;
pub mod redact;
pub mod report;
pub mod runlog;
pub mod settings;
pub mod signals;
pub mod store;
pub mod stress;
#[cfg(target_os = "linux")]
pub mod supervised;
pub mod system;
pub mod texts;
#[cfg(target_os = "linux")]
pub mod trace;
pub mod units;
