//! Turns readings of the engine into frames: one [`crate::frame::State`] per tick, the
//! bounded history for snapshots, and /proc figures for the actor table.

use runtime::telemetry::{
    gate_check, gate_check_name, lockdown_reason_name, regime_name, ExecutionTelemetry,
    FeedTelemetry, OracleTelemetry, SentinelTelemetry, SonarTelemetry,
};

use crate::frame::{
    from_e8, otr_penalty_paise, ActorRow, BlockedCounts, CoreRow, EngineInfo, ExecutionInfo,
    FeedInfo, IntentCounts, KillInfo, KillLatency, OracleInfo, SentinelInfo, SonarInfo, State,
};
use crate::hist_view::hist_info;
use crate::procfs::ProcSampler;
use crate::view::{EngineReading, ViewError};

/// Build the state of one frame. `reading` is what the engine said (or why it could not be
/// read); `proc` adds the kernel's view of each actor process.
pub fn build_state(
    engine_name: &str,
    reading: &Result<EngineReading, ViewError>,
    proc: &mut ProcSampler,
    kill_latency: Option<KillLatency>,
    now_ns: u64,
    wall_ms: u64,
) -> State {
    let cores = proc
        .cores(now_ns)
        .into_iter()
        .map(|c| CoreRow {
            core: c.core,
            busy_pct: c.busy_pct,
        })
        .collect();
    let r = match reading {
        Ok(r) => r,
        Err(e) => {
            return State {
                server_ns: now_ns,
                wall_ms,
                engine: EngineInfo {
                    name: engine_name.to_string(),
                    state: "DETACHED".into(),
                    detail: e.to_string(),
                    kill: KillInfo {
                        set: false,
                        by: String::new(),
                        reason: String::new(),
                        at_ns: 0,
                    },
                    kill_latency,
                    uptime_ns: 0,
                },
                actors: vec![],
                cores,
                sentinel: None,
                sonar: None,
                oracle: None,
                execution: None,
                feed: None,
                histograms: vec![],
            };
        }
    };
    let mut live = Vec::with_capacity(r.slots.len());
    let actors = r
        .slots
        .iter()
        .map(|s| {
            let p = proc.process(s.pid, now_ns);
            if p.is_some() {
                live.push(s.pid);
            }
            let (st, cpu_pct) = p.unwrap_or_default();
            ActorRow {
                index: s.index,
                name: s.name.clone(),
                kind: s.kind.clone(),
                pid: s.pid,
                core: s.core,
                last_cpu: if p.is_some() { st.last_cpu } else { -1 },
                state: s.state.clone(),
                restarts: s.restarts,
                heartbeat_age_ms: if s.heartbeat_ns == 0 {
                    -1.0
                } else {
                    now_ns.saturating_sub(s.heartbeat_ns) as f64 / 1e6
                },
                ctx_voluntary: st.ctx_voluntary,
                ctx_nonvoluntary: st.ctx_nonvoluntary,
                cpu_pct,
                msgs_in: s.msgs_in,
                msgs_out: s.msgs_out,
                latency_p50_ns: s.latency_p50_ns,
                latency_p99_ns: s.latency_p99_ns,
            }
        })
        .collect();
    proc.retain_pids(&live);
    State {
        server_ns: now_ns,
        wall_ms,
        engine: EngineInfo {
            name: engine_name.to_string(),
            state: r.engine_state.clone(),
            detail: String::new(),
            kill: KillInfo {
                set: r.kill.set,
                by: r.kill.by.clone(),
                reason: r.kill.reason.clone(),
                at_ns: r.kill.at_ns,
            },
            kill_latency,
            uptime_ns: r.uptime_ns,
        },
        actors,
        cores,
        sentinel: r.sentinel.as_ref().map(sentinel_info),
        sonar: r.sonar.as_ref().map(sonar_info),
        oracle: r.oracle.as_ref().map(oracle_info),
        execution: r.execution.as_ref().map(execution_info),
        feed: r.feed.as_ref().map(feed_info),
        histograms: r
            .histograms
            .iter()
            .map(|h| hist_info(&h.stage, &h.label, &h.hist))
            .collect(),
    }
}

