//! The live dashboard of the embedded cluster, over plain TCP: pages and
//! JSON on loopback, the next port when one is taken, the token off
//! loopback, malformed requests, and `off`.

use rankflow::{Config, Mode};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

fn cluster(address: &str) -> rankflow::Client {
    rankflow::initialize(
        Config::new()
            .mode(Mode::Local)
            .local_workers(2)
            .dashboard_address(address),
    )
    .unwrap()
}

/// The port in a dashboard link.
fn port_of(link: &str) -> u16 {
    let rest = link.strip_prefix("http://").expect(link);
    let host_port = rest.split('/').next().unwrap();
    host_port.rsplit_once(':').unwrap().1.parse().unwrap()
}

/// Sends `raw` to the dashboard on loopback and reads the whole answer.
fn exchange(port: u16, raw: &[u8]) -> String {
    let mut s = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(raw).unwrap();
    // Nothing more comes: a request cut short ends here.
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn get(port: u16, target: &str, extra: &str) -> String {
    let raw = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n");
    exchange(port, raw.as_bytes())
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or("")
}

fn double(x: u64) -> u64 {
    x * 2
}

#[test]
fn loopback_serves_pages_and_json_without_a_token() {
    let c = cluster("127.0.0.1:0");
    let link = c.dashboard_link().expect("a dashboard").to_string();
    assert!(link.starts_with("http://127.0.0.1:"), "{link}");
    assert!(link.ends_with("/status"), "no token on loopback: {link}");
    let port = port_of(&link);
    let futures = c.map(double, 0..50u64).unwrap();
    let total: u64 = futures.iter().map(|f| f.result().unwrap()).sum();
    assert_eq!(total, 2450);

    let page = get(port, "/status", "");
    assert!(status_line(&page).contains("200"), "{page}");
    assert!(page.contains("<title>rankflow status</title>"));
    assert!(!page.contains("https://"), "self-contained: no CDN");
    let workers = get(port, "/workers", "");
    assert!(workers.contains("id=\"workers\""));
    // The scheduler publishes within a fraction of a second of being asked.
    let mut json = String::new();
    for _ in 0..50 {
        json = get(port, "/api/snapshot", "");
        if json.contains("\"done_total\":50") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(json.contains("\"done_total\":50"), "{json}");
    assert!(
        json.contains("\"rank\":2") && json.contains("\"rank\":3"),
        "{json}"
    );
    // Each worker is named with its host, in the JSON and on the workers page
    // (which starts from the same snapshot and has a host column); the
    // workers are added up by host, and the scheduler's host is named.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    if !host.is_empty() {
        let named = format!("\"host\":\"{host}\",\"pid\"");
        assert_eq!(json.matches(&named).count(), 2, "{json}");
        let by_host = format!("\"hosts\":[{{\"host\":\"{host}\",\"ranks\":[2,3],\"threads\":2,");
        assert!(json.contains(&by_host), "{json}");
        let scheduler = format!("\"scheduler_host\":\"{host}\"");
        assert!(json.contains(&scheduler), "{json}");
        let workers = get(port, "/workers", "");
        assert!(workers.contains("<th>host</th>"), "{workers}");
        assert!(workers.contains("<table id=\"hosts\">"), "{workers}");
        assert!(workers.contains(&named), "{workers}");
    }
    let stream = get(port, "/api/stream?since=0", "");
    assert_eq!(stream.matches("\"seq\":").count(), 50, "{stream}");
    assert!(status_line(&get(port, "/api/stream?since=x", "")).contains("400"));
    assert!(status_line(&get(port, "/nowhere", "")).contains("404"));
    let post = exchange(
        port,
        b"POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert!(status_line(&post).contains("405"), "{post}");
    drop(futures);
    c.shutdown().unwrap();
}

#[test]
fn a_port_in_use_gives_the_next_free_one() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let c = cluster(&format!("127.0.0.1:{port}"));
    let link = c.dashboard_link().expect("a dashboard on another port");
    let got = port_of(link);
    assert_ne!(got, port);
    assert!(got > port, "the next ports are tried: {link}");
    assert!(status_line(&get(got, "/status", "")).contains("200"));
    c.shutdown().unwrap();
}

#[test]
fn off_loopback_every_request_needs_the_token() {
    let c = cluster("0.0.0.0:0");
    let link = c.dashboard_link().expect("a dashboard").to_string();
    let token = link.split_once("?token=").expect(&link).1.to_string();
    assert_eq!(token.len(), 32, "{link}");
    let port = port_of(&link);

    for target in ["/status", "/workers", "/api/snapshot", "/api/stream", "/"] {
        let answer = get(port, target, "");
        assert!(status_line(&answer).contains("403"), "{target}: {answer}");
        assert!(answer.contains("token"), "says why: {answer}");
    }
    let wrong = get(port, "/status?token=0123456789abcdef0123456789abcdef", "");
    assert!(status_line(&wrong).contains("403"));

    let first = get(port, &format!("/status?token={token}"), "");
    assert!(status_line(&first).contains("200"), "{first}");
    let cookie_line = first
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("the token goes into a cookie");
    assert!(cookie_line.contains(&format!("rankflow_token={token}")));
    assert!(cookie_line.contains("HttpOnly"));

    let cookie = format!("Cookie: other=1; rankflow_token={token}\r\n");
    assert!(status_line(&get(port, "/api/snapshot", &cookie)).contains("200"));
    assert!(status_line(&get(port, "/workers", &cookie)).contains("200"));
    c.shutdown().unwrap();
}

#[test]
fn malformed_requests_are_answered_and_the_server_goes_on() {
    let c = cluster("127.0.0.1:0");
    let port = port_of(c.dashboard_link().unwrap());
    let junk: [&[u8]; 6] = [
        b"GARBAGE\r\n\r\n",
        b"\x00\xff\xfe binary \r\n\r\n",
        b"GET\r\n\r\n",
        b"GET /status HTTP/9.9\r\n\r\n",
        b"GET /status HTTP/1.1\r\nNo colon here\r\n\r\n",
        b"GET /status HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    ];
    for raw in junk {
        let answer = exchange(port, raw);
        let line = status_line(&answer);
        assert!(
            answer.is_empty() || line.contains(" 4") || line.contains(" 5") || line.contains("200"),
            "{raw:?}: {answer}"
        );
    }
    let long = format!(
        "GET /{} HTTP/1.1\r\nConnection: close\r\n\r\n",
        "a".repeat(100_000)
    );
    let _ = exchange(port, long.as_bytes());
    // A client that connects and says nothing, then leaves.
    drop(TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).unwrap());
    assert!(status_line(&get(port, "/status", "")).contains("200"));
    c.shutdown().unwrap();
}

#[test]
fn off_means_no_dashboard() {
    let c = cluster("off");
    assert_eq!(c.dashboard_link(), None);
    c.shutdown().unwrap();
}

fn total_of(xs: Vec<u64>) -> u64 {
    xs.iter().sum()
}

fn spin(ms: u64) -> u64 {
    let start = std::time::Instant::now();
    let mut x = 0u64;
    while start.elapsed() < Duration::from_millis(ms) {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
    }
    ms
}

/// Polls `/api/snapshot?edges=1` until `done` holds (10 s at most).
fn snapshot_until(port: u16, done: impl Fn(&str) -> bool) -> String {
    let mut json = String::new();
    for _ in 0..100 {
        json = get(port, "/api/snapshot?edges=1", "");
        if done(&json) {
            return json;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the snapshot never got there: {json}");
}

#[test]
fn functions_named_graph_by_function_cpu_and_a_stream_from_task_events() {
    let c = rankflow::initialize(
        Config::new()
            .mode(Mode::Local)
            .local_workers(2)
            .threads_per_worker(2)
            .task_events(true)
            .dashboard_address("127.0.0.1:0"),
    )
    .unwrap();
    let port = port_of(c.dashboard_link().unwrap());
    // Someone watches from the start, so the workers' CPU time is sampled.
    assert!(status_line(&get(port, "/graph", "")).contains("200"));
    let leaves = c.map(double, 0..40u64).unwrap();
    let sums: Vec<_> = leaves
        .chunks(10)
        .map(|ch| c.submit(total_of, ch.to_vec()).unwrap())
        .collect();
    let spun = c.map(spin, [400u64, 401, 402, 403]).unwrap();
    let total: u64 = sums.iter().map(|f| f.result().unwrap()).sum();
    assert_eq!(total, 2 * (0..40u64).sum::<u64>());
    for f in &spun {
        f.result().unwrap();
    }
    // Names came from the client (once per function), edges by function.
    let json = snapshot_until(port, |j| {
        j.contains("\"done_total\":48") && !j.contains("\"cpu_percent\":null")
    });
    for name in ["double", "total_of", "spin"] {
        assert!(
            json.contains(&format!("{{\"label\":\"{name}\",")),
            "{name}: {json}"
        );
    }
    assert!(!json.contains("\"label\":\"fn "), "unnamed: {json}");
    assert!(json.contains("\"edges_counted\":true"), "{json}");
    assert!(
        json.contains("{\"from\":\"double\",\"to\":\"total_of\",\"count\":40}"),
        "{json}"
    );
    // Every bar once, from the task events: each with its executor thread.
    let stream = get(port, "/api/stream?since=0", "");
    assert_eq!(stream.matches("\"seq\":").count(), 48, "{stream}");
    assert_eq!(stream.matches("\"thread\":null").count(), 0, "{stream}");
    assert_eq!(stream.matches("\"function\":\"double\"").count(), 40);
    let page = get(port, "/graph", "");
    assert!(page.contains("<title>rankflow graph</title>"), "{page}");
    assert!(page.contains("\"to\":\"total_of\""), "{page}");
    drop((leaves, sums, spun));
    c.shutdown().unwrap();
}
