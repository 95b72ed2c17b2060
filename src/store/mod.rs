//! The crash store: every run's report kept, crashes grouped by signature.

mod records;

pub use records::{GroupDetail, GroupSummary, Occurrence, StoredRun};
