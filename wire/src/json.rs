//! A fast check that a payload is JSON (the front door's invokes): one pass
//! over the structure, strict RFC 8259, that runs at memory speed on the
//! long strings large payloads are made of. A string's end (its quote or
//! next backslash) is found with `memchr` (vector instructions, chosen at
//! run time), and the bytes before it are checked for control characters
//! and bytes past ASCII eight at a time.
//!
//! It only ever answers "surely valid": a payload it accepts is UTF-8 that
//! serde_json reads whole (the same grammar). Anything else — an error, or
//! nesting deeper than [`MAX_JSON_DEPTH`] levels, which this pass does not
//! follow — goes to the exact check in the front door, which says what is
//! wrong, so what is refused and the message a caller gets do not depend
//! on this pass.
//!
//! The pass itself is [`crate::JsonCheck`] (`json_check.rs`), which keeps
//! its place between chunks so that a body can be checked frame by frame
//! as it arrives; [`surely_json`] feeds it one chunk. The byte scan it
//! uses on string content is here.

/// Nesting this pass follows; deeper payloads get the exact check.
pub const MAX_JSON_DEPTH: usize = 100;

/// Whether `bytes` is surely one JSON value (with surrounding whitespace).
/// `false` means "not shown valid here", not "invalid". A payload arriving
/// in chunks is checked as they come with [`crate::JsonCheck`], which this
/// is one chunk of.
pub fn surely_json(bytes: &[u8]) -> bool {
    let mut check = crate::JsonCheck::new();
    check.feed(bytes);
    check.surely_json()
}

