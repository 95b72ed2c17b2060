//! What the terminal report and the HTML report both need, in one place: path shortening
//! and frame text (`text`), stack folding (`stack`), thread grouping (`threads`), the words
//! about a crash (`crash`) and a stopped tree (`snapshot`), the stderr tail (`stderr`), the
//! summary line (`summary`); colours are `faultline_model::style`. Neither renderer reaches into the other.

pub(crate) mod crash;
pub(crate) mod snapshot;
pub(crate) mod stack;
pub(crate) mod stderr;
pub(crate) mod summary;
pub(crate) mod text;
pub(crate) mod threads;
