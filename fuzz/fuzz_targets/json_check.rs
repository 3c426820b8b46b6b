//! The front door's JSON check fed in chunks (`wire::JsonCheck`): split
//! anywhere, it gives the answer it gives whole, and what it shows valid
//! is UTF-8 that serde_json reads whole as JSON text, as the front door's
//! exact check reads it (ignored, not held): JSON's grammar allows a
//! number past f64's range (`1e999`) and a lone surrogate escape
//! (`"\ud800"`, RFC 8259 §8.2), which serde_json's `Value` cannot hold.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte says where to cut: every `step` bytes.
    let Some((&cut, doc)) = data.split_first() else {
        return;
    };
    let step = usize::from(cut).max(1);
    let mut check = wire::JsonCheck::new();
    for chunk in doc.chunks(step) {
        check.feed(chunk);
    }
    let chunked = check.surely_json();
    assert_eq!(chunked, wire::surely_json(doc), "cut every {step}");
    if chunked {
        let text = std::str::from_utf8(doc).expect("UTF-8");
        serde_json::from_str::<serde::de::IgnoredAny>(text).expect("JSON");
    }
});
