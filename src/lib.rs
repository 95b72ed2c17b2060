//! faultline: run a command under ptrace and explain every native crash in its process tree.
//!
//! Data flows one way: `trace` (the supervisor) → `native` and `python` (stacks) →
//! `diagnose` (what it means) → `model` (the report) → `report` (what people read).

pub mod capture;
pub mod memory;
pub mod model;
