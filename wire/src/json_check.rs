//! The JSON check of [`crate::surely_json`], resumable: fed a payload chunk
//! by chunk as it arrives, it keeps its place (inside a string, an escape,
//! a number, a literal, a UTF-8 sequence) across chunk boundaries, so the
//! check is done when the last chunk is. Same grammar, same answers: it only
//! ever says "surely valid", and anything else (an error, nesting deeper than
//! [`MAX_JSON_DEPTH`]) is left to the front door's exact check.

use crate::json::{scan, MAX_JSON_DEPTH};

/// A JSON check fed chunk by chunk: [`JsonCheck::feed`] each chunk in
/// order, then [`JsonCheck::surely_json`].
#[derive(Debug, Clone)]
pub struct JsonCheck {
    state: State,
    depth: usize,
    /// Bit n says whether the container at depth n + 1 is an object.
    objects: u128,
    /// The start of a UTF-8 sequence the last chunk ended inside.
    carry: [u8; 4],
    carry_len: usize,
    /// Not shown valid: the rest is ignored.
    failed: bool,
}

/// Where the check is between two bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Before a value: the document's, an element's, a member's.
    Value,
    /// Just after `[`: a value or `]`.
    FirstElement,
    /// Just after `{`: a key or `}`.
    FirstKey,
    /// After a `,` in an object: a key.
    Key,
    /// After a key: its `:`.
    Colon,
    /// After a value: `,` or a closing bracket, or only whitespace at the
    /// document's end.
    After,
    /// Inside a string (a key's or a value's).
    Text {
        key: bool,
    },
    /// After a backslash in a string.
    Escape {
        key: bool,
    },
    /// In a `\u` escape, `left` hex digits to go.
    Unicode {
        key: bool,
        left: u8,
    },
    /// In `true`, `false` or `null`: the bytes still to come.
    Literal {
        rest: &'static [u8],
    },
    Number(Number),
}

/// Where a number is (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Number {
    Minus,
    Zero,
    Integer,
    Dot,
    Fraction,
    Exponent,
    ExponentSign,
    ExponentDigits,
}

/// What one byte did.
enum Step {
    Taken,
    /// The byte ended a number: it is read again after it.
    Again,
    Refused,
}

impl Default for JsonCheck {
    fn default() -> Self {
        JsonCheck::new()
    }
}

impl JsonCheck {
    pub fn new() -> JsonCheck {
        JsonCheck {
            state: State::Value,
            depth: 0,
            objects: 0,
            carry: [0; 4],
            carry_len: 0,
            failed: false,
        }
    }

    /// Checks the next chunk of the payload.
    pub fn feed(&mut self, chunk: &[u8]) {
        if !self.failed && !self.chunk(chunk) {
            self.failed = true;
        }
    }

    /// Whether the chunks fed so far are surely one JSON value (with
    /// surrounding whitespace). `false` means "not shown valid here".
    pub fn surely_json(&self) -> bool {
        let ended = match self.state {
            State::After => true,
            State::Number(number) => matches!(
                number,
                Number::Zero | Number::Integer | Number::Fraction | Number::ExponentDigits
            ),
            _ => false,
        };
        !self.failed && ended && self.depth == 0 && self.carry_len == 0
    }

    fn chunk(&mut self, chunk: &[u8]) -> bool {
        // A chunk is checked to be UTF-8 when one of its strings has a byte
        // past ASCII (nowhere else may one be), or when the last chunk
        // ended inside a sequence.
        let mut utf8_checked = false;
        if self.carry_len > 0 {
            if !self.utf8(chunk) {
                return false;
            }
            utf8_checked = true;
        }
        let mut at = 0;
        while at < chunk.len() {
            if let State::Text { key } = self.state {
                // The string's content up to its quote or next backslash,
                // at memory speed.
                let rest = &chunk[at..];
                let end = memchr::memchr2(b'"', b'\\', rest);
                let (control, non_ascii) = scan(&rest[..end.unwrap_or(rest.len())]);
                if control {
                    return false;
                }
                if non_ascii && !utf8_checked {
                    if !self.utf8(chunk) {
                        return false;
                    }
                    utf8_checked = true;
                }
                let Some(end) = end else {
                    return true;
                };
                self.state = match (rest[end], key) {
                    (b'"', true) => State::Colon,
                    (b'"', false) => State::After,
                    _ => State::Escape { key },
                };
                at += end + 1;
                continue;
            }
            match self.step(chunk[at]) {
                Step::Taken => at += 1,
                Step::Again => {}
                Step::Refused => return false,
            }
        }
        true
    }

