//! Fresh ids: request ids, extension ids, event ids and trace ids are random
//! bytes, asked 256 at a time from a [`RandomSource`] so that an invoke
//! rarely costs a system call for its ids.
//!
//! This crate holds types and makes no system call itself: the binary hands
//! [`check_random_source`] the source once at start (rapid's is the kernel's
//! getrandom(2), in `rapid::supervisor`, which needs no `/dev/urandom` and
//! works the same in a static binary), and refuses to start when it fails.
//! After one successful call the kernel's pool is initialized, and from then
//! on getrandom(2) returns every byte of a request of up to 256 bytes
//! without being interrupted, so the ids below never wait and never fail on
//! a request path. Should the source fail anyway (a seccomp filter
//! installed later), or where none was installed (a library or a test that
//! never called the check), the bytes come from a per-process generator:
//! the ids stay unique, nothing panics.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use uuid::Uuid;

/// Fills the buffer with random bytes, or says why it cannot.
pub type RandomSource = fn(&mut [u8]) -> io::Result<()>;

/// The source [`check_random_source`] was given.
static SOURCE: OnceLock<RandomSource> = OnceLock::new();
/// Seed of the fallback generator: from the source at the check, else from
/// the standard library's per-process hash keys (random, from the OS).
static SEED: OnceLock<u64> = OnceLock::new();
/// Draws of the fallback generator.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Reads random bytes once from `source`, as every id will, and keeps it
/// as the source of every id: the error says why rapid cannot make ids
/// here. The first source given stays.
pub fn check_random_source(source: RandomSource) -> io::Result<()> {
    let mut seed = [0u8; 8];
    source(&mut seed)?;
    let _ = SEED.set(u64::from_ne_bytes(seed));
    let _ = SOURCE.set(source);
    Ok(())
}

/// A random (version 4) UUID, as Lambda's request and extension ids are.
pub fn new_uuid() -> Uuid {
    uuid::Builder::from_random_bytes(random_bytes()).into_uuid()
}

/// Bytes asked from the source at a time: an invoke takes 36 (its request
/// id and a trace id), so one system call serves several invokes.
const POOL: usize = 256;

thread_local! {
    /// Random bytes from the source not handed out yet: `(bytes, how many are used)`.
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

/// Fills `buf` from the source, or from the fallback generator.
fn fill(buf: &mut [u8]) {
    let filled = SOURCE.get().is_some_and(|source| source(buf).is_ok());
    if !filled {
        fill_from_fallback(buf);
    }
}

fn seed() -> u64 {
    *SEED
        .get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(std::process::id()))
}

/// SplitMix64 over the seed and a counter: distinct draws give distinct
/// outputs (it is a bijection of the counter), so the ids stay unique.
fn fill_from_fallback(buf: &mut [u8]) {
    for chunk in buf.chunks_mut(8) {
        let draw = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut z = seed().wrapping_add(draw.wrapping_mul(0x9e37_79b9_7f4a_7c15));
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
    use std::io::Read;

    /// The OS's random bytes through the standard library, as a test's
    /// source (rapid's own, the system call, is tested in rapid).
    fn urandom(buf: &mut [u8]) -> io::Result<()> {
        std::fs::File::open("/dev/urandom")?.read_exact(buf)
    }

    fn failing(_: &mut [u8]) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(38))
    }

    #[test]
    fn uuids_are_version_4_and_distinct() {
        check_random_source(urandom).unwrap();
        let ids: HashSet<Uuid> = (0..1000).map(|_| new_uuid()).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids {
            assert_eq!(id.get_version_num(), 4, "{id}");
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122, "{id}");
        }
    }

    #[test]
    fn a_source_that_fails_is_reported_at_the_check() {
        let err = check_random_source(failing).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(38));
    }

    #[test]
    fn random_bytes_are_not_constant() {
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