pub fn sentinel_info(t: &SentinelTelemetry) -> SentinelInfo {
    SentinelInfo {
        rtt_last_ns: t.rtt_last_ns,
        rtt_p50_ns: t.rtt_p50_ns,
        rtt_p99_ns: t.rtt_p99_ns,
        rtt_threshold_ns: t.rtt_threshold_ns,
        rtt_samples: t.rtt_samples,
        lockdown: t.lockdown != 0,
        lockdown_reason: if t.lockdown != 0 {
            lockdown_reason_name(t.lockdown_reason).to_string()
        } else {
            String::new()
        },
        lockdowns: t.lockdowns,
        outstanding_acks: t.outstanding_acks,
        oldest_ack_age_ns: t.oldest_ack_age_ns,
        emergency: t.last_emergency(),
        emergencies: t.emergencies_sent,
    }
}

pub fn sonar_info(t: &SonarTelemetry) -> SonarInfo {
    let open = t.gate_open != 0;
    SonarInfo {
        regime: regime_name(t.regime).to_ascii_uppercase(),
        entropy: t.entropy,
        gate_open: open,
        failing_check: if open {
            String::new()
        } else {
            gate_check_name(t.failing_check).to_string()
        },
        failing_checks: (1..=gate_check::MAX)
            .filter(|&c| t.failing_mask & gate_check::bit(c) != 0)
            .map(|c| gate_check_name(c).to_string())
            .collect(),
        regime_changes: t.regime_changes,
    }
}

pub fn oracle_info(t: &OracleTelemetry) -> OracleInfo {
    OracleInfo {
        wobi: t.wobi,
        strength: t.strength,
        imbalance_pct: t.imbalance_pct,
        microprice: from_e8(t.microprice_e8),
        best_bid: from_e8(t.best_bid_e8),
        best_ask: from_e8(t.best_ask_e8),
        level_imbalance: t.level_imbalance.to_vec(),
        events: t.events,
        signals_sent: t.signals_sent,
    }
}

pub fn execution_info(t: &ExecutionTelemetry) -> ExecutionInfo {
    ExecutionInfo {
        orders_sent: t.orders_sent,
        fills: t.fills,
        cancels: t.cancels_sent,
        rejects: t.rejects,
        fill_rate_pct: t.fill_rate * 100.0,
        cancel_rate_pct: t.cancel_rate * 100.0,
        nev_expected_inr: from_e8(t.nev_expected_e8),
        nev_realised_inr: from_e8(t.nev_realised_e8),
        pnl_gross_inr: from_e8(t.pnl_gross_e8),
        pnl_net_inr: from_e8(t.pnl_net_e8),
        costs_inr: from_e8(t.costs_e8),
        otr_raw: t.otr_raw,
        otr_penalty: t.otr_penalty,
        otr_budget: t.otr_budget,
        penalty_paise_per_order: otr_penalty_paise(t.otr_penalty),
        open_orders: t.open_orders,
        position: from_e8(t.position_e8),
        tick_to_order_last_ns: t.tick_to_order_last_ns,
        blocked: BlockedCounts {
            regime: t.blocked_by_regime,
            gate: t.blocked_by_gate,
            lockdown: t.blocked_by_lockdown,
            kill: t.blocked_by_kill,
            nev: t.blocked_by_nev,
            rate: t.blocked_by_rate,
            otr: t.blocked_by_otr,
        },
        signals_refused: t.signals_refused,
        intents: IntentCounts {
            received: t.intents,
            placed: t.intents_placed,
            refused: t.intents_refused,
        },
    }
}

pub fn feed_info(t: &FeedTelemetry) -> FeedInfo {
    FeedInfo {
        connected: t.connected != 0,
        md_seq: t.md_seq,
        events: t.events,
        gaps: t.gaps,
        reconnects: t.reconnects,
    }
}
