//! Test helpers: a real control block in a temp dir, a UI server on a free port, a tiny
//! HTTP/1.1 client and a watchdog.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use runtime::control::{actor_state, ActorSpec, ControlBlock};
use runtime::shm::ShmDir;
use ui::assets::AssetSource;
use ui::shm_view::ShmView;
use ui::{EngineView, RunningServer, ServerSettings, Token};

pub const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Fails the test process if `f` has not finished within `secs` (a hang fails fast).
pub struct Watchdog(Arc<AtomicBool>);

impl Watchdog {
    pub fn new(secs: u64, what: &'static str) -> Watchdog {
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

pub struct Engine {
    pub _dir: tempfile::TempDir,
    pub shm: ShmDir,
    pub cb: Arc<ControlBlock>,
    pub name: String,
}

/// A control block as the supervisor creates it: feed, oracle, execution (hot) and the UI.
pub fn engine(name: &str) -> Engine {
    let dir = tempfile::tempdir().unwrap();
    let shm = ShmDir::create(Some(dir.path()), name).unwrap();
    let cb = ControlBlock::create(
        &shm,
        name,
        &[
            ActorSpec::new("feed", "feed", Some(1)),
            ActorSpec::new("oracle", "oracle", Some(1)),
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
        shm,
        cb: Arc::new(cb),
        name: name.to_string(),
    }
}

pub struct NoAssets;
impl AssetSource for NoAssets {
    fn get(&self, _path: &str) -> Option<(std::borrow::Cow<'static, [u8]>, String)> {
        None
    }
}

pub fn settings() -> ServerSettings {
    ServerSettings {
        frame_interval: Duration::from_millis(20),
        histogram_every_frames: 1,
        client_queue_frames: 8,
        client_send_timeout: Duration::from_millis(300),
        max_clients: 4,
        kill_watch_timeout: Duration::from_secs(5),
    }
}

pub async fn serve(e: &Engine, settings: ServerSettings) -> RunningServer {
    let view: Arc<dyn EngineView> = Arc::new(ShmView::with_block(&e.name, Arc::clone(&e.cb)));
    ui::start(
        "127.0.0.1:0".parse().unwrap(),
        vec![],
        false,
        Token::from_hex(TOKEN).unwrap(),
        view,
        Box::new(NoAssets),
        settings,
    )
    .await
    .unwrap()
}

pub struct HttpReply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// One HTTP/1.1 request on a fresh connection (blocking; call from spawn_blocking in async tests).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> HttpReply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    // Small replies only: undo chunked encoding if hyper chose it.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    HttpReply {
        status,
        head: head.to_string(),
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}
