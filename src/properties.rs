//! Property tests: whatever the traced processes wrote (any bytes, any text, any names),
//! the parsers, the diagnosis, the redactor and every renderer return without panicking,
//! and no terminal output carries a control character of theirs (issue 9, A4 and B7).
//!
//! Text is drawn from two sources: arbitrary Unicode, and words made of the fragments the
//! code looks for (`::`, `=`, `Fatal Python error: `, `/site-packages/`, a multi-byte
//! character, an escape sequence), which reach the deep branches arbitrary text never
//! does. Case counts stay modest so that the suite stays fast.

mod parsers;
mod renderers;

pub(crate) use faultline_model::fixtures::{config, fewer, strategies};
