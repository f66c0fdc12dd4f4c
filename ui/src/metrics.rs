//! `/metrics` in the Prometheus text exposition format (version 0.0.4), so the engine plugs into
//! existing monitoring. Built from the same reading as the frames; latency histograms come from
//! the engine's never-reset HdrHistograms with cumulative `le` buckets in seconds (20 ms is the
//! edge `le="0.02"`), `_sum` and `_count`.
//!
//! Counters taken from actor telemetry count since that actor's current incarnation: they go
//! back to zero when the supervisor restarts it, which Prometheus' `rate()` treats as a reset.

use std::fmt::Write as _;

use crate::frame::State;
use crate::hist_view::{approx_sum_ns, bucket_counts, ns_to_seconds_text, PROM_EDGES_NS};
use crate::view::EngineReading;

/// Server-side counters of the UI actor itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerCounters {
    pub clients: u64,
    pub clients_dropped: u64,
    pub frames_sent: u64,
    pub refused_control: u64,
    pub refused_ws: u64,
}

/// Escape a label value: backslash, double quote and newline.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out
}

struct Out(String);

impl Out {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }
    fn val(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, lv)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape_label(lv));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {}", fmt_value(v));
    }
    fn one(&mut self, name: &str, kind: &str, help: &str, v: f64) {
        self.head(name, kind, help);
        self.val(name, &[], v);
    }
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// (metric, type, help, value of a row)
type PerActor = (
    &'static str,
    &'static str,
    &'static str,
    fn(&crate::frame::ActorRow) -> f64,
);

/// Every state name the control block can report, plus DETACHED (engine not readable).
const ENGINE_STATES: [&str; 8] = [
    "STARTING", "RUNNING", "LOCKDOWN", "HALTED", "STOPPING", "STOPPED", "UNKNOWN", "DETACHED",
];