    /// One byte outside a string's plain content.
    fn step(&mut self, byte: u8) -> Step {
        let whitespace = matches!(byte, b' ' | b'\n' | b'\t' | b'\r');
        self.state = match self.state {
            State::Value
            | State::FirstElement
            | State::FirstKey
            | State::Key
            | State::Colon
            | State::After
                if whitespace =>
            {
                return Step::Taken
            }
            State::Value => match byte {
                b'{' | b'[' => return self.open(byte == b'{'),
                b'"' => State::Text { key: false },
                b't' => State::Literal { rest: b"rue" },
                b'f' => State::Literal { rest: b"alse" },
                b'n' => State::Literal { rest: b"ull" },
                b'-' => State::Number(Number::Minus),
                b'0' => State::Number(Number::Zero),
                b'1'..=b'9' => State::Number(Number::Integer),
                _ => return Step::Refused,
            },
            State::FirstElement if byte == b']' => return self.close(),
            State::FirstElement => {
                self.state = State::Value;
                return Step::Again;
            }
            State::FirstKey if byte == b'}' => return self.close(),
            State::FirstKey | State::Key if byte == b'"' => State::Text { key: true },
            State::Colon if byte == b':' => State::Value,
            State::After if self.depth > 0 => {
                let object = self.objects & (1 << (self.depth - 1)) != 0;
                match (byte, object) {
                    (b',', true) => State::Key,
                    (b',', false) => State::Value,
                    (b'}', true) | (b']', false) => return self.close(),
                    _ => return Step::Refused,
                }
            }
            State::Escape { key } => match byte {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => State::Text { key },
                b'u' => State::Unicode { key, left: 4 },
                _ => return Step::Refused,
            },
            State::Unicode { key, left } if byte.is_ascii_hexdigit() => match left {
                1 => State::Text { key },
                _ => State::Unicode {
                    key,
                    left: left - 1,
                },
            },
            State::Literal { rest } if rest.first() == Some(&byte) => match &rest[1..] {
                [] => State::After,
                rest => State::Literal { rest },
            },
            State::Number(number) => match number_step(number, byte) {
                Some(next) => State::Number(next),
                None if matches!(
                    number,
                    Number::Minus | Number::Dot | Number::Exponent | Number::ExponentSign
                ) =>
                {
                    return Step::Refused
                }
                None => {
                    self.state = State::After;
                    return Step::Again;
                }
            },
            _ => return Step::Refused,
        };
        Step::Taken
    }

    fn open(&mut self, object: bool) -> Step {
        self.depth += 1;
        if self.depth > MAX_JSON_DEPTH {
            return Step::Refused;
        }
        let bit = 1 << (self.depth - 1);
        self.objects = (self.objects & !bit) | if object { bit } else { 0 };
        self.state = if object {
            State::FirstKey
        } else {
            State::FirstElement
        };
        Step::Taken
    }

    fn close(&mut self) -> Step {
        self.depth -= 1;
        self.state = State::After;
        Step::Taken
    }

