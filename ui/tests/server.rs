//! The UI actor against a real control block: who may act, the kill latch, the WebSocket
//! stream, and dropping a client that falls behind.

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use runtime::clock::monotonic_ns;
use runtime::control::actor_state;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

fn same_origin(addr: std::net::SocketAddr) -> String {
    format!("http://{addr}")
}

async fn http_async(
    addr: std::net::SocketAddr,
    method: &'static str,
    path: &'static str,
    headers: Vec<(String, String)>,
    body: &'static str,
) -> HttpReply {
    tokio::task::spawn_blocking(move || {
        let h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        http(addr, method, path, &h, body)
    })
    .await
    .unwrap()
}

fn hdr(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

#[tokio::test(flavor = "current_thread")]
async fn control_actions_without_token_or_from_a_foreign_origin_are_refused() {
    let _w = Watchdog::new(30, "control refusals");
    let e = engine("refuse");
    let srv = serve(&e, settings()).await;
    let a = srv.addr;
    let bearer = format!("Bearer {TOKEN}");
    type Case = (Vec<(String, String)>, u16, &'static str);
    let cases: Vec<Case> = vec![
        (vec![hdr("Origin", &same_origin(a))], 401, "no token"),
        (
            vec![
                hdr("Origin", &same_origin(a)),
                hdr("Authorization", "Bearer 00ff"),
            ],
            401,
            "wrong token",
        ),
        (vec![hdr("Authorization", &bearer)], 403, "no Origin"),
        (
            vec![
                hdr("Authorization", &bearer),
                hdr("Origin", "http://evil.example"),
            ],
            403,
            "foreign Origin",
        ),
        (
            vec![
                hdr("Authorization", &bearer),
                hdr("Origin", &format!("http://127.0.0.1:{}", a.port() + 1)),
            ],
            403,
            "other port",
        ),
        (
            vec![
                hdr("Authorization", &bearer),
                hdr("Host", &format!("evil.example:{}", a.port())),
                hdr("Origin", &format!("http://evil.example:{}", a.port())),
            ],
            403,
            "rebinding Host",
        ),
    ];
    for (headers, want, what) in cases {
        let r = http_async(a, "POST", "/api/kill", headers.clone(), "{}").await;
        assert_eq!(r.status, want, "kill with {what}: {}", r.body);
        assert!(
            r.body.contains("error"),
            "{what}: body says why: {}",
            r.body
        );
        let r = http_async(a, "POST", "/api/rearm", headers, "{}").await;
        assert_eq!(r.status, want, "rearm with {what}");
    }
    assert!(!e.cb.is_killed(), "no refused request may set the latch");

    // The metrics count the refusals: 6 kills + 6 rearms.
    let m = http_async(a, "GET", "/metrics", vec![], "").await;
    assert!(m.body.contains("ui_refused_control_total 12"), "{}", m.body);
    srv.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_kill_request_sets_the_latch_and_the_frames_report_press_to_all_halted() {
    let _w = Watchdog::new(30, "kill path");
    let e = engine("killpath");
    let srv = serve(&e, settings()).await;
    let a = srv.addr;

    // The hot actors' part, as the actor loop does it: see the flag, record it, mark HALTED.
    // Execution takes 40 ms to halt (cancelling orders), so the measurement must be ≥ 40 ms.
    let cb = e.cb.clone();
    let actors = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        while !cb.is_killed() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "kill never arrived"
            );
            std::thread::sleep(Duration::from_micros(100));
        }
        for name in ["feed", "oracle"] {
            let s = cb.slot(cb.find(name).unwrap());
            s.record_kill_seen(monotonic_ns(), 0);
            s.set_state(actor_state::HALTED);
        }
        std::thread::sleep(Duration::from_millis(40));
        let s = cb.slot(cb.find("execution").unwrap());
        s.record_kill_seen(monotonic_ns(), 0);
        s.set_state(actor_state::HALTED);
    });

    let headers = vec![
        hdr("Authorization", &format!("Bearer {TOKEN}")),
        hdr("Origin", &same_origin(a)),
        hdr("Content-Type", "application/json"),
    ];
    let before = monotonic_ns();
    let r = http_async(
        a,
        "POST",
        "/api/kill",
        headers.clone(),
        r#"{"reason":"test press"}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let reply: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(reply["already_set"], false);
    assert!(reply["received_ns"].as_u64().unwrap() >= before);
    assert!(e.cb.is_killed(), "the latch is set when the reply arrives");
    let info = e.cb.kill_info().unwrap();
    assert_eq!(info.by, "cockpit");
    assert_eq!(info.reason, "test press");
    // joined off the runtime thread: the server shares this current-thread runtime
    tokio::task::spawn_blocking(move || actors.join().unwrap())
        .await
        .unwrap();

    // A second press finds it latched and changes nothing.
    let r = http_async(a, "POST", "/api/kill", headers.clone(), "{}").await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["already_set"],
        true
    );
    assert_eq!(e.cb.kill_info().unwrap().reason, "test press");

    // The frames carry HALTED and the measurement (the UI slot is not waited for).
    let mut req = format!("ws://{a}/ws").into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let measured = loop {
        let Some(Ok(Message::Text(t))) = ws.next().await else {
            panic!("stream ended")
        };
        let f: serde_json::Value = serde_json::from_str(&t).unwrap();
        assert_eq!(f["engine"]["state"], "HALTED", "{f}");
        assert_eq!(f["engine"]["kill"]["set"], true);
        if let Some(ns) = f["engine"]["kill_latency"]["all_halted_after_ns"].as_u64() {
            assert_eq!(
                f["engine"]["kill_latency"]["waiting_for"],
                serde_json::json!([])
            );
            break ns;
        }
    };
    assert!(
        measured >= 40_000_000,
        "press → all halted includes Execution's 40 ms: {measured}"
    );

    // Re-arm clears the latch and the measurement.
    let r = http_async(a, "POST", "/api/rearm", headers, "{}").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!e.cb.is_killed());
    srv.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn websocket_upgrade_checks_origin_and_token_then_streams_snapshot_and_updates() {
    let _w = Watchdog::new(30, "websocket");
    let e = engine("wsflow");
    let srv = serve(&e, settings()).await;
    let a = srv.addr;
    let url = format!("ws://{a}/ws");

    let refused = |origin: Option<&str>, protocols: &str| {
        let mut req = url.clone().into_client_request().unwrap();
        if let Some(o) = origin {
            req.headers_mut().insert("origin", o.parse().unwrap());
        }
        req.headers_mut()
            .insert("sec-websocket-protocol", protocols.parse().unwrap());
        req
    };
    let good = format!("cockpit.v1, token.{TOKEN}");
    for (req, want) in [
        (refused(Some("http://evil.example"), &good), 403),
        (refused(Some(&same_origin(a)), "cockpit.v1"), 401),
        (
            refused(Some(&same_origin(a)), "cockpit.v1, token.abcd"),
            401,
        ),
    ] {
        match tokio_tungstenite::connect_async(req).await {
            Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status().as_u16(), want),
            other => panic!("expected HTTP {want}, got {:?}", other.map(|_| ())),
        }
    }

    // What the actors publish: telemetry through the control block's seqlocks and a latency
    // histogram through hist.shm, as the real actors do.
    let mut ot = runtime::telemetry::OracleTelemetry {
        updated_ns: 1,
        wobi: 0.25,
        strength: -0.5,
        imbalance_pct: 12.5,
        microprice_e8: 10_150_000_000, // ₹101.50
        ..Default::default()
    };
    ot.level_imbalance[0] = 0.75;
    e.cb.oracle_telemetry().write(&ot);
    let mut sonar = runtime::telemetry::SonarTelemetry {
        updated_ns: 1,
        entropy: 0.9,
        regime: runtime::telemetry::REGIME_VETO,
        gate_open: 0,
        failing_check: runtime::telemetry::gate_check::STALE_DATA,
        ..Default::default()
    };
    sonar.failing_mask =
        runtime::telemetry::gate_check::bit(runtime::telemetry::gate_check::STALE_DATA)
            | runtime::telemetry::gate_check::bit(runtime::telemetry::gate_check::FEED_GAP);
    e.cb.sonar_telemetry().write(&sonar);
    e.cb.execution_telemetry()
        .write(&runtime::telemetry::ExecutionTelemetry {
            updated_ns: 1,
            orders_sent: 40,
            pnl_net_e8: -250_000_000, // −₹2.50
            otr_penalty: 60.0,
            fill_rate: 0.25,
            ..Default::default()
        });
    let region = runtime::hist::HistogramRegion::create(&e.shm).unwrap();
    let mut publisher = runtime::hist::HistogramPublisher::new(region, 0);
    let mut h = runtime::hist::new_histogram();
    h.record_n(1_000_000, 99).unwrap(); // 99 × 1 ms
    h.record(30_000_000).unwrap(); // one 30 ms round trip
    publisher.publish(runtime::hist::stage::RTT, &h, 1).unwrap();

    let (mut ws, resp) = tokio_tungstenite::connect_async(refused(Some(&same_origin(a)), &good))
        .await
        .unwrap();
    assert_eq!(
        resp.headers().get("sec-websocket-protocol").unwrap(),
        "cockpit.v1",
        "the server picks the cockpit subprotocol (browsers require it)"
    );
    let mut frames = vec![];
    while frames.len() < 8 {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                frames.push(serde_json::from_str::<serde_json::Value>(&t).unwrap())
            }
            Some(Ok(_)) => {}
            other => panic!("stream ended: {other:?}"),
        }
    }
    assert_eq!(frames[0]["type"], "snapshot");
    assert!(frames[0]["history"].is_object());
    let s0 = frames[0]["seq"].as_u64().unwrap();
    for (i, f) in frames.iter().enumerate().skip(1) {
        assert_eq!(f["type"], "update");
        assert!(f.get("history").is_none(), "updates carry no history");
        assert_eq!(
            f["seq"].as_u64().unwrap(),
            s0 + i as u64,
            "dense sequence after the snapshot"
        );
    }
    for f in &frames {
        assert_eq!(f["version"], 1);
        assert_eq!(f["engine"]["name"], "wsflow");
        assert_eq!(f["engine"]["state"], "UNKNOWN"); // the supervisor never set it here
        let names: Vec<&str> = f["actors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["feed", "oracle", "execution", "ui"]);
        // pid is this test process: /proc gives a last CPU
        assert!(f["actors"][0]["last_cpu"].as_i64().unwrap() >= 0);
        assert!(
            f["sentinel"].is_null(),
            "never published: no data, not zeros"
        );
    }
    // Telemetry published before the connection shows in every frame after the first tick.
    let last = frames.last().unwrap();
    assert_eq!(last["oracle"]["wobi"], 0.25);
    assert_eq!(last["oracle"]["microprice"], 101.5);
    assert_eq!(last["oracle"]["level_imbalance"][0], 0.75);
    assert_eq!(last["sonar"]["regime"], "VETO");
    assert_eq!(last["sonar"]["gate_open"], false);
    assert_eq!(last["sonar"]["failing_check"], "stale_data");
    assert_eq!(
        last["sonar"]["failing_checks"],
        serde_json::json!(["feed_gap", "stale_data"])
    );
    assert_eq!(last["execution"]["orders_sent"], 40);
    assert_eq!(last["execution"]["pnl_net_inr"], -2.5);
    assert_eq!(last["execution"]["fill_rate_pct"], 25.0);
    assert_eq!(last["execution"]["penalty_paise_per_order"], 2);
    let rtt = last["histograms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["stage"] == "rtt")
        .expect("the RTT histogram from hist.shm");
    assert_eq!(rtt["count"], 100);
    // p50 = 1 ms and p99.9 = 30 ms within HDR's 0.1 %; p99 is the 99th value: still 1 ms
    let within =
        |v: &serde_json::Value, want: f64| (v.as_f64().unwrap() - want).abs() <= want * 0.001;
    assert!(within(&rtt["p50_ns"], 1e6), "{}", rtt["p50_ns"]);
    assert!(within(&rtt["p99_ns"], 1e6), "{}", rtt["p99_ns"]);
    assert!(within(&rtt["p999_ns"], 30e6), "{}", rtt["p999_ns"]);
    let b: u64 = rtt["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(b, 100);
    srv.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_client_that_stops_reading_is_dropped_not_buffered() {
    let _w = Watchdog::new(60, "slow client");
    let e = engine("slowclient");
    let mut s = settings();
    s.frame_interval = Duration::from_millis(2);
    let srv = serve(&e, s).await;
    let a = srv.addr;

    // A raw client with a tiny receive buffer that upgrades and then never reads.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let stream = sock.connect(a).await.unwrap();
    let mut req = format!("ws://{a}/ws").into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let (ws, _) = tokio_tungstenite::client_async(req, stream).await.unwrap();

    // Meanwhile a well-behaved client keeps receiving.
    let mut req = format!("ws://{a}/ws").into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let (mut good, _) = tokio_tungstenite::connect_async(req).await.unwrap();

    let dropped = loop {
        // keep the good client drained
        for _ in 0..50 {
            let _ = good.next().await;
        }
        let m = http_async(a, "GET", "/metrics", vec![], "").await;
        let line = m
            .body
            .lines()
            .find(|l| l.starts_with("ui_ws_clients_dropped_total "))
            .unwrap()
            .to_string();
        let n: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        if n > 0 {
            let clients = m
                .body
                .lines()
                .find(|l| l.starts_with("ui_ws_clients "))
                .unwrap()
                .to_string();
            break (n, clients);
        }
    };
    assert_eq!(dropped.0, 1, "exactly the slow client was dropped");
    assert_eq!(dropped.1, "ui_ws_clients 1", "the good client stays");
    // the good client still gets fresh frames
    let Some(Ok(Message::Text(_))) = good.next().await else {
        panic!("good client lost")
    };
    drop(ws);
    srv.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn the_ui_actor_beats_its_slot_and_stops_when_the_supervisor_asks() {
    let _w = Watchdog::new(30, "stop request");
    let e = engine("stopreq");
    let ui_slot = e.cb.slot(e.cb.find("ui").unwrap());
    ui_slot.set_state(actor_state::STARTING); // as the supervisor leaves a freshly spawned child
    let beats_before = ui_slot.heartbeat();
    let feed_beats = e.cb.slot(0).heartbeat();
    let srv = serve(&e, settings()).await;
    // a few frames pass
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ui_slot.state(), actor_state::RUNNING, "marked ready");
    assert!(ui_slot.heartbeat() > beats_before, "heartbeat advances");
    assert_eq!(
        e.cb.slot(0).heartbeat(),
        feed_beats,
        "beats its own slot only"
    );
    ui_slot.request_stop();
    assert!(srv.wait().await, "returns because it was asked to stop");
    assert_eq!(ui_slot.state(), actor_state::STOPPED);
}
