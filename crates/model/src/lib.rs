//! The run model: the report contract (`../shared/report-schema.json`) as Rust types, the
//! evidence a capture holds, the events of a run, signals and units, and the text safety
//! every report goes through (redaction, terminal escaping, faultline's own stderr lines).
//!
//! Plain data and pure functions: no process control, no /proc, no I/O besides `say!`.

pub mod capture;
pub mod console;
pub mod escape;
pub mod events;
/// Hand-built captures and property-test generators for every crate's tests.
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod model;
pub mod read;
pub mod redact;
pub mod signals;
pub mod style;
pub mod texts;
pub mod units;
