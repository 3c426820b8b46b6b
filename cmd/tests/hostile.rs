//! Hostile callers of the front door: one that sends its headers a byte at
//! a time, hundreds that connect and say nothing, one whose body never
//! ends. None may delay a well-behaved invoke or make rapid hold on to it
//! without bound: each is closed (or answered 413) while invokes go on.
//! And the control API, which lets a caller shut rapid down, is served
//! only where it was asked for.

mod common;

use common::http::Kept;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// How long the slow callers below take between two of their bytes.
const DRIP: Duration = Duration::from_millis(200);

/// rapid with a short header timeout, its runtime already warm (so that the
/// well-behaved invoke under test is not an init).
fn warm_rapid(header_timeout_seconds: &str) -> Rapid {
    let rapid = Rapid::scripted(&["--request-header-timeout", header_timeout_seconds], &[]);
    assert_success(&rapid.invoke(b"{\"warm\":true}", &[]));
    rapid
}

/// Reads from `stream` until the server closes it (end of stream or reset)
/// or `within` passes; returns what was read, or says what happened.
fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Result<Vec<u8>, String> {
    stream
        .set_read_timeout(Some(within))
        .map_err(|e| format!("cannot set a read timeout: {e}"))?;
    let mut received = Vec::new();
    let mut buf = [0; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(received),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(received),
            Err(e) if http::is_timeout(&e) => {
                return Err(format!(
                    "the connection is still open after {within:?} (received {:?})",
                    String::from_utf8_lossy(&received)
                ))
            }
            Err(e) => return Err(format!("read failed: {e}")),
        }
    }
}

#[test]
fn a_caller_sending_its_headers_a_byte_at_a_time_is_closed_and_invokes_go_on() {
    let rapid = warm_rapid("2");
    let mut slow = TcpStream::connect(rapid.invoke_addr()).expect("connect");
    let mut writer = slow.try_clone().expect("clone the slow connection");
    let (started, has_started) = mpsc::channel();
    let dripper = thread::spawn(move || {
        let head = format!("POST {INVOKE_PATH} HTTP/1.1\r\nHost: rapid\r\n");
        let endless = head.bytes().chain(b"X-Slow: a".iter().copied().cycle());
        for (n, byte) in endless.enumerate() {
            if writer.write_all(&[byte]).is_err() {
                return n; // rapid closed the connection
            }
            if n == 10 {
                let _ = started.send(());
            }
            thread::sleep(DRIP); // ok: the caller under test is slow on purpose
        }
        unreachable!("an endless iterator ended")
    });
    has_started
        .recv_timeout(WAIT)
        .expect("the slow caller sent its first bytes");

    // A well-behaved caller meanwhile is answered.
    let body = assert_success(&rapid.invoke(b"{\"while\":\"slowloris\"}", &[]));
    assert_eq!(body["while"], "slowloris", "{body}");

    // The slow caller never finished its headers: rapid closes it.
    let received = read_until_closed(&mut slow, WAIT)
        .unwrap_or_else(|e| panic!("a caller that never finishes its headers must be closed: {e}"));
    assert!(
        received.is_empty() || received.starts_with(b"HTTP/1.1 408"),
        "{:?}",
        String::from_utf8_lossy(&received)
    );
    let sent = dripper.join().expect("dripper thread");
    assert!(sent > 10, "the slow caller sent {sent} bytes");
    assert_success(&rapid.invoke(b"{}", &[]));
}

#[test]
fn hundreds_of_idle_connections_do_not_delay_invokes_and_are_closed() {
    let rapid = warm_rapid("3");
    let mut idle: Vec<Kept> = (0..200)
        .map(|i| {
            Kept::open(rapid.invoke_addr()).unwrap_or_else(|e| panic!("idle connection {i}: {e}"))
        })
        .collect();

    let body = assert_success(&rapid.invoke(b"{\"while\":\"idle\"}", &[]));
    assert_eq!(body["while"], "idle", "{body}");

    for (i, connection) in idle.iter_mut().enumerate() {
        connection.wait_closed(WAIT).unwrap_or_else(|e| {
            panic!("idle connection {i} of 200 was not closed by the header timeout: {e}")
        });
    }
    assert_success(&rapid.invoke(b"{}", &[]));
}

