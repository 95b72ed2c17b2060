//! Reading a live process: its memory through one trait ([`memory::ReadMemory`]), its memory
//! map ([`maps`], the one `Mapping` type), the interpreter's globals and environment
//! ([`process_globals`]), and the machine it runs on ([`system`]).

pub mod maps;
pub mod memory;
pub mod process_globals;
pub mod system;

use faultline_model::{capture, model};
