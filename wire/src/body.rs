//! Reading a request body under a size limit, frame by frame.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

/// A body read under a limit.
#[derive(Debug, PartialEq)]
pub enum LimitedBody {
    /// The whole body, at most `limit` bytes.
    Complete(Bytes),
    /// The body was longer than the limit. Its bytes past the limit were read
    /// and dropped, never kept: all of them when the body ended within
    /// [`drain_allowance`] past the limit (then `size` is its size), else
    /// reading stopped there (`size` is what was read, and the caller's
    /// answer goes out with the rest unread, which closes the connection).
    TooLarge { size: u64 },
}

/// How many bytes past `limit` a body is still read (and dropped) before
/// reading stops: as many as the limit, at least 1 MB. A client that sends
/// a whole body a little over the limit gets its 413 after the upload
/// rather than a connection cut in the middle of it, and an endless body
/// (a hostile or broken client) is answered once this much is read.
pub fn drain_allowance(limit: u64) -> u64 {
    limit.max(1024 * 1024)
}

/// A body this large gets the spare buffer (below).
const LARGE: usize = 1024 * 1024;

thread_local! {
    /// The buffer of the last large body read, kept (as one more reference
    /// to it) so that the next large body reuses it once everyone else has
    /// dropped it: a request payload is written to the runtime and dropped
    /// before the runtime's response arrives, so one buffer serves both,
    /// and invoke after invoke, with no new memory to map and fault in.
    /// A small body gives it back. Per thread: rapid's servers run on one.
    static SPARE: std::cell::RefCell<Option<Bytes>> = const { std::cell::RefCell::new(None) };
}

/// An empty buffer of at least `capacity` bytes: the spare when it is free
/// and large enough.
fn large_buffer(capacity: usize) -> BytesMut {
    let spare = SPARE.with(|spare| spare.borrow_mut().take());
    match spare.map(Bytes::try_into_mut) {
        Some(Ok(mut buffer)) if buffer.capacity() >= capacity => {
            buffer.clear();
            buffer
        }
        // Still in use (an invoke in flight): it stays the spare.
        Some(Err(in_use)) => {
            SPARE.with(|spare| *spare.borrow_mut() = Some(in_use));
            BytesMut::with_capacity(capacity)
        }
        _ => BytesMut::with_capacity(capacity),
    }
}

/// Keeps `body`'s buffer as the spare when it is large; a small body
/// releases the spare, so that large payloads are not kept once they stop.
fn keep_spare(body: &Bytes) {
    let spare = (body.len() >= LARGE).then(|| body.clone());
    SPARE.with(|slot| *slot.borrow_mut() = spare);
}

/// Reads `body` keeping at most `limit` bytes in memory.
pub async fn read_limited<B>(body: B, limit: u64) -> Result<LimitedBody, B::Error>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    read_limited_seeing(body, limit, |_| {}).await
}

