//! Random bytes from the kernel, the source of every id
//! (`interop::ids::check_random_source`).
//!
//! The getrandom(2) system call needs nothing from the filesystem: no
//! `/dev/urandom` (an empty root or a `FROM scratch` image has no `/dev`),
//! and, unlike a `dlsym` lookup of libc's wrapper, it works the same in a
//! static binary.

use std::io;

/// Fills `buf` with the kernel's random bytes (getrandom(2), no flags),
/// going on after an interruption.
pub fn kernel_random(buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: the pointer and length describe `rest`, memory we own and
        // may write; getrandom(2) writes at most `rest.len()` bytes there.
        let read = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        match usize::try_from(read) {
            Ok(read) => filled += read,
            Err(_) => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_fills_every_byte_and_never_twice_the_same() {
        // Past the 256 bytes one call is sure to return whole.
        let mut a = [0u8; 600];
        let mut b = [0u8; 600];
        kernel_random(&mut a).unwrap();
        kernel_random(&mut b).unwrap();
        assert_ne!(a, b);
        // 64 zero bytes in a row from a random source would be a bug.
        assert!(a.windows(64).all(|w| w.iter().any(|&x| x != 0)));
        interop::ids::check_random_source(kernel_random).unwrap();
        assert_ne!(interop::ids::new_uuid(), interop::ids::new_uuid());
    }
}
