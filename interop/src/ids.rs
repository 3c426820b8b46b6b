//! Fresh ids: request ids, extension ids, event ids and trace ids are random
//! bytes from the kernel's getrandom(2) system call, asked 256 at a time so
//! that an invoke rarely costs a system call for its ids.
//!
//! The system call needs nothing from the filesystem: no `/dev/urandom`
//! (an empty root or a `FROM scratch` image has no `/dev`), and, unlike a
//! `dlsym` lookup of libc's wrapper, it works the same in a static binary.
//! rapid calls [`check_random_source`] once at start and refuses to start
//! when it fails. After one successful call the kernel's pool is
//! initialized, and from then on getrandom(2) returns every byte of a
//! request of up to 256 bytes without being interrupted, so the ids below
//! never wait and never fail on a request path. Should the call fail anyway
//! (a seccomp filter installed later), the bytes come from a per-process
//! generator seeded at the check: the ids stay unique, nothing panics.

use std::cell::RefCell;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use uuid::Uuid;

/// Seed of the fallback generator, set by [`check_random_source`].
static SEED: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
/// Draws of the fallback generator.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Reads random bytes once, as every id will: the error says why rapid
/// cannot make ids here.
pub fn check_random_source() -> io::Result<()> {
    let mut seed = [0u8; 8];
    fill_from_kernel(&mut seed)?;
    SEED.store(u64::from_ne_bytes(seed), Ordering::Relaxed);
    Ok(())
}

/// A random (version 4) UUID, as Lambda's request and extension ids are.
pub fn new_uuid() -> Uuid {
    uuid::Builder::from_random_bytes(random_bytes()).into_uuid()
}

/// Bytes asked from the kernel at a time: an invoke takes 36 (its request
/// id and a trace id), so one system call serves several invokes.
const POOL: usize = 256;

thread_local! {
    /// Kernel random bytes not handed out yet: `(bytes, how many are used)`.
    static POOLED: RefCell<([u8; POOL], usize)> = const { RefCell::new(([0; POOL], POOL)) };
}

/// `N` random bytes (`N` up to 256), from a pool refilled by one system
/// call when it runs out. Each byte is handed out once.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if N > POOL {
        fill(&mut bytes);
        return bytes;
    }
    POOLED.with_borrow_mut(|(pool, used)| {
        if POOL - *used < N {
            fill(pool);
            *used = 0;
        }
        bytes.copy_from_slice(&pool[*used..*used + N]);
        *used += N;
    });
    bytes
}

/// Fills `buf` from the kernel, or from the fallback generator.
fn fill(buf: &mut [u8]) {
    if fill_from_kernel(buf).is_err() {
        fill_from_fallback(buf);
    }
}

fn fill_from_kernel(buf: &mut [u8]) -> io::Result<()> {
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

/// SplitMix64 over the seed and a counter: distinct draws give distinct
/// outputs (it is a bijection of the counter), so the ids stay unique.
fn fill_from_fallback(buf: &mut [u8]) {
    for chunk in buf.chunks_mut(8) {
        let draw = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut z = SEED
            .load(Ordering::Relaxed)
            .wrapping_add(draw.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_ne_bytes()[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn uuids_are_version_4_and_distinct() {
        check_random_source().unwrap();
        let ids: HashSet<Uuid> = (0..1000).map(|_| new_uuid()).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids {
            assert_eq!(id.get_version_num(), 4, "{id}");
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122, "{id}");
        }
    }

    #[test]
    fn kernel_bytes_are_not_constant() {
        let a: [u8; 32] = random_bytes();
        let b: [u8; 32] = random_bytes();
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
    }

    #[test]
    fn the_pool_hands_out_each_byte_once_and_refills() {
        // More draws than one pool holds: every 36-byte draw is distinct.
        let draws: HashSet<[u8; 36]> = (0..100).map(|_| random_bytes()).collect();
        assert_eq!(draws.len(), 100);
    }

    #[test]
    fn fallback_draws_are_distinct() {
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            let mut bytes = [0u8; 16];
            fill_from_fallback(&mut bytes);
            assert!(seen.insert(bytes), "repeated draw {bytes:?}");
        }
    }
}