/// [`read_limited`], showing `see` each frame it keeps as it arrives (a
/// check that runs while the body streams in, such as
/// [`crate::JsonCheck`]); frames past the limit are not shown.
pub async fn read_limited_seeing<B>(
    mut body: B,
    limit: u64,
    mut see: impl FnMut(&[u8]),
) -> Result<LimitedBody, B::Error>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let mut kept = BytesMut::new();
    let mut first: Option<Bytes> = None;
    let mut size: u64 = 0;
    // With a Content-Length, the whole body fits one allocation (no copies
    // while the buffer grows); never more than the limit is reserved.
    let expected = body.size_hint().lower().min(limit) as usize;
    let give_up = limit.saturating_add(drain_allowance(limit));
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue; // trailers carry no payload
        };
        size += data.len() as u64;
        if size > give_up {
            return Ok(LimitedBody::TooLarge { size });
        }
        if size > limit {
            continue;
        }
        see(&data);
        // The common case is a single frame: keep it without copying.
        match first.take() {
            None if kept.is_empty() => first = Some(data),
            None => kept.extend_from_slice(&data),
            Some(previous) => {
                let capacity = expected.max(previous.len() + data.len());
                if capacity >= LARGE {
                    kept = large_buffer(capacity);
                } else {
                    kept.reserve(capacity);
                }
                kept.extend_from_slice(&previous);
                kept.extend_from_slice(&data);
            }
        }
    }
    if size > limit {
        return Ok(LimitedBody::TooLarge { size });
    }
    let body = match first {
        Some(only) => only,
        None => kept.freeze(),
    };
    keep_spare(&body);
    Ok(LimitedBody::Complete(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use hyper::body::Frame;
    use std::collections::VecDeque;
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A body that yields one frame per part, as a chunked upload does.
    struct Chunks(VecDeque<&'static str>);

    impl hyper::body::Body for Chunks {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(
                self.0
                    .pop_front()
                    .map(|p| Ok(Frame::data(Bytes::from_static(p.as_bytes())))),
            )
        }
    }

    fn chunks(parts: &[&'static str]) -> Chunks {
        Chunks(parts.iter().copied().collect())
    }

    #[tokio::test]
    async fn keeps_a_body_at_the_limit() {
        let got = read_limited(Full::new(Bytes::from_static(b"12345")), 5).await;
        assert_eq!(got, Ok(LimitedBody::Complete(Bytes::from_static(b"12345"))));
    }

    #[tokio::test]
    async fn joins_frames() {
        let got = read_limited(chunks(&["ab", "cd", "e"]), 10).await;
        assert_eq!(got, Ok(LimitedBody::Complete(Bytes::from_static(b"abcde"))));
    }

    #[tokio::test]
    async fn counts_the_whole_size_past_the_limit() {
        let got = read_limited(chunks(&["abc", "def", "gh"]), 4).await;
        assert_eq!(got, Ok(LimitedBody::TooLarge { size: 8 }));
    }

    /// A body that never ends, one frame of `frame` bytes after another,
    /// counting the frames it gave.
    struct Endless {
        frame: Bytes,
        given: u64,
    }

    impl hyper::body::Body for Endless {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            self.given += 1;
            Poll::Ready(Some(Ok(Frame::data(self.frame.clone()))))
        }
    }

    #[tokio::test]
    async fn an_endless_body_is_read_only_up_to_the_allowance() {
        let mut endless = Endless {
            frame: Bytes::from(vec![b'x'; 1000]),
            given: 0,
        };
        let limit = 10_000;
        let got = read_limited(&mut endless, limit).await;
        // The first whole frame that goes past the allowance is the last read.
        let read = ((limit + drain_allowance(limit)) / 1000 + 1) * 1000;
        assert_eq!(got, Ok(LimitedBody::TooLarge { size: read }));
        assert_eq!(endless.given, read / 1000);
    }

    #[tokio::test]
    async fn a_body_within_the_allowance_is_read_whole() {
        let parts: Vec<&'static str> = std::iter::repeat_n("0123456789", 200).collect();
        let got = read_limited(chunks(&parts), 1000).await;
        assert_eq!(got, Ok(LimitedBody::TooLarge { size: 2000 }));
    }

    /// A large body, in two frames (so it is copied into a buffer of its own).
    fn large(fill: u8) -> Chunks {
        let half: &'static [u8] = Vec::leak(vec![fill; LARGE / 2 + 1]);
        let part = std::str::from_utf8(half).unwrap();
        chunks(&[part, part])
    }

    fn complete(got: Result<LimitedBody, Infallible>) -> Bytes {
        match got {
            Ok(LimitedBody::Complete(body)) => body,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn large_bodies_reuse_one_buffer_once_it_is_free() {
        let limit = 4 * LARGE as u64;
        let first = complete(read_limited(large(b'a'), limit).await);
        // In use: the next large body gets a buffer of its own, and
        // becomes the spare.
        let second = complete(read_limited(large(b'b'), limit).await);
        assert_ne!(second.as_ptr(), first.as_ptr());
        assert!(first.iter().all(|&b| b == b'a'), "left as it was");
        let spare = second.as_ptr();
        drop(first);
        drop(second);
        // Free again: reused, holding the new content only.
        let third = complete(read_limited(large(b'c'), limit).await);
        assert_eq!(third.as_ptr(), spare, "the spare buffer is reused");
        assert_eq!(third.len(), LARGE + 2);
        assert!(third.iter().all(|&b| b == b'c'));
        drop(third);
        // A small body gives the spare back.
        complete(read_limited(chunks(&["ab", "cd"]), limit).await);
        assert!(SPARE.with(|spare| spare.borrow().is_none()));
    }

    #[tokio::test]
    async fn empty_body_is_empty() {
        let got = read_limited(chunks(&[]), 4).await;
        assert_eq!(got, Ok(LimitedBody::Complete(Bytes::new())));
    }
}
