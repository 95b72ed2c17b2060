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
pub(crate) mod strategies;

/// Cases per property: enough to find a misplaced slice, few enough for a quick suite.
/// `PROPTEST_CASES=20000` searches longer.
pub(crate) fn config() -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256);
    proptest::test_runner::Config { cases, ..proptest::test_runner::Config::default() }
}

/// For properties whose cases write files.
pub(crate) fn fewer() -> proptest::test_runner::Config {
    let config = config();
    proptest::test_runner::Config { cases: (config.cases / 4).max(1), ..config }
}
