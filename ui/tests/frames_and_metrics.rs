//! Frame JSON shape (what ui/web/src/protocol.ts expects) and the Prometheus text format.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use ui::frame::*;
use ui::metrics::{render, ServerCounters};
use ui::view::{EngineReading, StageHist};

fn state() -> State {
    State {
        server_ns: 5,
        wall_ms: 1_700_000_000_000,
        engine: EngineInfo {
            name: "eng".into(),
            state: "RUNNING".into(),
            detail: String::new(),
            kill: KillInfo {
                set: false,
                by: String::new(),
                reason: String::new(),
                at_ns: 0,
            },
            kill_latency: None,
            uptime_ns: 1,
        },
        actors: vec![ActorRow {
            index: 0,
            name: "feed \"a\"".into(),
            kind: "feed".into(),
            pid: 42,
            core: 1,
            last_cpu: 1,
            state: "RUNNING".into(),
            restarts: 2,
            heartbeat_age_ms: 1.5,
            ctx_voluntary: 10,
            ctx_nonvoluntary: 3,
            cpu_pct: 99.5,
            msgs_in: 7,
            msgs_out: 8,
            latency_p50_ns: 100,
            latency_p99_ns: 900,
        }],
        cores: vec![CoreRow {
            core: 0,
            busy_pct: 12.5,
        }],
        sentinel: None,
        sonar: Some(SonarInfo {
            regime: "VETO".into(),
            entropy: 0.9,
            gate_open: false,
            failing_check: "stale_data".into(),
            failing_checks: vec!["stale_data".into()],
            regime_changes: 3,
        }),
        oracle: Some(OracleInfo {
            wobi: 0.25,
            strength: -0.5,
            imbalance_pct: 10.0,
            microprice: 100.5,
            best_bid: 100.0,
            best_ask: 101.0,
            level_imbalance: vec![0.1; 8],
            events: 1,
            signals_sent: 1,
        }),
        execution: None,
        feed: None,
        histograms: vec![],
    }
}

#[test]
fn update_frames_are_flat_with_type_version_seq_and_no_history() {
    let f = Frame {
        kind: FrameType::Update,
        version: PROTOCOL_VERSION,
        seq: 9,
        state: state(),
        history: None,
    };
    let v: serde_json::Value = serde_json::to_value(&f).unwrap();
    assert_eq!(v["type"], "update");
    assert_eq!(v["version"], 1);
    assert_eq!(v["seq"], 9);
    assert_eq!(v["wall_ms"], 1_700_000_000_000u64);
    assert_eq!(v["engine"]["state"], "RUNNING");
    assert_eq!(v["sonar"]["failing_check"], "stale_data");
    assert!(
        v["sentinel"].is_null(),
        "absent telemetry is null, not zeros"
    );
    assert!(v.get("history").is_none());
    assert_eq!(v["oracle"]["level_imbalance"].as_array().unwrap().len(), 8);
    let back: Frame = serde_json::from_value(v).unwrap();
    assert_eq!(back, f);
}

#[test]
fn snapshots_carry_bounded_history_as_arrays() {
    let mut rings = HistoryRings::default();
    let mut s = state();
    for i in 0..(HISTORY_POINTS as u64 + 10) {
        s.wall_ms = i;
        rings.record(&s);
    }
    let h = rings.to_history();
    assert_eq!(h.rtt.len(), HISTORY_POINTS, "bounded");
    assert_eq!(h.wobi.len(), WOBI_COLUMNS, "bounded");
    assert_eq!(h.rtt[0].0, 10, "oldest points fell off first");
    let f = Frame {
        kind: FrameType::Snapshot,
        version: PROTOCOL_VERSION,
        seq: 1,
        state: state(),
        history: Some(h),
    };
    let v: serde_json::Value = serde_json::to_value(&f).unwrap();
    assert_eq!(v["type"], "snapshot");
    // [wall_ms, rtt_last_ns, rtt_p99_ns]: no Sentinel → nulls
    assert_eq!(v["history"]["rtt"][0], serde_json::json!([10, null, null]));
    assert_eq!(
        v["history"]["regime"][0],
        serde_json::json!([10, "VETO", 0.9])
    );
    assert_eq!(v["history"]["pnl"][0], serde_json::json!([10, null, null]));
    assert_eq!(
        v["history"]["signal"][0],
        serde_json::json!([10, 0.25, -0.5, 10.0])
    );
}

