//! A hostile browser or local process against the real UI server, started in-process on
//! 127.0.0.1:0 over a real control block: oversized and malformed WebSocket frames, control
//! requests without the token, with a wrong one, from a foreign Origin, with an oversized body.
//! Each is refused and counted (`/metrics`), the kill latch is never touched by a refused
//! request, and other clients keep their stream. Also the permission rules: token file 0600,
//! no bind beyond loopback without the explicit flag (and a warning with it).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use runtime::control::{actor_state, ActorSpec, ControlBlock};
use runtime::shm::ShmDir;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use ui::assets::AssetSource;
use ui::shm_view::ShmView;
use ui::{EngineView, RunningServer, ServerSettings, Token};

const TOKEN: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

/// Fails the process if the test has not finished within `secs` (a hang fails fast).
struct Watchdog(Arc<AtomicBool>);

impl Watchdog {
    fn new(secs: u64, what: &'static str) -> Watchdog {
        let done = Arc::new(AtomicBool::new(false));
        let d = Arc::clone(&done);
        std::thread::spawn(move || {
            for _ in 0..secs * 10 {
                std::thread::sleep(Duration::from_millis(100));
                if d.load(Ordering::Acquire) {
                    return;
                }
            }
            eprintln!("watchdog: {what} did not finish within {secs} s");
            std::process::exit(101);
        });
        Watchdog(done)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

struct NoAssets;
impl AssetSource for NoAssets {
    fn get(&self, _path: &str) -> Option<(std::borrow::Cow<'static, [u8]>, String)> {
        None
    }
}

struct Engine {
    _dir: tempfile::TempDir,
    cb: Arc<ControlBlock>,
}

fn engine(name: &str) -> Engine {
    let dir = tempfile::tempdir().unwrap();
    let shm = ShmDir::create(Some(dir.path()), name).unwrap();
    let cb = ControlBlock::create(
        &shm,
        name,
        &[
            ActorSpec::new("feed", "feed", Some(1)),
            ActorSpec::new("execution", "execution", Some(1)),
            ActorSpec::new("ui", "ui", Some(0)),
        ],
    )
    .unwrap();
    for s in cb.actors() {
        s.begin_incarnation(std::process::id(), 1, false);
        s.set_state(actor_state::RUNNING);
    }
    Engine {
        _dir: dir,
        cb: Arc::new(cb),
    }
}

async fn serve(e: &Engine, name: &str) -> RunningServer {
    let view: Arc<dyn EngineView> = Arc::new(ShmView::with_block(name, Arc::clone(&e.cb)));
    ui::start(
        "127.0.0.1:0".parse().unwrap(),
        vec![],
        false,
        Token::from_hex(TOKEN).unwrap(),
        view,
        Box::new(NoAssets),
        ServerSettings {
            frame_interval: Duration::from_millis(20),
            histogram_every_frames: 1,
            client_queue_frames: 8,
            client_send_timeout: Duration::from_millis(300),
            max_clients: 4,
            kill_watch_timeout: Duration::from_secs(1),
        },
    )
    .await
    .unwrap()
}

/// One raw HTTP/1.1 exchange; returns (status, whole reply). Blocking: use spawn_blocking.
fn raw_http(addr: SocketAddr, request: Vec<u8>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(&request);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn kill_request(addr: SocketAddr, headers: &[(&str, String)], body: &str) -> Vec<u8> {
    let mut req = format!(
        "POST /api/kill HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    req.into_bytes()
}

/// (headers, body, expected status, counted as a refused control action)
type KillCase<'a> = (Vec<(&'a str, String)>, String, u16, bool);

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("metric {name} missing"))
}

