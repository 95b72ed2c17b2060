//! Reading another process's memory. Every read goes through `ReadMemory`, so code that
//! walks remote data structures can be tested on a byte buffer.

use std::io;

pub trait ReadMemory {
    /// Fills `buf` from `address`, or fails; never returns a partial read.
    fn read_exact_at(&self, address: u64, buf: &mut [u8]) -> io::Result<()>;

    fn read_u64(&self, address: u64) -> io::Result<u64> {
        let mut bytes = [0u8; 8];
        self.read_exact_at(address, &mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn read_u32(&self, address: u64) -> io::Result<u32> {
        let mut bytes = [0u8; 4];
        self.read_exact_at(address, &mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    /// Reads a NUL-terminated string of at most `max` bytes, chunk by chunk so that a
    /// string ending just before an unmapped page still reads.
    fn read_c_string(&self, address: u64, max: usize) -> io::Result<String> {
        const CHUNK: usize = 256;
        let mut out = Vec::new();
        let mut at = address;
        while out.len() < max {
            // Never cross a page boundary in one read: the next page may be unmapped.
            let to_page_end = (4096 - (at % 4096)) as usize;
            let mut chunk = vec![0u8; CHUNK.min(to_page_end).min(max - out.len())];
            self.read_exact_at(at, &mut chunk)?;
            if let Some(nul) = chunk.iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..nul]);
                return Ok(String::from_utf8_lossy(&out).into_owned());
            }
            at += chunk.len() as u64;
            out.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

/// A byte buffer mapped at `base`: the test double for a process.
pub struct BufferMemory {
    pub base: u64,
    pub bytes: Vec<u8>,
}

impl ReadMemory for BufferMemory {
    fn read_exact_at(&self, address: u64, buf: &mut [u8]) -> io::Result<()> {
        let start =
            address.checked_sub(self.base).ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))? as usize;
        let end = start + buf.len();
        let src = self.bytes.get(start..end).ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// Memory of a live process, read with `process_vm_readv`.
#[cfg(target_os = "linux")]
pub struct ProcessMemory {
    pid: nix::unistd::Pid,
}

#[cfg(target_os = "linux")]
impl ProcessMemory {
    pub fn new(pid: i32) -> ProcessMemory {
        ProcessMemory { pid: nix::unistd::Pid::from_raw(pid) }
    }
}

#[cfg(target_os = "linux")]
impl ReadMemory for ProcessMemory {
    fn read_exact_at(&self, address: u64, buf: &mut [u8]) -> io::Result<()> {
        use nix::sys::uio::{process_vm_readv, RemoteIoVec};
        use std::io::IoSliceMut;
        let len = buf.len();
        let remote = [RemoteIoVec { base: address as usize, len }];
        let mut local = [IoSliceMut::new(buf)];
        match process_vm_readv(self.pid, &mut local, &remote) {
            Ok(n) if n == len => Ok(()),
            Ok(_) => Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            Err(errno) => Err(io::Error::from(errno)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_c_string_and_integers_from_a_buffer() {
        let mut bytes = vec![0u8; 4096];
        bytes[0..8].copy_from_slice(&0x1122334455667788u64.to_le_bytes());
        bytes[8..14].copy_from_slice(b"hello\0");
        let mem = BufferMemory { base: 0x1000, bytes };
        assert_eq!(mem.read_u64(0x1000).unwrap(), 0x1122334455667788);
        assert_eq!(mem.read_c_string(0x1008, 100).unwrap(), "hello");
        assert!(mem.read_u64(0x2000).is_err());
    }

    #[test]
    fn c_string_stops_at_max() {
        let mem = BufferMemory { base: 0, bytes: b"abcdefgh".to_vec() };
        assert_eq!(mem.read_c_string(0, 4).unwrap(), "abcd");
    }
}