#[test]
fn an_endless_chunked_body_is_answered_413_or_closed_and_invokes_go_on() {
    let rapid = warm_rapid("30");
    let mut endless = TcpStream::connect(rapid.invoke_addr()).expect("connect");
    let mut writer = endless.try_clone().expect("clone the endless connection");
    let (one_mb_sent, has_sent) = mpsc::channel();
    let (invoked, go_on) = mpsc::channel::<()>();
    // Far more than rapid reads of any body (twice its 6 MB limit): when
    // this much went out, rapid was still reading.
    const BOUND: usize = 256 * 1024 * 1024;
    let sender = thread::spawn(move || {
        let head = format!(
            "POST {INVOKE_PATH} HTTP/1.1\r\nHost: rapid\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        writer.write_all(head.as_bytes()).expect("send the head");
        let chunk = [b"10000\r\n".as_slice(), &[b' '; 0x10000], b"\r\n"].concat();
        let mut sent = 0;
        while sent < BOUND {
            if writer.write_all(&chunk).is_err() {
                return Err(sent); // rapid stopped reading and closed
            }
            sent += 0x10000;
            if sent == 1024 * 1024 {
                let _ = one_mb_sent.send(());
                // Hold the body open until the other invoke is answered.
                let _ = go_on.recv_timeout(WAIT);
            }
        }
        Ok(sent)
    });
    has_sent
        .recv_timeout(WAIT)
        .expect("the endless body's first megabyte went out");

    let body = assert_success(&rapid.invoke(b"{\"while\":\"endless\"}", &[]));
    assert_eq!(body["while"], "endless", "{body}");
    invoked.send(()).expect("the sender waits");

    let received = read_until_closed(&mut endless, WAIT)
        .unwrap_or_else(|e| panic!("an endless body must be answered and closed: {e}"));
    // The 413 may be lost to the reset that closing an unread connection
    // causes; when it arrived it is the front door's.
    if !received.is_empty() {
        let text = String::from_utf8_lossy(&received);
        assert!(text.starts_with("HTTP/1.1 413"), "{text}");
        assert!(text.contains("RequestTooLargeException"), "{text}");
    }
    match sender.join().expect("sender thread") {
        Err(sent) => assert!(sent >= 1024 * 1024, "{sent}"),
        Ok(sent) => panic!("rapid read {sent} bytes of an endless body and still read on"),
    }
    assert_success(&rapid.invoke(b"{}", &[]));
}

#[test]
fn the_control_api_is_off_by_default() {
    let rapid = Rapid::scripted(&[], &[]);
    let ping = rapid.request("GET", "/test/ping", &[], b"");
    assert_eq!(ping.status, 404, "{ping:?}");
    assert!(
        !rapid
            .stderr()
            .iter()
            .any(|l| l.contains("control API listening")),
        "{:?}",
        rapid.stderr()
    );
}

#[test]
fn the_control_api_address_serves_the_control_api_and_nothing_else() {
    let rapid = Rapid::scripted(&["--test-api-address", "127.0.0.1:0"], &[]);
    let control = rapid.listening_on("control API");
    assert_ne!(control, rapid.invoke_addr());
    let ping = http::request(&control, "GET", "/test/ping", &[], b"");
    assert_eq!(
        (ping.status, ping.text().as_str()),
        (200, "pong"),
        "{ping:?}"
    );
    // Invokes are the front door's.
    let invoke = http::request(&control, "POST", INVOKE_PATH, &[], b"{}");
    assert_eq!(invoke.status, 404, "{invoke:?}");
    assert_eq!(
        invoke.header("x-amzn-errortype"),
        Some("UnknownOperationException")
    );
    // The address turns the control API on, so a caller on this machine
    // reaches it on the front door too, and invokes work there.
    let ping = rapid.request("GET", "/test/ping", &[], b"");
    assert_eq!(ping.status, 200, "{ping:?}");
    assert_success(&rapid.invoke(b"{}", &[]));
}
