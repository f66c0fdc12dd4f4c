//! Gauges that actors publish for the cockpit and `supervisor status`.
//!
//! Each actor owns one of these structs, fills it in its loop and publishes it (a few times a
//! second, or on change) into its [`crate::seqlock::SeqLock`] in the control block; the UI actor
//! and the CLI read consistent copies from other processes. Never on the hot path of anyone but
//! the publishing actor, which pays one ~300-byte copy per publication.
//!
//! All types are plain data (`shm_safe!`): counts are `u64` since start of the actor's current
//! incarnation unless the name says otherwise, times are monotonic `*_ns`, money `*_e8`, and
//! ratios `f64`.

use crate::msg::{get_str, put_str, BOOK_DEPTH};
use bytemuck::{Pod, Zeroable};

/// Sonar's market regime, as stored in [`SonarTelemetry::regime`] and the control block.
pub const REGIME_UNKNOWN: u32 = 0;
/// Low entropy: the order flow is informative, Execution may quote.
pub const REGIME_ATTACK: u32 = 1;
/// High entropy (noise) or no verdict: Execution places nothing new.
pub const REGIME_VETO: u32 = 2;

/// Name of a regime code (`"unknown"` for codes this build does not know).
pub fn regime_name(code: u32) -> &'static str {
    match code {
        REGIME_ATTACK => "attack",
        REGIME_VETO => "veto",
        _ => "unknown",
    }
}

/// Codes of the zero-trust gate's checks; the gate is open only while all of them hold.
/// [`SonarTelemetry::failing_check`] names the first failing one, `failing_mask` all of them
/// (bit `1 << code`).
pub mod gate_check {
    /// Every check holds.
    pub const NONE: u32 = 0;
    /// A feed sequence gap since the last resync.
    pub const FEED_GAP: u32 = 1;
    /// No market data within the staleness bound.
    pub const STALE_DATA: u32 = 2;
    /// Best bid ≥ best ask.
    pub const CROSSED_BOOK: u32 = 3;
    /// Spread wider than the configured bound.
    pub const SPREAD_TOO_WIDE: u32 = 4;
    /// Exchange or receive timestamps out of order or too far from our clock.
    pub const TIMESTAMP_INSANE: u32 = 5;
    /// Sonar's cursor on the broadcast ring was overrun (messages lost).
    pub const RING_OVERRUN: u32 = 6;
    /// Feed reports its upstream connection down.
    pub const FEED_DISCONNECTED: u32 = 7;
    /// An event failed validation.
    pub const CORRUPT_DATA: u32 = 8;
    /// Highest code defined; codes above it are reported as unknown.
    pub const MAX: u32 = 8;

    /// The bit of `code` in a failing-checks mask.
    pub const fn bit(code: u32) -> u32 {
        1 << code
    }
}

/// Name of a [`gate_check`] code (`"none"` for 0, `"unknown"` for codes this build lacks).
pub fn gate_check_name(code: u32) -> &'static str {
    match code {
        gate_check::NONE => "none",
        gate_check::FEED_GAP => "feed_gap",
        gate_check::STALE_DATA => "stale_data",
        gate_check::CROSSED_BOOK => "crossed_book",
        gate_check::SPREAD_TOO_WIDE => "spread_too_wide",
        gate_check::TIMESTAMP_INSANE => "timestamp_insane",
        gate_check::RING_OVERRUN => "ring_overrun",
        gate_check::FEED_DISCONNECTED => "feed_disconnected",
        gate_check::CORRUPT_DATA => "corrupt_data",
        _ => "unknown",
    }
}

/// Why Sentinel is in lockdown ([`SentinelTelemetry::lockdown_reason`] and the control block).
pub mod lockdown_reason {
    pub const NONE: u32 = 0;
    /// The round-trip time went above its threshold.
    pub const RTT_OVER_THRESHOLD: u32 = 1;
    /// An acknowledgement has been outstanding longer than the threshold (silent venue).
    pub const ACK_TIMEOUT: u32 = 2;
    pub const POSITION_LIMIT: u32 = 3;
    pub const NOTIONAL_LIMIT: u32 = 4;
    pub const DAILY_LOSS_LIMIT: u32 = 5;
    /// The order-to-trade ratio budget is spent.
    pub const OTR_BUDGET: u32 = 6;
    /// An actor's heartbeat stopped.
    pub const HEARTBEAT: u32 = 7;
    /// Put into lockdown by an operator.
    pub const MANUAL: u32 = 8;
    pub const MAX: u32 = 8;
}

