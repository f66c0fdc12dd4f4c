//! The HTTP/WebSocket server: routes, the 20 Hz sampling task and the client tasks.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use runtime::clock::{monotonic_ns, wall_clock_ns};
use serde::Deserialize;
use tokio::sync::oneshot;
use warp::http::{HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::ws::{Message, WebSocket, Ws};
use warp::{Filter, Reply};

use crate::assets::{self, AssetSource, Page};
use crate::auth::{bearer, check_token, protocol_token, OriginPolicy, Refusal, Token};
use crate::broadcast::{Broadcaster, ClientHandle, FrameText, RegisterError};
use crate::frame::{Frame, FrameType, HistInfo, HistoryRings, State, PROTOCOL_VERSION};
use crate::kill::{self, KillTracker};
use crate::metrics::{self, ServerCounters};
use crate::procfs::ProcSampler;
use crate::sampler::build_state;
use crate::view::{EngineReading, EngineView, ViewError};

/// The subprotocol the cockpit speaks; the token rides beside it as `token.<hex>`.
pub const WS_PROTOCOL: &str = "cockpit.v1";

/// Settings of a running server (see [`crate::UiConfig`] for the documented defaults).
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub frame_interval: Duration,
    /// Read histograms every this many frames (they are large; percentiles move slowly).
    pub histogram_every_frames: u64,
    pub client_queue_frames: usize,
    pub client_send_timeout: Duration,
    pub max_clients: usize,
    pub kill_watch_timeout: Duration,
}

#[derive(Default)]
struct Counters {
    clients_dropped: AtomicU64,
    frames_sent: AtomicU64,
    refused_control: AtomicU64,
    refused_ws: AtomicU64,
}

struct Inner {
    seq: u64,
    ticks: u64,
    history: HistoryRings,
    latest: State,
    latest_reading: Option<EngineReading>,
    latest_hists: Vec<HistInfo>,
    clients: Broadcaster,
}

pub(crate) struct Shared {
    settings: ServerSettings,
    /// Raised when the supervisor asks the UI actor to stop.
    stop: tokio::sync::Notify,
    stopping: std::sync::atomic::AtomicBool,
    policy: OriginPolicy,
    token: Token,
    view: Arc<dyn EngineView>,
    kill: Arc<KillTracker>,
    assets: Box<dyn AssetSource>,
    proc: Mutex<ProcSampler>,
    inner: Mutex<Inner>,
    counters: Counters,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain data behind; carry on with it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Sample the engine once and publish an update frame.
    fn tick(&self) {
        let now_ns = monotonic_ns();
        let wall_ms = wall_clock_ns() / 1_000_000;
        self.view.heartbeat(now_ns);
        if self.view.stop_requested() && !self.stopping.swap(true, Ordering::AcqRel) {
            self.stop.notify_one();
        }
        let with_hists = {
            let g = lock(&self.inner);
            g.ticks
                .is_multiple_of(self.settings.histogram_every_frames.max(1))
        };
        let reading = self.view.read(now_ns, with_hists);
        let mut state = {
            let mut p = lock(&self.proc);
            build_state(
                self.view.engine_name(),
                &reading,
                &mut p,
                self.kill.latest(),
                now_ns,
                wall_ms,
            )
        };
        let mut g = lock(&self.inner);
        g.ticks += 1;
        if with_hists || reading.is_err() {
            g.latest_hists = state.histograms.clone();
        } else {
            state.histograms = g.latest_hists.clone();
        }
        g.seq += 1;
        g.history.record(&state);
        let frame = Frame {
            kind: FrameType::Update,
            version: PROTOCOL_VERSION,
            seq: g.seq,
            state,
            history: None,
        };
        let text: FrameText = match serde_json::to_string(&frame) {
            Ok(t) => Arc::from(t),
            Err(e) => {
                eprintln!("ui: cannot serialize a frame: {e}");
                return;
            }
        };
        g.latest = frame.state;
        match reading {
            Ok(r) if with_hists => g.latest_reading = Some(r),
            Ok(mut r) => {
                // keep the last histograms for /metrics
                if let Some(prev) = g.latest_reading.take() {
                    r.histograms = prev.histograms;
                }
                g.latest_reading = Some(r);
            }
            Err(_) => g.latest_reading = None,
        }
        let st = g.clients.publish(&text);
        self.counters
            .frames_sent
            .fetch_add(st.queued, Ordering::Relaxed);
        self.counters
            .clients_dropped
            .fetch_add(st.dropped_slow, Ordering::Relaxed);
    }

    fn register(&self) -> Result<ClientHandle, RegisterError> {
        let mut g = lock(&self.inner);
        let frame = Frame {
            kind: FrameType::Snapshot,
            version: PROTOCOL_VERSION,
            seq: g.seq,
            state: g.latest.clone(),
            history: Some(g.history.to_history()),
        };
        let text = serde_json::to_string(&frame).unwrap_or_default();
        g.clients.register(Arc::from(text))
    }

