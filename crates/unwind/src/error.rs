//! Why a native-stack step failed. These errors stay inside the module: the public API
//! degrades to shorter stacks or frames without names instead of failing.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    #[error("cannot open {0}")]
    Open(PathBuf, #[source] std::io::Error),
    #[error("cannot parse ELF object {0}")]
    Parse(PathBuf, #[source] object::Error),
}