#[tokio::test(flavor = "current_thread")]
async fn refused_control_requests_never_touch_the_kill_latch_and_are_counted() {
    let _w = Watchdog::new(30, "refused control requests");
    let e = engine("hostile-ui-ctl");
    let srv = serve(&e, "hostile-ui-ctl").await;
    let a = srv.addr;
    let same = format!("http://{a}");
    let bearer = format!("Bearer {TOKEN}");
    let cases: Vec<KillCase> = vec![
        (vec![("Origin", same.clone())], String::new(), 401, true),
        (
            vec![
                ("Origin", same.clone()),
                ("Authorization", "Bearer 0".into()),
            ],
            String::new(),
            401,
            true,
        ),
        (
            // The token with one hex digit changed.
            vec![
                ("Origin", same.clone()),
                ("Authorization", format!("Bearer {}1", &TOKEN[..63])),
            ],
            String::new(),
            401,
            true,
        ),
        (
            // The right token as another scheme.
            vec![
                ("Origin", same.clone()),
                ("Authorization", format!("Basic {TOKEN}")),
            ],
            String::new(),
            401,
            true,
        ),
        (
            vec![("Authorization", bearer.clone())],
            String::new(),
            403,
            true,
        ),
        (
            vec![
                ("Authorization", bearer.clone()),
                ("Origin", "http://evil.example".into()),
            ],
            String::new(),
            403,
            true,
        ),
        (
            vec![("Authorization", bearer.clone()), ("Origin", "null".into())],
            String::new(),
            403,
            true,
        ),
        (
            // https:// of our own host is another origin.
            vec![
                ("Authorization", bearer.clone()),
                ("Origin", format!("https://{a}")),
            ],
            String::new(),
            403,
            true,
        ),
        (
            // Right token and Origin, body over the 4096-byte limit: refused before auth.
            vec![("Authorization", bearer.clone()), ("Origin", same.clone())],
            format!("{{\"reason\":\"{}\"}}", "x".repeat(5000)),
            413,
            false,
        ),
        (
            // Right token and Origin, body not JSON: refused, nothing set.
            vec![("Authorization", bearer.clone()), ("Origin", same.clone())],
            "\u{0}\u{1}garbage{".to_string(),
            400,
            false,
        ),
    ];
    let mut counted = 0.0;
    for (i, (headers, body, want, is_counted)) in cases.into_iter().enumerate() {
        let req = kill_request(a, &headers, &body);
        let (status, text) = tokio::task::spawn_blocking(move || raw_http(a, req))
            .await
            .unwrap();
        assert_eq!(status, want, "case {i}: {text}");
        assert!(
            text.contains("\"error\""),
            "case {i}: no error message: {text}"
        );
        assert!(!e.cb.is_killed(), "case {i} set the kill switch");
        if is_counted {
            counted += 1.0;
        }
    }
    let metrics = tokio::task::spawn_blocking(move || {
        raw_http(
            a,
            format!("GET /metrics HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n\r\n").into_bytes(),
        )
    })
    .await
    .unwrap()
    .1;
    assert_eq!(metric(&metrics, "ui_refused_control_total"), counted);
    // And the genuine request still works: the refusals did not wedge the server.
    let req = kill_request(
        a,
        &[("Authorization", bearer), ("Origin", same)],
        "{\"reason\":\"hostile test\"}",
    );
    let (status, text) = tokio::task::spawn_blocking(move || raw_http(a, req))
        .await
        .unwrap();
    assert!(status == 200 || status == 503, "{text}");
    assert!(e.cb.is_killed());
    assert_eq!(e.cb.kill_info().unwrap().by, "cockpit");
    srv.shutdown().await;
}

fn ws_request(addr: SocketAddr) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
    req.headers_mut()
        .insert("origin", format!("http://{addr}").parse().unwrap());
    req.headers_mut().insert(
        "sec-websocket-protocol",
        format!("cockpit.v1, token.{TOKEN}").parse().unwrap(),
    );
    req
}