    fn unregister(&self, id: u64) {
        lock(&self.inner).clients.unregister(id);
    }

    fn server_counters(&self) -> ServerCounters {
        ServerCounters {
            clients: lock(&self.inner).clients.len() as u64,
            clients_dropped: self.counters.clients_dropped.load(Ordering::Relaxed),
            frames_sent: self.counters.frames_sent.load(Ordering::Relaxed),
            refused_control: self.counters.refused_control.load(Ordering::Relaxed),
            refused_ws: self.counters.refused_ws.load(Ordering::Relaxed),
        }
    }

    fn metrics_text(&self) -> String {
        let counters = self.server_counters();
        let g = lock(&self.inner);
        metrics::render(&g.latest, g.latest_reading.as_ref(), &counters)
    }
}

/// A server started by [`start`]: its address and a handle to stop it.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub token: Token,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
    shared: Arc<Shared>,
}

impl RunningServer {
    /// Stop accepting, end the sampler, and wait for the server task.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = self.done.await;
    }

    /// Run until the server ends: true when the supervisor asked it to stop.
    pub async fn wait(self) -> bool {
        let _ = self.done.await;
        self.shared.stopping.load(Ordering::Acquire)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source} (another engine's UI on this port? change the UI address in the topology)")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Start serving on `listen` (port 0 picks a free port). Must run inside a tokio runtime.
pub async fn start(
    listen: SocketAddr,
    policy_extra_hosts: Vec<String>,
    allow_remote: bool,
    token: Token,
    view: Arc<dyn EngineView>,
    assets: Box<dyn AssetSource>,
    settings: ServerSettings,
) -> Result<RunningServer, StartError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: listen,
        source,
    })?;
    let policy = OriginPolicy {
        port: addr.port(),
        allow_remote,
        extra_hosts: policy_extra_hosts,
    };
    let empty_state = build_state(
        view.engine_name(),
        &Err(ViewError::NotRunning {
            engine: view.engine_name().to_string(),
            detail: "not sampled yet".into(),
        }),
        &mut ProcSampler::new(),
        None,
        monotonic_ns(),
        wall_clock_ns() / 1_000_000,
    );
    let shared = Arc::new(Shared {
        policy,
        token: token.clone(),
        view,
        kill: Arc::new(KillTracker::default()),
        assets,
        proc: Mutex::new(ProcSampler::new()),
        inner: Mutex::new(Inner {
            seq: 0,
            ticks: 0,
            history: HistoryRings::default(),
            latest: empty_state,
            latest_reading: None,
            latest_hists: vec![],
            clients: Broadcaster::new(settings.max_clients, settings.client_queue_frames),
        }),
        settings,
        stop: tokio::sync::Notify::new(),
        stopping: std::sync::atomic::AtomicBool::new(false),
        counters: Counters::default(),
    });
    // First sample before accepting, so a snapshot always carries real state.
    shared.tick();

    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let sampler = {
        let sh = Arc::clone(&shared);
        tokio::spawn(async move {
            let mut iv = tokio::time::interval(sh.settings.frame_interval);
            iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            iv.tick().await; // the first tick is immediate: already sampled above
            loop {
                iv.tick().await;
                sh.tick();
            }
        })
    };
    let stopper = Arc::clone(&shared);
    let server = warp::serve(routes(Arc::clone(&shared)))
        .incoming(listener)
        .graceful(async move {
            tokio::select! {
                _ = stop_rx => {}
                _ = stopper.stop.notified() => {}
            }
        });
    let ended = Arc::clone(&shared);
    let done = tokio::spawn(async move {
        server.run().await;
        sampler.abort();
        if ended.stopping.load(Ordering::Acquire) {
            ended.view.mark_stopped();
        }
    });
    Ok(RunningServer {
        addr,
        token,
        stop: Some(stop_tx),
        done,
        shared,
    })
}

#[derive(Deserialize, Default)]
struct KillBody {
    #[serde(default)]
    reason: String,
}

fn json(status: StatusCode, v: serde_json::Value) -> Response {
    warp::reply::with_status(warp::reply::json(&v), status).into_response()
}

fn refused(r: &Refusal) -> Response {
    let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::FORBIDDEN);
    json(status, serde_json::json!({ "error": r.to_string() }))
}

/// Cut a reason to `max` bytes at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn security_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    let mut put = |k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    // The kill switch must never be framed by another site (clickjacking).
    put("x-frame-options", "DENY");
    put(
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
         connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    );
    put("x-content-type-options", "nosniff");
    put("referrer-policy", "no-referrer");
    h
}

type Hdr = Option<String>;