/// Render every metric. `reading` may be absent while the engine cannot be read.
pub fn render(state: &State, reading: Option<&EngineReading>, server: &ServerCounters) -> String {
    let mut o = Out(String::with_capacity(16 * 1024));
    let e = &state.engine;
    let name = e.name.as_str();

    o.head("engine_state", "gauge", "1 for the engine's current state.");
    for s in ENGINE_STATES {
        let v = f64::from(u8::from(e.state == s));
        o.val("engine_state", &[("engine", name), ("state", s)], v);
    }
    o.one(
        "engine_kill_switch",
        "gauge",
        "1 while the kill switch is latched.",
        f64::from(u8::from(e.kill.set)),
    );
    if let Some(ns) = e.kill_latency.as_ref().and_then(|k| k.all_halted_after_ns) {
        o.one(
            "engine_kill_to_halted_seconds",
            "gauge",
            "Last kill measured by the UI actor: press received to every hot actor HALTED.",
            ns as f64 / 1e9,
        );
    }
    o.one(
        "engine_uptime_seconds",
        "gauge",
        "Seconds since the engine started.",
        e.uptime_ns as f64 / 1e9,
    );

    if !state.actors.is_empty() {
        o.head(
            "engine_actor_up",
            "gauge",
            "1 while the actor's slot says RUNNING.",
        );
        for a in &state.actors {
            o.val(
                "engine_actor_up",
                &[("actor", &a.name), ("kind", &a.kind)],
                f64::from(u8::from(a.state.eq_ignore_ascii_case("RUNNING"))),
            );
        }
        let per_actor: [PerActor; 6] = [
            (
                "engine_actor_restarts_total",
                "counter",
                "Restarts of the actor by the supervisor.",
                |a| a.restarts as f64,
            ),
            (
                "engine_actor_messages_in_total",
                "counter",
                "Messages the actor consumed.",
                |a| a.msgs_in as f64,
            ),
            (
                "engine_actor_messages_out_total",
                "counter",
                "Messages the actor published.",
                |a| a.msgs_out as f64,
            ),
            (
                "engine_actor_heartbeat_age_seconds",
                "gauge",
                "Age of the actor's last heartbeat.",
                |a| a.heartbeat_age_ms / 1e3,
            ),
            (
                "engine_actor_cpu_ratio",
                "gauge",
                "CPU time over the last sample interval, share of one core.",
                |a| a.cpu_pct / 100.0,
            ),
            (
                "engine_actor_last_cpu",
                "gauge",
                "Core the actor's process last ran on (-1 unknown).",
                |a| f64::from(a.last_cpu),
            ),
        ];
        for (metric, kind, help, f) in per_actor {
            o.head(metric, kind, help);
            for a in &state.actors {
                o.val(metric, &[("actor", &a.name)], f(a));
            }
        }
        o.head(
            "engine_actor_context_switches_total",
            "counter",
            "Context switches of the actor's process (/proc/PID/status).",
        );
        for a in &state.actors {
            o.val(
                "engine_actor_context_switches_total",
                &[("actor", &a.name), ("type", "voluntary")],
                a.ctx_voluntary as f64,
            );
            o.val(
                "engine_actor_context_switches_total",
                &[("actor", &a.name), ("type", "nonvoluntary")],
                a.ctx_nonvoluntary as f64,
            );
        }
    }
    if !state.cores.is_empty() {
        o.head(
            "engine_core_busy_ratio",
            "gauge",
            "Busy share of each core over the last interval.",
        );
        for c in &state.cores {
            o.val(
                "engine_core_busy_ratio",
                &[("core", &c.core.to_string())],
                c.busy_pct / 100.0,
            );
        }
    }
    if let Some(s) = &state.sentinel {
        o.one(
            "engine_rtt_last_seconds",
            "gauge",
            "Latest order round trip.",
            s.rtt_last_ns as f64 / 1e9,
        );
        o.one(
            "engine_rtt_threshold_seconds",
            "gauge",
            "Round trip that triggers lockdown.",
            s.rtt_threshold_ns as f64 / 1e9,
        );
        o.one(
            "engine_lockdown",
            "gauge",
            "1 while Sentinel holds the engine in lockdown.",
            f64::from(u8::from(s.lockdown)),
        );
        o.one(
            "engine_lockdowns_total",
            "counter",
            "Lockdowns entered.",
            s.lockdowns as f64,
        );
        o.one(
            "engine_emergencies_total",
            "counter",
            "Emergencies Sentinel sent to the supervisor.",
            s.emergencies as f64,
        );
        o.one(
            "engine_outstanding_acks",
            "gauge",
            "Orders sent and not yet acknowledged.",
            s.outstanding_acks as f64,
        );
    }
    if let Some(s) = &state.sonar {
        o.one(
            "engine_sonar_entropy",
            "gauge",
            "Normalised entropy of the order flow, 0..1.",
            s.entropy,
        );
        o.one(
            "engine_sonar_gate_open",
            "gauge",
            "1 while every zero-trust check holds.",
            f64::from(u8::from(s.gate_open)),
        );
        o.head(
            "engine_sonar_regime",
            "gauge",
            "1 for Sonar's current regime.",
        );
        for r in ["ATTACK", "VETO", "UNKNOWN"] {
            o.val(
                "engine_sonar_regime",
                &[("regime", r)],
                f64::from(u8::from(s.regime == r)),
            );
        }
    }
    if let Some(x) = &state.oracle {
        o.one(
            "engine_oracle_wobi",
            "gauge",
            "Weighted order book imbalance, -1..1.",
            x.wobi,
        );
        o.one(
            "engine_oracle_strength",
            "gauge",
            "Signal strength, -1..1.",
            x.strength,
        );
        o.one(
            "engine_oracle_imbalance_percent",
            "gauge",
            "Liquidity imbalance, percent.",
            x.imbalance_pct,
        );
    }
    if let Some(x) = &state.execution {
        o.one(
            "engine_orders_sent_total",
            "counter",
            "New orders written to the venue.",
            x.orders_sent as f64,
        );
        o.one(
            "engine_fills_total",
            "counter",
            "Fills received.",
            x.fills as f64,
        );
        o.one(
            "engine_cancels_sent_total",
            "counter",
            "Cancels written to the venue.",
            x.cancels as f64,
        );
        o.one(
            "engine_rejects_total",
            "counter",
            "Orders the venue rejected.",
            x.rejects as f64,
        );
        o.one(
            "engine_open_orders",
            "gauge",
            "Orders resting at the venue.",
            x.open_orders as f64,
        );
        o.one(
            "engine_position",
            "gauge",
            "Net position, units.",
            x.position,
        );
        o.one(
            "engine_pnl_gross_inr",
            "gauge",
            "PnL before taxes and fees, INR.",
            x.pnl_gross_inr,
        );
        o.one(
            "engine_pnl_net_inr",
            "gauge",
            "PnL after taxes and fees, INR.",
            x.pnl_net_inr,
        );
        o.one(
            "engine_costs_inr",
            "gauge",
            "Taxes and fees paid, INR.",
            x.costs_inr,
        );
        o.one(
            "engine_otr_raw",
            "gauge",
            "Order-to-trade ratio, all orders.",
            x.otr_raw,
        );
        o.one(
            "engine_otr_penalty",
            "gauge",
            "Order-to-trade ratio counting penalty-relevant orders.",
            x.otr_penalty,
        );
        o.one(
            "engine_otr_budget",
            "gauge",
            "Order-to-trade ratio budget.",
            x.otr_budget,
        );
        let b = &x.blocked;
        let m = "engine_orders_not_placed_total";
        o.head(
            m,
            "counter",
            "Order opportunities refused, by the first gate that refused them.",
        );
        for (reason, n) in [
            ("regime", b.regime),
            ("gate", b.gate),
            ("lockdown", b.lockdown),
            ("kill", b.kill),
            ("nev", b.nev),
            ("rate", b.rate),
            ("otr", b.otr),
        ] {
            o.val(m, &[("reason", reason)], n as f64);
        }
        o.one(
            "engine_signals_refused_total",
            "counter",
            "Signals refused as malformed (touch off the instrument's tick, or strength outside -1..1).",
            x.signals_refused as f64,
        );
        let m = "engine_intents_total";
        o.head(
            m,
            "counter",
            "Order intents of user strategy actors: received, placed as orders, refused for what they ask.",
        );
        let i = &x.intents;
        for (outcome, n) in [
            ("received", i.received),
            ("placed", i.placed),
            ("refused", i.refused),
        ] {
            o.val(m, &[("outcome", outcome)], n as f64);
        }
    }

    if let Some(r) = reading {
        if !r.histograms.is_empty() {
            let m = "engine_latency_seconds";
            o.head(
                m,
                "histogram",
                "Latency per stage (HdrHistogram since start; le in seconds).",
            );
            for h in &r.histograms {
                let counts = bucket_counts(&h.hist, &PROM_EDGES_NS);
                let mut cum = 0u64;
                for (edge, c) in PROM_EDGES_NS.iter().zip(&counts) {
                    cum += c;
                    o.val(
                        &format!("{m}_bucket"),
                        &[("stage", &h.stage), ("le", &ns_to_seconds_text(*edge))],
                        cum as f64,
                    );
                }
                let total = h.hist.len();
                o.val(
                    &format!("{m}_bucket"),
                    &[("stage", &h.stage), ("le", "+Inf")],
                    total as f64,
                );
                let sum_ns = h.sum_ns.unwrap_or_else(|| approx_sum_ns(&h.hist));
                o.val(
                    &format!("{m}_sum"),
                    &[("stage", &h.stage)],
                    sum_ns as f64 / 1e9,
                );
                o.val(&format!("{m}_count"), &[("stage", &h.stage)], total as f64);
            }
        }
    }

    o.one(
        "ui_ws_clients",
        "gauge",
        "Cockpit WebSocket clients connected.",
        server.clients as f64,
    );
    o.one(
        "ui_ws_clients_dropped_total",
        "counter",
        "Clients dropped for falling behind.",
        server.clients_dropped as f64,
    );
    o.one(
        "ui_frames_sent_total",
        "counter",
        "Frames queued to clients.",
        server.frames_sent as f64,
    );
    o.one(
        "ui_refused_control_total",
        "counter",
        "Control actions refused (token or Origin).",
        server.refused_control as f64,
    );
    o.one(
        "ui_refused_ws_total",
        "counter",
        "WebSocket upgrades refused (token or Origin).",
        server.refused_ws as f64,
    );
    o.0
}