#[test]
fn otr_penalty_slabs() {
    for (otr, paise) in [
        (0.0, 0),
        (49.99, 0),
        (50.0, 2),
        (249.0, 2),
        (250.0, 10),
        (999.0, 15),
        (1000.0, 20),
        (2000.0, 25),
        (f64::NAN, 0),
    ] {
        assert_eq!(otr_penalty_paise(otr), paise, "OTR {otr}");
    }
}

/// Parse the exposition format strictly enough to catch malformed output: every sample line
/// is `name{labels} value`, every metric family has HELP and TYPE before its samples.
type Sample = (String, BTreeMap<String, String>, f64);

fn parse(text: &str) -> (BTreeMap<String, String>, Vec<Sample>) {
    let mut types = BTreeMap::new();
    let mut samples = vec![];
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            types.insert(name.to_string(), kind.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "unexpected line {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), BTreeMap::new()),
            Some((n, l)) => {
                let l = l.strip_suffix('}').unwrap();
                let mut m = BTreeMap::new();
                // label values here hold no commas except inside escaped quotes; split carefully
                let mut rest = l;
                while !rest.is_empty() {
                    let (k, after) = rest.split_once("=\"").unwrap();
                    let mut end = 0;
                    let bytes = after.as_bytes();
                    while bytes[end] != b'"' {
                        end += if bytes[end] == b'\\' { 2 } else { 1 };
                    }
                    m.insert(k.to_string(), after[..end].to_string());
                    rest = after[end + 1..].trim_start_matches(',');
                }
                (n.to_string(), m)
            }
        };
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).map(String::as_str) == Some("histogram"))
            })
            .unwrap_or(&name)
            .to_string();
        assert!(
            types.contains_key(&family),
            "sample {name} before its TYPE line"
        );
        samples.push((name, labels, value));
    }
    (types, samples)
}

#[test]
fn metrics_parse_and_latency_buckets_are_cumulative_with_20ms_on_an_edge() {
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    // 100 samples at 1 µs, 10 at 4 ms, 3 at 19 ms, 2 at 45 ms, 1 at 30 s (above every edge).
    // (Values away from edges: a value whose HDR bucket straddles an edge counts above it.)
    h.record_n(1_000, 100).unwrap();
    h.record_n(4_000_000, 10).unwrap();
    h.record_n(19_000_000, 3).unwrap();
    h.record_n(45_000_000, 2).unwrap();
    h.record(30_000_000_000).unwrap();
    let reading = EngineReading {
        histograms: vec![StageHist {
            stage: "rtt".into(),
            label: "RTT".into(),
            hist: h,
            sum_ns: Some(
                100 * 1_000 + 10 * 4_000_000 + 3 * 19_000_000 + 2 * 45_000_000 + 30_000_000_000,
            ),
        }],
        ..Default::default()
    };
    let text = render(&state(), Some(&reading), &ServerCounters::default());
    let (types, samples) = parse(&text);
    assert_eq!(types["engine_latency_seconds"], "histogram");
    assert_eq!(types["engine_actor_restarts_total"], "counter");
    assert_eq!(types["engine_state"], "gauge");

    let get = |name: &str, label: (&str, &str)| {
        samples
            .iter()
            .find(|(n, l, _)| n == name && l.get(label.0).map(String::as_str) == Some(label.1))
            .map(|s| s.2)
    };
    // label values are escaped: the actor is called feed "a"
    assert_eq!(
        get("engine_actor_restarts_total", ("actor", "feed \\\"a\\\"")),
        Some(2.0)
    );
    assert_eq!(get("engine_state", ("state", "RUNNING")), Some(1.0));
    assert_eq!(get("engine_state", ("state", "HALTED")), Some(0.0));
    assert_eq!(get("engine_sonar_regime", ("regime", "VETO")), Some(1.0));

    let buckets: Vec<(String, f64)> = samples
        .iter()
        .filter(|(n, l, _)| n == "engine_latency_seconds_bucket" && l["stage"] == "rtt")
        .map(|(_, l, v)| (l["le"].clone(), *v))
        .collect();
    let le = |edge: &str| buckets.iter().find(|(l, _)| l == edge).map(|b| b.1);
    // cumulative: ≤1 µs 100; ≤5 ms adds the ten 4 ms; ≤20 ms adds the three 19 ms; ≤50 ms adds 2
    assert_eq!(le("0.000001"), Some(100.0));
    assert_eq!(le("0.005"), Some(110.0));
    assert_eq!(le("0.01"), Some(110.0));
    assert_eq!(le("0.02"), Some(113.0), "20 ms is an edge");
    assert_eq!(le("0.05"), Some(115.0));
    assert_eq!(le("10"), Some(115.0));
    assert_eq!(le("+Inf"), Some(116.0));
    for w in buckets.windows(2) {
        assert!(w[1].1 >= w[0].1, "buckets must not decrease: {w:?}");
    }
    assert_eq!(
        get("engine_latency_seconds_count", ("stage", "rtt")),
        Some(116.0)
    );
    let sum = get("engine_latency_seconds_sum", ("stage", "rtt")).unwrap();
    // 0.0001 + 0.04 + 0.057 + 0.09 + 30 = 30.1871 s
    assert!((sum - 30.1871).abs() < 1e-9, "exact sum in seconds: {sum}");
}

