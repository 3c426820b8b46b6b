//! The HTTP prelude of a streamed answer: JSON (`statusCode`, `headers`,
//! `cookies`), then eight NUL bytes, then the body. The runtime may write
//! the prelude in as many pieces as it likes, so the delimiter is found by
//! scanning the bytes, wherever the chunk boundaries fall.

use bytes::{Bytes, BytesMut};

/// What ends the prelude.
pub const PRELUDE_DELIMITER: [u8; 8] = [0; 8];

/// The longest prelude read before the stream is refused: the JSON of a
/// status and headers, far under Lambda's limit on response headers.
pub const MAX_PRELUDE: usize = 64 * 1024;

/// Gathers a stream's first chunks until its prelude is complete.
#[derive(Debug, Default)]
pub struct PreludeScan {
    seen: BytesMut,
    /// Bytes of `seen` already searched (less the delimiter's length, so a
    /// delimiter split over two chunks is found).
    searched: usize,
}

/// What the chunks so far hold.
#[derive(Debug, PartialEq)]
pub enum PreludeSplit {
    /// The prelude goes on in the next chunk.
    More,
    /// The prelude's JSON, and the first bytes of the body (maybe none).
    Found { prelude: Bytes, body: Bytes },
    /// No delimiter in the first [`MAX_PRELUDE`] bytes.
    TooLong,
}

impl PreludeScan {
    /// Takes the stream's next chunk.
    pub fn push(&mut self, chunk: &[u8]) -> PreludeSplit {
        self.seen.extend_from_slice(chunk);
        let from = self.searched.saturating_sub(PRELUDE_DELIMITER.len() - 1);
        match memchr::memmem::find(&self.seen[from..], &PRELUDE_DELIMITER) {
            Some(at) => {
                let mut seen = std::mem::take(&mut self.seen);
                let body = seen.split_off(from + at + PRELUDE_DELIMITER.len());
                seen.truncate(from + at);
                PreludeSplit::Found {
                    prelude: seen.freeze(),
                    body: body.freeze(),
                }
            }
            None if self.seen.len() > MAX_PRELUDE => PreludeSplit::TooLong,
            None => {
                self.searched = self.seen.len();
                PreludeSplit::More
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_at_every_byte(stream: &[u8]) {
        let mut scan = PreludeScan::default();
        let mut found = None;
        for byte in stream.chunks(1) {
            if let PreludeSplit::Found { prelude, body } = scan.push(byte) {
                found = Some((prelude, body));
                break;
            }
        }
        let (prelude, body) = found.expect("the delimiter is found");
        assert_eq!(&prelude[..], br#"{"statusCode":201}"#);
        assert!(body.is_empty());
    }

    #[test]
    fn a_prelude_written_a_byte_at_a_time() {
        split_at_every_byte(b"{\"statusCode\":201}\0\0\0\0\0\0\0\0");
    }

    #[test]
    fn the_delimiter_split_over_every_boundary() {
        let stream = b"{\"statusCode\":200}\0\0\0\0\0\0\0\0body\0bytes";
        for cut in 0..stream.len() {
            let mut scan = PreludeScan::default();
            let (first, second) = stream.split_at(cut);
            // When the first chunk holds the whole delimiter, the second is
            // the caller's to forward as it is.
            let (split, forwarded) = match scan.push(first) {
                PreludeSplit::More => (scan.push(second), &[][..]),
                found => (found, second),
            };
            let PreludeSplit::Found { prelude, body } = split else {
                panic!("cut at {cut}: {split:?}");
            };
            assert_eq!(&prelude[..], br#"{"statusCode":200}"#, "cut at {cut}");
            let mut all = body.to_vec();
            all.extend_from_slice(forwarded);
            assert_eq!(&all[..], b"body\0bytes", "cut at {cut}");
        }
    }

    #[test]
    fn nul_bytes_in_the_body_are_the_body_s() {
        let mut scan = PreludeScan::default();
        let split = scan.push(b"{}\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        assert_eq!(
            split,
            PreludeSplit::Found {
                prelude: Bytes::from_static(b"{}"),
                body: Bytes::from_static(&[0; 9]),
            }
        );
    }

    #[test]
    fn a_stream_without_delimiter_is_refused_past_the_bound() {
        let mut scan = PreludeScan::default();
        let chunk = [b' '; 4096];
        let mut pushed = 0;
        loop {
            match scan.push(&chunk) {
                PreludeSplit::More => pushed += chunk.len(),
                PreludeSplit::TooLong => break,
                found => panic!("{found:?}"),
            }
            assert!(pushed <= MAX_PRELUDE, "refused within the bound");
        }
    }
}