/// Name of a [`lockdown_reason`] code.
pub fn lockdown_reason_name(code: u32) -> &'static str {
    match code {
        lockdown_reason::NONE => "none",
        lockdown_reason::RTT_OVER_THRESHOLD => "rtt_over_threshold",
        lockdown_reason::ACK_TIMEOUT => "ack_timeout",
        lockdown_reason::POSITION_LIMIT => "position_limit",
        lockdown_reason::NOTIONAL_LIMIT => "notional_limit",
        lockdown_reason::DAILY_LOSS_LIMIT => "daily_loss_limit",
        lockdown_reason::OTR_BUDGET => "otr_budget",
        lockdown_reason::HEARTBEAT => "heartbeat",
        lockdown_reason::MANUAL => "manual",
        _ => "unknown",
    }
}

/// Oracle's signal state.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct OracleTelemetry {
    /// The market-data sequence the values below were computed from.
    pub md_seq: u64,
    pub updated_ns: u64,
    /// Weighted order book imbalance, −1 … +1.
    pub wobi: f64,
    /// Signed, normalised signal strength, −1 … +1.
    pub strength: f64,
    /// Liquidity imbalance in percent, −100 … +100.
    pub imbalance_pct: f64,
    pub microprice_e8: i64,
    pub best_bid_e8: i64,
    pub best_ask_e8: i64,
    /// Per level, (bid − ask) / (bid + ask) quantity, −1 … +1 (0 where a side is empty): one
    /// column of the cockpit's heatmap.
    pub level_imbalance: [f64; BOOK_DEPTH],
    /// Market-data events processed.
    pub events: u64,
    /// Signals sent to Execution (only on changes above the threshold).
    pub signals_sent: u64,
}

/// Sonar's regime and zero-trust gate.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct SonarTelemetry {
    pub updated_ns: u64,
    pub md_seq: u64,
    /// Normalised entropy of the rolling window, 0 … 1.
    pub entropy: f64,
    /// [`REGIME_ATTACK`], [`REGIME_VETO`] or [`REGIME_UNKNOWN`].
    pub regime: u32,
    /// 1 while every gate check holds.
    pub gate_open: u32,
    /// First failing [`gate_check`] code, 0 when the gate is open.
    pub failing_check: u32,
    /// Every failing check: bit [`gate_check::bit`]`(code)`.
    pub failing_mask: u32,
    pub regime_changes: u64,
    pub events: u64,
    /// Feed gaps seen.
    pub gaps: u64,
    /// Times Sonar's broadcast cursor was overrun.
    pub overruns: u64,
    /// Messages lost to those overruns.
    pub overrun_lost: u64,
    pub corrupt: u64,
    pub crossed: u64,
    pub stale: u64,
}

/// Sentinel's risk state.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct SentinelTelemetry {
    pub updated_ns: u64,
    /// Latest order round trip (sent → acknowledged).
    pub rtt_last_ns: u64,
    /// Rolling percentiles of the round trip.
    pub rtt_p50_ns: u64,
    pub rtt_p99_ns: u64,
    /// Lockdown threshold (20 ms by default).
    pub rtt_threshold_ns: u64,
    pub rtt_samples: u64,
    /// 1 while in lockdown.
    pub lockdown: u32,
    /// [`lockdown_reason`] code.
    pub lockdown_reason: u32,
    pub lockdown_since_ns: u64,
    /// Lockdowns entered.
    pub lockdowns: u64,
    /// Orders sent and not yet acknowledged.
    pub outstanding_acks: u64,
    pub oldest_ack_age_ns: u64,
    pub otr_raw: f64,
    /// Order-to-trade ratio counting only penalty-relevant orders (exemptions applied).
    pub otr_penalty: f64,
    pub otr_budget: f64,
    pub position_e8: i64,
    pub notional_e8: i64,
    pub daily_pnl_e8: i64,
    pub emergencies_sent: u64,
    /// Reason of the last emergency sent, UTF-8, zero padded (see [`put_str`]).
    pub last_emergency: [u8; 48],
}

