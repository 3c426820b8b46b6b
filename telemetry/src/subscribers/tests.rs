use super::*;
use crate::events::{InitPhase, InitStart, InitializationType, Start};
use interop::subscription::{Buffering, Destination, SchemaVersion};
use std::io::Read;

fn line(text: &str, origin: Origin) -> Item {
    Item::Line(LineRecord {
        time: SystemTime::now(),
        origin,
        text: text.into(),
        json: None,
    })
}

fn init_start() -> Item {
    Item::Event(PlatformEvent::now(InitStart {
        initialization_type: InitializationType::OnDemand,
        phase: InitPhase::Init,
        function_name: "f".into(),
        function_version: "$LATEST".into(),
        runtime_version: None,
        runtime_version_arn: None,
    }))
}

fn start(id: &str) -> Item {
    Item::Event(PlatformEvent::now(Start {
        request_id: id.into(),
        version: "$LATEST".into(),
        tracing: None,
    }))
}

fn types(platform: bool, function: bool, extension: bool) -> Types {
    Types {
        platform,
        function,
        extension,
    }
}

fn tcp_subscription(address: std::net::SocketAddr, types: Types, max_items: usize) -> Subscription {
    Subscription {
        api: Api::Telemetry(SchemaVersion::V2022_12_13),
        types,
        buffering: Buffering {
            max_items,
            max_bytes: 262_144,
            timeout: Duration::from_millis(25),
        },
        destination: Destination::Tcp { address },
    }
}

#[test]
fn a_full_queue_counts_what_it_drops() {
    let mut queue = Queue::new(2, 1_000_000);
    for n in 0..5 {
        queue.push(Arc::new(line(&format!("l{n}"), Origin::Function)));
    }
    assert_eq!(queue.items.len(), 2);
    assert_eq!(queue.dropped_records, 3);
    assert!(queue.dropped_bytes >= 3 * 64);
    let mut small = Queue::new(100, 100);
    assert!(small.push(Arc::new(line("short", Origin::Function))));
    assert!(!small.push(Arc::new(line(&"x".repeat(100), Origin::Function))));
}

#[test]
fn the_backlog_lasts_from_init_start_to_the_first_invoke() {
    let mut subscribers = Subscribers::default();
    assert!(!subscribers.wants_lines());
    subscribers.push(init_start());
    assert!(subscribers.wants_lines() && subscribers.wants_events());
    subscribers.push(line("ext says hi", Origin::Extension));
    assert_eq!(subscribers.backlog.as_ref().map(|b| b.items.len()), Some(2));
    subscribers.push(start("r1"));
    assert!(subscribers.backlog.is_none());
    assert!(!subscribers.wants_lines());
}

/// A TCP subscriber gets the backlog, filtered by its types, then the
/// records pushed after it subscribed, as lines of JSON.
#[tokio::test]
async fn a_subscriber_gets_the_backlog_then_what_follows() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let mut subscribers = Subscribers::default();
    subscribers.push(init_start());
    subscribers.push(line("from the extension", Origin::Extension));
    subscribers.push(line("from the function", Origin::Function));
    let event = subscribers.subscribe(
        "id".into(),
        "agent".into(),
        tcp_subscription(address, types(true, true, false), 1000),
    );
    assert_eq!(event.type_name(), "platform.telemetrySubscription");
    subscribers.push(Item::Event(event));
    subscribers.push(start("r1"));
    let reader = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut text = String::new();
        let mut buf = [0; 4096];
        while text.matches('\n').count() < 4 {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "closed after {text:?}");
            text.push_str(std::str::from_utf8(&buf[..n]).unwrap());
        }
        text
    });
    let text = tokio::task::spawn_blocking(move || reader.join().unwrap())
        .await
        .unwrap();
    let kinds: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["type"].to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "\"platform.initStart\"",
            "\"function\"",
            "\"platform.telemetrySubscription\"",
            "\"platform.start\""
        ]
    );
}
