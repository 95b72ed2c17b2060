//! The live processes of the tree, shared between the supervisor (which knows them) and
//! the signal forwarder thread (which must reach all of them).

use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct TreeMembers {
    pids: Arc<Mutex<Vec<i32>>>,
}

impl TreeMembers {
    pub fn set(&self, pids: Vec<i32>) {
        if let Ok(mut current) = self.pids.lock() {
            *current = pids;
        }
    }

    pub fn get(&self) -> Vec<i32> {
        self.pids.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Sends `signal` to every live process of the tree.
    pub fn signal_all(&self, signal: i32) {
        for pid in self.get() {
            // SAFETY: signalling processes faultline started and supervises.
            unsafe { libc::kill(pid, signal) };
        }
    }
}