#[tokio::test(flavor = "current_thread")]
async fn oversized_and_malformed_websocket_frames_drop_that_client_only() {
    let _w = Watchdog::new(30, "websocket frames");
    let e = engine("hostile-ui-ws");
    let srv = serve(&e, "hostile-ui-ws").await;
    let a = srv.addr;
    let (mut good, _) = tokio_tungstenite::connect_async(ws_request(a))
        .await
        .unwrap();
    let (mut bad, _) = tokio_tungstenite::connect_async(ws_request(a))
        .await
        .unwrap();
    // Malformed for this one-way protocol: binary garbage, text that looks like a command.
    bad.send(Message::binary(vec![0xffu8; 1000])).await.unwrap();
    bad.send(Message::text("{\"type\":\"kill\",\"reason\":\"via ws\"}"))
        .await
        .unwrap();
    // Over the 64 KiB message limit.
    let _ = bad.send(Message::binary(vec![0u8; 1 << 20])).await;
    // The server ends this client: the stream closes (a Close frame or the socket) in bounded
    // time, after at most the frames already queued for it.
    let mut after = 0usize;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), bad.next()).await {
            Ok(Some(Ok(Message::Close(_)))) | Ok(Some(Err(_))) | Ok(None) => break,
            Ok(Some(Ok(_))) => {
                after += 1;
                assert!(after < 1000, "the oversized sender keeps streaming");
            }
            Err(_) => panic!("the oversized sender was not dropped within 10 s"),
        }
    }
    // The other client keeps receiving frames with increasing sequence numbers.
    let mut last_seq = 0u64;
    for _ in 0..5 {
        let m = tokio::time::timeout(Duration::from_secs(5), good.next())
            .await
            .expect("the good client still streams")
            .unwrap()
            .unwrap();
        let v: serde_json_like::Value = serde_json_like::parse(&m.into_text().unwrap());
        let seq = v.seq;
        assert!(seq >= last_seq, "seq went back: {seq} < {last_seq}");
        last_seq = seq;
    }
    assert!(!e.cb.is_killed(), "a WebSocket message set the kill switch");
    srv.shutdown().await;
}

/// Just enough JSON reading for the frame's `seq` (the hardening crate does not pull serde).
mod serde_json_like {
    pub struct Value {
        pub seq: u64,
    }
    pub fn parse(text: &str) -> Value {
        let at = text.find("\"seq\":").expect("frame has seq") + 6;
        let digits: String = text[at..]
            .chars()
            .skip_while(|c| c.is_whitespace())
            .take_while(|c| c.is_ascii_digit())
            .collect();
        Value {
            seq: digits.parse().expect("seq is a number"),
        }
    }
}

#[test]
fn the_token_file_is_0600_even_when_a_loose_one_was_there() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine").join("ui.token");
    let token = Token::from_hex(TOKEN).unwrap();
    token.write_file(&path).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    // Someone widened it (or left an old world-readable file): rewritten 0600.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&path, "old token\n").unwrap();
    token.write_file(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!("{TOKEN}\n")
    );
}

#[test]
fn the_token_file_is_not_written_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "keep me\n").unwrap();
    let path = dir.path().join("ui.token");
    std::os::unix::fs::symlink(&victim, &path).unwrap();
    let r = Token::from_hex(TOKEN).unwrap().write_file(&path);
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "keep me\n",
        "{r:?}"
    );
}

/// Runs in a child process (see the test below) so its stderr can be read.
#[test]
fn bind_child() {
    if std::env::var_os("HARDENING_BIND_CHILD").is_none() {
        return;
    }
    ui::check_bind("0.0.0.0:8787".parse().unwrap(), true).unwrap();
}

#[test]
fn binding_beyond_loopback_needs_the_explicit_flag_and_warns() {
    for addr in ["0.0.0.0:8787", "192.0.2.1:8787", "[::]:8787"] {
        let addr: SocketAddr = addr.parse().unwrap();
        let e = ui::check_bind(addr, false).expect_err("non-loopback bind without the flag");
        let msg = e.to_string();
        assert!(msg.contains("not a loopback address"), "{msg}");
    }
    ui::check_bind("127.0.0.1:8787".parse().unwrap(), false).unwrap();
    ui::check_bind("[::1]:8787".parse().unwrap(), false).unwrap();
    // With the flag: allowed, and a warning on stderr.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "bind_child", "--nocapture", "--test-threads=1"])
        .env("HARDENING_BIND_CHILD", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("WARNING") && err.contains("0.0.0.0:8787"),
        "{err}"
    );
}