#[test]
fn execution_refusals_and_strategy_intents_reach_the_metrics_by_reason_and_outcome() {
    // Distinct values per field, so a counter mapped to the wrong series shows.
    let t = runtime::telemetry::ExecutionTelemetry {
        updated_ns: 1,
        blocked_by_regime: 11,
        blocked_by_gate: 12,
        blocked_by_lockdown: 13,
        blocked_by_kill: 14,
        blocked_by_nev: 15,
        blocked_by_rate: 16,
        blocked_by_otr: 17,
        signals_refused: 5,
        intents: 30,
        intents_placed: 21,
        intents_refused: 4,
        ..Default::default()
    };
    let mut s = state();
    s.execution = Some(ui::sampler::execution_info(&t));
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["execution"]["signals_refused"], 5);
    assert_eq!(
        v["execution"]["intents"],
        serde_json::json!({"received": 30, "placed": 21, "refused": 4})
    );

    let text = render(&s, None, &ServerCounters::default());
    let (types, samples) = parse(&text);
    let get = |name: &str, label: (&str, &str)| {
        let found: Vec<f64> = samples
            .iter()
            .filter(|(n, l, _)| n == name && l.get(label.0).map(String::as_str) == Some(label.1))
            .map(|s| s.2)
            .collect();
        assert!(found.len() <= 1, "{name}{label:?} appears twice");
        found.first().copied()
    };
    assert_eq!(types["engine_orders_not_placed_total"], "counter");
    assert_eq!(types["engine_intents_total"], "counter");
    assert_eq!(types["engine_signals_refused_total"], "counter");
    for (reason, n) in [
        ("regime", 11.0),
        ("gate", 12.0),
        ("lockdown", 13.0),
        ("kill", 14.0),
        ("nev", 15.0),
        ("rate", 16.0),
        ("otr", 17.0),
    ] {
        assert_eq!(
            get("engine_orders_not_placed_total", ("reason", reason)),
            Some(n),
            "{reason}"
        );
    }
    assert_eq!(
        get("engine_intents_total", ("outcome", "received")),
        Some(30.0)
    );
    assert_eq!(
        get("engine_intents_total", ("outcome", "placed")),
        Some(21.0)
    );
    assert_eq!(
        get("engine_intents_total", ("outcome", "refused")),
        Some(4.0)
    );
    let refused = samples
        .iter()
        .find(|(n, _, _)| n == "engine_signals_refused_total")
        .map(|s| s.2);
    assert_eq!(refused, Some(5.0));
}