impl SentinelTelemetry {
    pub fn last_emergency(&self) -> String {
        get_str(&self.last_emergency)
    }

    pub fn set_last_emergency(&mut self, reason: &str) {
        put_str(&mut self.last_emergency, reason);
    }
}

/// Execution's order flow, money and reasons for not quoting.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct ExecutionTelemetry {
    pub updated_ns: u64,
    pub orders_sent: u64,
    pub cancels_sent: u64,
    pub modifies_sent: u64,
    pub fills: u64,
    pub partial_fills: u64,
    pub rejects: u64,
    pub open_orders: u64,
    pub position_e8: i64,
    /// Filled orders / orders sent, 0 … 1.
    pub fill_rate: f64,
    /// Cancelled orders / orders sent, 0 … 1.
    pub cancel_rate: f64,
    /// Net expected value of the orders placed (sum), and what fills realised.
    pub nev_expected_e8: i64,
    pub nev_realised_e8: i64,
    /// PnL before and after taxes and fees, and those costs.
    pub pnl_gross_e8: i64,
    pub pnl_net_e8: i64,
    pub costs_e8: i64,
    pub otr_raw: f64,
    pub otr_penalty: f64,
    pub otr_budget: f64,
    /// Order opportunities refused, by the first reason that refused them.
    pub blocked_by_regime: u64,
    pub blocked_by_gate: u64,
    pub blocked_by_lockdown: u64,
    pub blocked_by_kill: u64,
    pub blocked_by_nev: u64,
    pub blocked_by_rate: u64,
    pub blocked_by_otr: u64,
    /// Orders cancelled by the 200 ms deadline, and how late those cancels left (p99).
    pub cancels_on_deadline: u64,
    pub cancel_lateness_p99_ns: u64,
    /// Feed receive → order written, for the latest order.
    pub tick_to_order_last_ns: u64,
    /// Signals refused as malformed (a touch off the instrument's tick: the strategy's
    /// `tick_size_e8` disagrees with the venue's, or a strength outside −1 … 1).
    pub signals_refused: u64,
    /// Intents read from user strategy actors (`intent.ring`), placed as orders, and refused
    /// for what they ask (malformed, unsupported, stale, no touch, marketable, unknown order;
    /// intents stopped by a gate count in `blocked_by_*`). Dropped ones (read while halted or
    /// disconnected) are in neither.
    pub intents: u64,
    pub intents_placed: u64,
    pub intents_refused: u64,
}

/// Feed's view of the market-data connection.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct FeedTelemetry {
    pub updated_ns: u64,
    /// Last sequence published on the broadcast ring.
    pub md_seq: u64,
    /// Last venue sequence received.
    pub venue_seq: u64,
    pub events: u64,
    pub book_updates: u64,
    pub trades: u64,
    pub gaps: u64,
    pub crossed: u64,
    pub stale: u64,
    pub corrupt: u64,
    pub resyncs: u64,
    /// Reconnections to the venue.
    pub reconnects: u64,
    /// 1 while the upstream connection is up.
    pub connected: u32,
    pub _pad: u32,
}

/// Sentinel's risk state, saved in the control block after every batch of order reports and
/// before that batch leaves `orders.ring`, so that a restarted Sentinel carries on from it
/// instead of from zero: its position, cash and OTR counts decide the limits and the OTR
/// lockdown, and starting them over would let a restarted guard wave through a position or an
/// order count the old one would have stopped. Not telemetry: only Sentinel writes it and only
/// its next incarnation reads it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct SentinelCheckpoint {
    /// Checkpoints written (0 = none yet: a fresh engine).
    pub saves: u64,
    /// Position in `orders.ring` up to which the reports are folded in (the next one to read).
    pub orders_pos: u64,
    pub position_e8: i64,
    /// Cash (currency e8, an `i128` as its high and low halves: [`SentinelCheckpoint::cash_e8`]).
    pub cash_hi: i64,
    pub cash_lo: u64,
    pub mark_e8: i64,
    /// OTR counts: orders (new, modify, cancel), those not exempt, and trades.
    pub otr_orders_raw: u64,
    pub otr_orders_penalty: u64,
    pub otr_trades: u64,
    /// Limit halts already sent (bits: 1 position, 2 notional, 4 daily loss), latched until a
    /// new trading day.
    pub halted_limits: u64,
    pub lockdowns: u64,
    pub acks_lost: u64,
    pub restarts_requested: u64,
    pub halts: u64,
    pub emergencies_sent: u64,
    pub emergency_seq: u64,
    /// Acks the saver was waiting for (may exceed those carried in `pending_acks`).
    pub pending_total: u64,
    /// 1 if the saver had more unacknowledged orders than it tracks.
    pub pending_overflow: u64,
    /// The oldest [`CHECKPOINT_PENDING_ACKS`] of them, oldest first: the first
    /// `min(pending_total, CHECKPOINT_PENDING_ACKS)` entries are used.
    pub pending_acks: [PendingAck; CHECKPOINT_PENDING_ACKS],
}