fn routes(
    shared: Arc<Shared>,
) -> impl Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone + Send + Sync + 'static
{
    let sh = warp::any().map(move || Arc::clone(&shared));
    let origin = warp::header::optional::<String>("origin");
    let host = warp::header::optional::<String>("host");
    let authz = warp::header::optional::<String>("authorization");

    let ws = warp::path("ws")
        .and(warp::path::end())
        .and(warp::ws())
        .and(origin)
        .and(host)
        .and(warp::header::optional::<String>("sec-websocket-protocol"))
        .and(authz)
        .and(sh.clone())
        .map(
            |ws: Ws, origin: Hdr, host: Hdr, proto: Hdr, authz: Hdr, sh: Arc<Shared>| -> Response {
                if let Err(r) = sh
                    .policy
                    .check_origin(origin.as_deref(), host.as_deref(), false)
                {
                    sh.counters.refused_ws.fetch_add(1, Ordering::Relaxed);
                    return refused(&r);
                }
                let offered = protocol_token(proto.as_deref()).or(bearer(authz.as_deref()));
                if let Err(r) = check_token(&sh.token, offered) {
                    sh.counters.refused_ws.fetch_add(1, Ordering::Relaxed);
                    return refused(&r);
                }
                let handle = match sh.register() {
                    Ok(h) => h,
                    Err(RegisterError::Full) => {
                        return json(
                            StatusCode::SERVICE_UNAVAILABLE,
                            serde_json::json!({"error": "too many cockpit clients"}),
                        )
                    }
                };
                let wants_protocol = proto
                    .as_deref()
                    .is_some_and(|p| p.split(',').any(|x| x.trim() == WS_PROTOCOL));
                let sh2 = Arc::clone(&sh);
                let reply = ws
                    .max_message_size(64 * 1024)
                    .on_upgrade(move |socket| client_task(socket, handle, sh2))
                    .into_response();
                if wants_protocol {
                    // A browser that offered subprotocols fails the handshake unless one is chosen.
                    let mut reply = reply;
                    reply.headers_mut().insert(
                        "sec-websocket-protocol",
                        HeaderValue::from_static(WS_PROTOCOL),
                    );
                    reply
                } else {
                    reply
                }
            },
        );

    let received = warp::any().map(monotonic_ns);
    let kill = warp::post()
        .and(received)
        .and(warp::path!("api" / "kill"))
        .and(origin)
        .and(host)
        .and(authz)
        .and(warp::body::content_length_limit(4096))
        .and(warp::body::bytes())
        .and(sh.clone())
        .map(
            |received_ns: u64,
             origin: Hdr,
             host: Hdr,
             authz: Hdr,
             body: bytes::Bytes,
             sh: Arc<Shared>|
             -> Response {
                if let Err(r) = control_auth(&sh, &origin, &host, &authz) {
                    return refused(&r);
                }
                let parsed: KillBody = if body.is_empty() {
                    KillBody::default()
                } else {
                    match serde_json::from_slice(&body) {
                        Ok(b) => b,
                        Err(e) => {
                            return json(
                                StatusCode::BAD_REQUEST,
                                serde_json::json!({"error": format!("body must be JSON {{\"reason\": \"…\"}}: {e}")}),
                            )
                        }
                    }
                };
                let reason = if parsed.reason.trim().is_empty() {
                    "operator kill from cockpit"
                } else {
                    cut(parsed.reason.trim(), 40)
                };
                let timeout_ns = sh.settings.kill_watch_timeout.as_nanos() as u64;
                match kill::press(&sh.view, &sh.kill, received_ns, "cockpit", reason, timeout_ns) {
                    Ok(rep) => json(StatusCode::OK, serde_json::to_value(rep).unwrap_or_default()),
                    Err(e) => json(
                        StatusCode::SERVICE_UNAVAILABLE,
                        serde_json::json!({"error": e.to_string()}),
                    ),
                }
            },
        );

    let rearm = warp::post()
        .and(warp::path!("api" / "rearm"))
        .and(origin)
        .and(host)
        .and(authz)
        .and(warp::body::content_length_limit(4096))
        .and(sh.clone())
        .map(
            |origin: Hdr, host: Hdr, authz: Hdr, sh: Arc<Shared>| -> Response {
                if let Err(r) = control_auth(&sh, &origin, &host, &authz) {
                    return refused(&r);
                }
                match sh.view.rearm("cockpit") {
                    Ok(was_set) => {
                        sh.kill.clear();
                        json(
                            StatusCode::OK,
                            serde_json::json!({"ok": true, "was_set": was_set}),
                        )
                    }
                    Err(e) => json(
                        StatusCode::SERVICE_UNAVAILABLE,
                        serde_json::json!({"error": e.to_string()}),
                    ),
                }
            },
        );

    let auth = warp::get()
        .and(warp::path!("api" / "auth"))
        .and(origin)
        .and(host)
        .and(authz)
        .and(sh.clone())
        .map(
            |origin: Hdr, host: Hdr, authz: Hdr, sh: Arc<Shared>| -> Response {
                let r = sh
                    .policy
                    .check_origin(origin.as_deref(), host.as_deref(), false)
                    .and_then(|_| check_token(&sh.token, bearer(authz.as_deref())));
                match r {
                    Ok(()) => StatusCode::NO_CONTENT.into_response(),
                    Err(r) => refused(&r),
                }
            },
        );

    let metrics = warp::get()
        .and(warp::path("metrics"))
        .and(warp::path::end())
        .and(sh.clone())
        .map(|sh: Arc<Shared>| -> Response {
            let mut r = sh.metrics_text().into_response();
            r.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            r
        });

    let files = warp::get()
        .and(warp::path::full())
        .and(warp::addr::remote())
        .and(host)
        .and(sh.clone())
        .map(
            |path: warp::path::FullPath,
             peer: Option<SocketAddr>,
             host: Hdr,
             sh: Arc<Shared>|
             -> Response {
                let host = host.unwrap_or_default();
                if !sh.policy.host_allowed(&host) {
                    return refused(&Refusal::BadHost(host));
                }
                // The token goes into the page only for a loopback peer that named us by a
                // loopback host: never for a remote client or a rebinding DNS name.
                let loopback =
                    peer.is_some_and(|p| p.ip().is_loopback()) && sh.policy.host_is_loopback(&host);
                let token = loopback.then(|| sh.token.as_str());
                match assets::resolve(&*sh.assets, path.as_str(), token) {
                    Page::File { body, mime, cache } => {
                        let mut r = Response::new(body.into());
                        let h = r.headers_mut();
                        if let Ok(v) = HeaderValue::from_str(&mime) {
                            h.insert("content-type", v);
                        }
                        h.insert(
                            "cache-control",
                            HeaderValue::from_static(if cache {
                                "public, max-age=31536000, immutable"
                            } else {
                                "no-store"
                            }),
                        );
                        r
                    }
                    Page::NotFound => {
                        warp::reply::with_status("not found\n", StatusCode::NOT_FOUND)
                            .into_response()
                    }
                    Page::NotBuilt => {
                        warp::reply::with_status(assets::NOT_BUILT, StatusCode::SERVICE_UNAVAILABLE)
                            .into_response()
                    }
                }
            },
        );

    ws.or(kill)
        .unify()
        .or(rearm)
        .unify()
        .or(auth)
        .unify()
        .or(metrics)
        .unify()
        .or(files)
        .unify()
        .recover(|rej: warp::Rejection| async move {
            let (status, msg) = if rej.is_not_found() {
                (StatusCode::NOT_FOUND, "not found".to_string())
            } else if let Some(e) = rej.find::<warp::reject::PayloadTooLarge>() {
                (StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
            } else if rej.find::<warp::reject::MethodNotAllowed>().is_some() {
                (
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method not allowed".to_string(),
                )
            } else {
                (StatusCode::BAD_REQUEST, format!("{rej:?}"))
            };
            Ok::<Response, std::convert::Infallible>(json(
                status,
                serde_json::json!({"error": msg}),
            ))
        })
        .unify()
        .map(|mut r: Response| {
            r.headers_mut().extend(security_headers());
            r
        })
}

fn control_auth(sh: &Shared, origin: &Hdr, host: &Hdr, authz: &Hdr) -> Result<(), Refusal> {
    let r = sh
        .policy
        .check_origin(origin.as_deref(), host.as_deref(), true)
        .and_then(|_| check_token(&sh.token, bearer(authz.as_deref())));
    if r.is_err() {
        sh.counters.refused_control.fetch_add(1, Ordering::Relaxed);
    }
    r
}

async fn client_task(socket: WebSocket, mut h: ClientHandle, sh: Arc<Shared>) {
    let (mut tx, mut rx) = socket.split();
    let timeout = sh.settings.client_send_timeout;
    loop {
        tokio::select! {
            next = h.rx.recv() => {
                if h.kicked.load(Ordering::Acquire) {
                    let _ = tokio::time::timeout(
                        Duration::from_millis(100),
                        tx.send(Message::close_with(1008u16, "too slow: reconnect for a fresh snapshot")),
                    ).await;
                    break;
                }
                let Some(text) = next else { break };
                match tokio::time::timeout(timeout, tx.send(Message::text(text.as_ref()))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => break,
                    Err(_) => {
                        // The socket did not take a frame within the limit: drop the client.
                        sh.counters.clients_dropped.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
            incoming = rx.next() => match incoming {
                Some(Ok(m)) if m.is_close() => break,
                Some(Ok(_)) => {} // the protocol is one-way; pings are answered by tungstenite
                _ => break,
            },
        }
    }
    sh.unregister(h.id);
}