/// Whether `bytes` holds a control character (below 0x20), and a byte
/// past ASCII.
pub(crate) fn scan(bytes: &[u8]) -> (bool, bool) {
    const LOW: u64 = u64::from_ne_bytes([0x20; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // Four words at a time. In ASCII text a byte below 0x20 is one whose
    // top bit `x - 0x20` sets (a borrow into the next byte comes only from
    // such a byte); the exact test below also holds past ASCII.
    let mut low = 0;
    let mut any = 0;
    let mut blocks = bytes.chunks_exact(32);
    let word = |block: &[u8], at: usize| {
        let mut word = [0; 8];
        word.copy_from_slice(&block[at..at + 8]);
        u64::from_ne_bytes(word)
    };
    for block in &mut blocks {
        let (a, b, c, d) = (
            word(block, 0),
            word(block, 8),
            word(block, 16),
            word(block, 24),
        );
        low |=
            a.wrapping_sub(LOW) | b.wrapping_sub(LOW) | c.wrapping_sub(LOW) | d.wrapping_sub(LOW);
        any |= a | b | c | d;
    }
    if any & HIGH != 0 {
        return scan_exact(bytes);
    }
    let tail = blocks.remainder();
    let control = low & HIGH != 0 || tail.iter().any(|&b| b < 0x20);
    let non_ascii = tail.iter().any(|&b| b >= 0x80);
    (control, non_ascii)
}

/// [`scan`] for text past ASCII: a byte below 0x20 sets its top bit in
/// `x - 0x20` but not in `x`.
fn scan_exact(bytes: &[u8]) -> (bool, bool) {
    const LOW: u64 = u64::from_ne_bytes([0x20; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut below = 0;
    let mut high = 0;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let Ok(word) = <[u8; 8]>::try_from(word) else {
            continue;
        };
        let x = u64::from_ne_bytes(word);
        below |= x.wrapping_sub(LOW) & !x;
        high |= x;
    }
    let tail = words.remainder();
    let control = below & HIGH != 0 || tail.iter().any(|&b| b < 0x20);
    let non_ascii = high & HIGH != 0 || tail.iter().any(|&b| b >= 0x80);
    (control, non_ascii)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What the front door's exact check accepts: UTF-8 that serde_json
    /// reads whole.
    pub(crate) fn exact(bytes: &[u8]) -> bool {
        std::str::from_utf8(bytes)
            .is_ok_and(|text| serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok())
    }

    pub(crate) const VALID: &[&str] = &[
        r#"{}"#,
        r#"[]"#,
        r#" { "a" : [ 1 , -2.5e+3 , 0.0 , 1E9 , -0 , true , false , null ] } "#,
        r#"{"key":"caf\u00e9 café","n":{"deep":[[[{"x":[]}]]]}}"#,
        r#""just a string with \" \\ \/ \b \f \n \r \t \ud800 escapes""#,
        "123",
        "\t\r\n\"x\"\n",
        r#"[1,[2,[3,[4]]],{"a":{"b":{}}}]"#,
        r#"{"data":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#,
        "{\"日本語のキー\":\"long text past 32 bytes: ☃☃☃☃☃☃☃☃☃☃☃☃☃☃☃☃☃☃\"}",
        "1e999",
    ];

    pub(crate) const INVALID: &[&str] = &[
        "",
        "{",
        "{\"a\":}",
        "{\"a\" 1}",
        "{\"a\":1,}",
        "[1,]",
        "[1 2]",
        "{1:2}",
        "01",
        "1.",
        "1.e5",
        "1e",
        "-",
        "+1",
        ".5",
        "tru",
        "nul",
        "truex",
        "\"unterminated",
        "\"bad escape \\x\"",
        "\"short \\u12\"",
        "\"raw\ncontrol\"",
        "[1]]",
        "{}{}",
        "[}",
        "{]",
        "NaN",
        "'single'",
    ];

    #[test]
    fn valid_documents_are_seen_valid() {
        for doc in VALID {
            assert!(exact(doc.as_bytes()), "the exact check accepts {doc:?}");
            assert!(surely_json(doc.as_bytes()), "{doc:?}");
        }
    }

    #[test]
    fn invalid_documents_are_never_seen_valid() {
        for doc in INVALID {
            assert!(!exact(doc.as_bytes()), "the exact check refuses {doc:?}");
            assert!(!surely_json(doc.as_bytes()), "{doc:?}");
        }
        for bytes in [&b"\"\xff\""[..], b"{\"a\":\"\xcd1\"}", b"\xef\xbb\xbf{}"] {
            assert!(!surely_json(bytes), "{bytes:?}");
        }
    }

    #[test]
    fn deep_nesting_is_left_to_the_exact_check() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(surely_json(nested(MAX_JSON_DEPTH).as_bytes()));
        assert!(!surely_json(nested(MAX_JSON_DEPTH + 1).as_bytes()));
        assert!(exact(nested(200).as_bytes()), "accepted by the exact check");
    }

    #[test]
    fn control_and_non_ascii_bytes_are_found_at_every_offset() {
        for len in [0, 1, 7, 8, 9, 16, 31, 32, 33, 64, 70] {
            assert_eq!(scan(&vec![b'a'; len]), (false, false));
            assert_eq!(scan(&vec![0x20; len]), (false, false));
            assert_eq!(scan(&vec![0x7f; len]), (false, false));
            for at in 0..len {
                for (byte, expect) in [
                    (0x00, (true, false)),
                    (0x1f, (true, false)),
                    (0x80, (false, true)),
                    (0xff, (false, true)),
                    (0xa0, (false, true)),
                ] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = byte;
                    assert_eq!(scan(&bytes), expect, "{len} {at} {byte:#x}");
                    // Next to a byte past ASCII, and past 0x20 only by one.
                    bytes
                        .iter_mut()
                        .filter(|b| **b == b'a')
                        .for_each(|b| *b = 0x21);
                    assert_eq!(scan(&bytes), expect, "{len} {at} {byte:#x} among 0x21");
                }
            }
        }
    }

    /// Every mutation of the documents above (a byte replaced, removed or
    /// doubled) that this pass accepts, the exact check accepts too.
    #[test]
    fn what_is_seen_valid_is_valid_for_serde_json() {
        const BYTES: &[u8] = b"{}[]\":,\\ \n01-+.eE9tfnu\x00\x1f\x7f\x80\xc3\xa9a";
        let mut seen_valid = 0;
        for doc in VALID.iter().chain(INVALID) {
            let doc = doc.as_bytes();
            for at in 0..doc.len() {
                let mut variants = vec![[&doc[..at], &doc[at + 1..]].concat()];
                variants.push([&doc[..=at], &doc[at..]].concat());
                for &byte in BYTES {
                    let mut changed = doc.to_vec();
                    changed[at] = byte;
                    variants.push(changed);
                }
                for variant in variants {
                    if surely_json(&variant) {
                        seen_valid += 1;
                        assert!(exact(&variant), "{:?}", String::from_utf8_lossy(&variant));
                    }
                }
            }
        }
        assert!(
            seen_valid > 1000,
            "the mutations reach valid documents too ({seen_valid})"
        );
    }
}
