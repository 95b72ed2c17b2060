//! Stack memory for the unwinder, read in a few bulk reads instead of one syscall per word.
//!
//! The thread is held stopped while we unwind, so every syscall counts. The region from the
//! stack pointer to the end of its mapping is read lazily in growing chunks; words outside
//! it (a signal's alternate stack, garbage frame pointers) fall back to single reads.

use crate::memory::ReadMemory;

/// First bulk read; most stacks at a crash are shallower than this.
const FIRST_CHUNK: u64 = 64 * 1024;
/// Never buffer more than this, whatever the mapping size.
pub const MAX_STACK_BYTES: u64 = 16 * 1024 * 1024;

pub struct StackReader<'m> {
    mem: &'m dyn ReadMemory,
    /// Address of `buf[0]`.
    base: u64,
    /// Borrowed from the caller and reused across walks: fresh pages for every walk
    /// would cost a page fault per 4 KiB, more than the copy itself.
    buf: &'m mut Vec<u8>,
    /// End of the region we may buffer (exclusive).
    limit: u64,
    /// Reads that missed the buffer, for measurements and tests.
    pub fallback_reads: usize,
}

impl<'m> StackReader<'m> {
    /// A reader with no bulk region yet: every read goes to memory until [`rebase`].
    ///
    /// [`rebase`]: StackReader::rebase
    pub fn new(mem: &'m dyn ReadMemory, buf: &'m mut Vec<u8>) -> StackReader<'m> {
        buf.clear();
        StackReader { mem, base: 0, buf, limit: 0, fallback_reads: 0 }
    }

    /// Sets the region to buffer, `(base, limit)`; `base` is usually the stack pointer and
    /// `limit` the end of its mapping. Called again after a signal frame that ran on an
    /// alternate signal stack; `None` drops the region.
    pub fn rebase(&mut self, region: Option<(u64, u64)>) {
        let (base, limit) = region.unwrap_or((0, 0));
        self.base = base & !7;
        self.limit = limit.min(self.base.saturating_add(MAX_STACK_BYTES));
        self.buf.clear();
    }

    /// `address` is inside the region this reader buffers.
    pub fn covers(&self, address: u64) -> bool {
        self.base <= address && address < self.limit
    }

    pub fn read_u64(&mut self, address: u64) -> Result<u64, ()> {
        if address >= self.base && address.saturating_add(8) <= self.limit {
            let end = address + 8;
            if end > self.buffered_end() {
                self.grow(end);
            }
            if end <= self.buffered_end() {
                let at = (address - self.base) as usize;
                let mut word = [0u8; 8];
                word.copy_from_slice(&self.buf[at..at + 8]);
                return Ok(u64::from_le_bytes(word));
            }
        }
        self.fallback_reads += 1;
        self.mem.read_u64(address).map_err(|_| ())
    }

    fn buffered_end(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    /// Extends the buffer to cover at least `needed`, by half again its size: few reads,
    /// little read past what the walk needs. On a failed read the buffer stays as it was
    /// and callers fall back to single reads.
    fn grow(&mut self, needed: u64) {
        let have = self.buf.len();
        let want = (have as u64 + have as u64 / 2).max(FIRST_CHUNK).max(needed - self.base);
        let new_end = self.base.saturating_add(want).min(self.limit);
        let from = self.buffered_end();
        if new_end <= from {
            return;
        }
        self.buf.resize(have + (new_end - from) as usize, 0);
        if self.mem.read_exact_at(from, &mut self.buf[have..]).is_err() {
            self.buf.truncate(have);
            // Stop trying bulk reads past this point.
            self.limit = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::BufferMemory;

    fn memory() -> BufferMemory {
        let bytes = (0..1024u64).flat_map(|i| (0x1000 + i * 8).to_le_bytes()).collect();
        BufferMemory { base: 0x1000, bytes }
    }

    #[test]
    fn serves_words_from_the_bulk_buffer() {
        let mem = memory();
        let mut buf = Vec::new();
        let mut reader = StackReader::new(&mem, &mut buf);
        reader.rebase(Some((0x1100, 0x1000 + 8192)));
        assert_eq!(reader.read_u64(0x1100), Ok(0x1100));
        assert_eq!(reader.read_u64(0x1ff8), Ok(0x1ff8));
        assert_eq!(reader.fallback_reads, 0);
        // Below the stack pointer: a single read.
        assert_eq!(reader.read_u64(0x1008), Ok(0x1008));
        assert_eq!(reader.fallback_reads, 1);
        assert!(reader.read_u64(0x9000).is_err());
    }

    #[test]
    fn a_region_past_readable_memory_falls_back_to_single_reads() {
        let mem = memory();
        let mut buf = Vec::new();
        let mut reader = StackReader::new(&mem, &mut buf);
        reader.rebase(Some((0x1000, 0x100000)));
        assert_eq!(reader.read_u64(0x1010), Ok(0x1010));
        assert_eq!(reader.fallback_reads, 1);
    }
}