    /// Whether `chunk` is UTF-8, with the sequence the last chunk ended
    /// inside completed by its first bytes; keeps the start of a sequence
    /// it ends inside for the next.
    fn utf8(&mut self, chunk: &[u8]) -> bool {
        let mut rest = chunk;
        if self.carry_len > 0 {
            let width = match self.carry[0] {
                0xc2..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 4,
            };
            let take = (width - self.carry_len).min(rest.len());
            let mut joined = self.carry;
            joined[self.carry_len..self.carry_len + take].copy_from_slice(&rest[..take]);
            let joined = &joined[..self.carry_len + take];
            match std::str::from_utf8(joined) {
                Ok(_) => self.carry_len = 0,
                Err(e) if e.error_len().is_none() => {
                    self.carry_len = joined.len();
                    self.carry[..joined.len()].copy_from_slice(joined);
                    return true;
                }
                Err(_) => return false,
            }
            rest = &rest[take..];
        }
        match std::str::from_utf8(rest) {
            Ok(_) => true,
            Err(e) if e.error_len().is_none() => {
                let tail = &rest[e.valid_up_to()..];
                self.carry[..tail.len()].copy_from_slice(tail);
                self.carry_len = tail.len();
                true
            }
            Err(_) => false,
        }
    }
}

/// A number's next place after `byte`, or `None` where the number ends
/// (or, from a place that needs a digit, is refused).
fn number_step(number: Number, byte: u8) -> Option<Number> {
    let digit = byte.is_ascii_digit();
    let exponent = matches!(byte, b'e' | b'E');
    Some(match number {
        Number::Minus if byte == b'0' => Number::Zero,
        Number::Minus if digit => Number::Integer,
        Number::Zero | Number::Integer | Number::Fraction if exponent => Number::Exponent,
        Number::Zero | Number::Integer if byte == b'.' => Number::Dot,
        Number::Integer if digit => Number::Integer,
        Number::Dot | Number::Fraction if digit => Number::Fraction,
        Number::Exponent if matches!(byte, b'+' | b'-') => Number::ExponentSign,
        Number::Exponent | Number::ExponentSign | Number::ExponentDigits if digit => {
            Number::ExponentDigits
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::tests::{exact, INVALID, VALID};

    fn fed(chunks: &[&[u8]]) -> bool {
        let mut check = JsonCheck::new();
        for chunk in chunks {
            check.feed(chunk);
        }
        check.surely_json()
    }

    /// Every document split at every point, and fed a byte at a time,
    /// gets the same answer as whole.
    #[test]
    fn chunk_boundaries_change_nothing() {
        let utf8: &[&[u8]] = &[
            "\"café ☃ 😀 日本語\"".as_bytes(),
            b"[\"\\u00e9\\n\", -0.5e-3, 10, 0, true]",
            b"\"\xe2\x98\"",
            b"\"\xf0\x9f\x98\"",
            b"\"\xc3\"",
            b"\"\xed\xa0\x80\"",
        ];
        let docs = VALID
            .iter()
            .chain(INVALID)
            .map(|doc| doc.as_bytes())
            .chain(utf8.iter().copied());
        for doc in docs {
            let whole = fed(&[doc]);
            assert_eq!(whole, exact(doc), "{doc:?}");
            for at in 0..=doc.len() {
                assert_eq!(
                    fed(&[&doc[..at], &doc[at..]]),
                    whole,
                    "{doc:?} split at {at}"
                );
                for end in at..=doc.len() {
                    let three = [&doc[..at], &doc[at..end], &doc[end..]];
                    assert_eq!(fed(&three), whole, "{doc:?} split at {at} and {end}");
                }
            }
            let bytes: Vec<&[u8]> = doc.chunks(1).collect();
            assert_eq!(fed(&bytes), whole, "{doc:?} a byte at a time");
        }
    }

    #[test]
    fn a_sequence_split_over_three_chunks_is_joined() {
        let snowman = "\"☃\"".as_bytes();
        let chunks: Vec<&[u8]> = snowman.chunks(1).collect();
        assert!(fed(&chunks));
        assert!(!fed(&[b"\"\xe2", b"\x98", b"\""]), "cut short");
        assert!(!fed(&[b"\"\xe2", b"\x98"]), "ends inside a sequence");
    }

    #[test]
    fn the_last_byte_decides() {
        let mut check = JsonCheck::new();
        check.feed(b"{\"data\":\"");
        for _ in 0..100 {
            check.feed(&[b'a'; 1000]);
        }
        let mut good = check.clone();
        good.feed(b"\"}");
        assert!(good.surely_json());
        check.feed(b"\"]");
        assert!(!check.surely_json());
    }
}