/// Acks that a Sentinel checkpoint carries to the next incarnation, so that an order sent just
/// before a restart is still timed (the acks of more, rare, put the successor in lockdown until
/// those it knows of are answered).
pub const CHECKPOINT_PENDING_ACKS: usize = 32;

/// One order Sentinel waits to see acknowledged.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct PendingAck {
    pub client_order_id: u64,
    /// When its bytes were written (monotonic ns, the same clock in every process).
    pub sent_ns: u64,
}

impl SentinelCheckpoint {
    pub fn cash_e8(&self) -> i128 {
        ((self.cash_hi as i128) << 64) | self.cash_lo as i128
    }

    pub fn set_cash_e8(&mut self, cash_e8: i128) {
        self.cash_hi = (cash_e8 >> 64) as i64;
        self.cash_lo = cash_e8 as u64;
    }
}

crate::shm_safe!(
    OracleTelemetry,
    SonarTelemetry,
    SentinelTelemetry,
    SentinelCheckpoint,
    ExecutionTelemetry,
    FeedTelemetry
);

macro_rules! zero_default {
    ($($t:ty),*) => {$(
        impl Default for $t {
            fn default() -> Self {
                Self::zeroed()
            }
        }
    )*};
}
zero_default!(
    OracleTelemetry,
    SonarTelemetry,
    SentinelTelemetry,
    SentinelCheckpoint,
    ExecutionTelemetry,
    FeedTelemetry
);

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn every_gate_check_has_a_distinct_name() {
        let names: Vec<_> = (0..=gate_check::MAX).map(gate_check_name).collect();
        assert_eq!(
            names,
            [
                "none",
                "feed_gap",
                "stale_data",
                "crossed_book",
                "spread_too_wide",
                "timestamp_insane",
                "ring_overrun",
                "feed_disconnected",
                "corrupt_data"
            ]
        );
        assert_eq!(gate_check_name(gate_check::MAX + 1), "unknown");
        assert_eq!(gate_check::bit(gate_check::RING_OVERRUN), 0b100_0000);
    }

    #[test]
    fn lockdown_reasons_and_regimes_have_names() {
        for code in 1..=lockdown_reason::MAX {
            assert_ne!(lockdown_reason_name(code), "unknown");
            assert_ne!(lockdown_reason_name(code), "none");
        }
        assert_eq!(lockdown_reason_name(99), "unknown");
        assert_eq!(regime_name(REGIME_ATTACK), "attack");
        assert_eq!(regime_name(REGIME_VETO), "veto");
        assert_eq!(regime_name(REGIME_UNKNOWN), "unknown");
    }

    #[test]
    fn telemetry_fits_seqlock_words() {
        // SeqLock copies whole 8-byte words.
        assert_eq!(core::mem::size_of::<OracleTelemetry>() % 8, 0);
        assert_eq!(core::mem::size_of::<SonarTelemetry>() % 8, 0);
        assert_eq!(core::mem::size_of::<SentinelTelemetry>() % 8, 0);
        assert_eq!(core::mem::size_of::<ExecutionTelemetry>() % 8, 0);
        assert_eq!(core::mem::size_of::<FeedTelemetry>() % 8, 0);
    }

    #[test]
    fn last_emergency_round_trips() {
        let mut t = SentinelTelemetry::default();
        t.set_last_emergency("restart execution: heartbeat 250 ms old");
        assert_eq!(
            t.last_emergency(),
            "restart execution: heartbeat 250 ms old"
        );
    }
}
