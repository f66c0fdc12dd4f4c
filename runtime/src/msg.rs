//! Messages that cross shared memory.
//!
//! Every type here is `#[repr(C)]`, fixed size, free of pointers and padding
//! (enforced by `bytemuck::Pod`), and carries the timestamps latency measurement
//! needs. Enumerations travel as small integers with `const` codes, never as Rust
//! enums, so a corrupt byte can be detected instead of being undefined behaviour.
//!
//! Prices and quantities are fixed-point integers scaled by [`PRICE_SCALE`]
//! (`price_e8 = price × 10^8`). Times are nanoseconds: `*_ns` on the engine's
//! monotonic clock unless the name says `exchange`.

use bytemuck::{Pod, Zeroable};

/// Fixed-point scale of every `*_e8` field.
pub const PRICE_SCALE: i64 = 100_000_000;
/// Levels per side carried in a [`BookUpdate`].
pub const BOOK_DEPTH: usize = 8;
/// Largest message that may travel through a ring slot.
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// Marker for types that may live in shared memory.
///
/// # Safety
/// Implement only through [`shm_safe!`], which checks at compile time that the
/// type is plain old data (no pointers, no padding, every bit pattern valid:
/// `bytemuck::Pod`), that its alignment is at most one cache line and that its
/// size fits a ring slot.
pub unsafe trait ShmSafe: Pod {
    /// Stable name mixed into the layout hash of a region.
    const TYPE_NAME: &'static str;
}

/// Declare types as [`ShmSafe`] with compile-time layout checks.
#[macro_export]
macro_rules! shm_safe {
    ($($t:ty),* $(,)?) => {$(
        // Safety: the const block below fails the build unless `$t` is Pod (no
        // pointers, no padding), at most cache-line aligned and slot sized.
        unsafe impl $crate::msg::ShmSafe for $t {
            const TYPE_NAME: &'static str = stringify!($t);
        }
        const _: () = {
            const fn is_pod<T: ::bytemuck::Pod>() {}
            is_pod::<$t>();
            assert!(::core::mem::align_of::<$t>() <= 64, "alignment above a cache line");
            assert!(::core::mem::size_of::<$t>() <= $crate::msg::MAX_MESSAGE_BYTES, "too large for a slot");
            assert!(::core::mem::size_of::<$t>() > 0, "zero-sized message");
        };
    )*};
}

/// Timestamps carried by every message, for latency measurement.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Stamps {
    /// Event time at the exchange or venue (ns since the Unix epoch; 0 = unknown).
    pub exchange_ns: u64,
    /// When the Feed received the bytes that caused this chain (monotonic ns).
    /// Copied unchanged down the chain: tick-to-order = order written − `recv_ns`.
    pub recv_ns: u64,
    /// When the producer of this message published it (monotonic ns).
    pub publish_ns: u64,
    /// Intended send time of a benchmark's synthetic event (monotonic ns; 0 = none),
    /// so latency can be measured without coordinated omission.
    pub intended_ns: u64,
}

/// One price level.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Level {
    pub price_e8: i64,
    pub qty_e8: i64,
}

/// Side codes.
pub mod side {
    pub const BUY: u8 = 1;
    pub const SELL: u8 = 2;
}

/// Kinds of [`MdEvent`].
pub mod md_kind {
    /// `book` holds the top [`super::BOOK_DEPTH`] levels after an update.
    pub const BOOK: u32 = 1;
    /// `trade` holds a print.
    pub const TRADE: u32 = 2;
    /// The feed lost its book (gap, disconnect); consumers must distrust data
    /// until a [`BOOK`] with `flags & md_flags::RESYNC` arrives.
    pub const STATUS: u32 = 3;
}

/// Flags on [`MdEvent`].
pub mod md_flags {
    /// A sequence gap was detected before this event.
    pub const GAP: u32 = 1 << 0;
    /// The book was rebuilt from a snapshot (end of a gap).
    pub const RESYNC: u32 = 1 << 1;
    /// The book is crossed or locked (best bid ≥ best ask).
    pub const CROSSED: u32 = 1 << 2;
    /// Data is stale (no update within the staleness bound).
    pub const STALE: u32 = 1 << 3;
    /// The upstream connection is down.
    pub const DISCONNECTED: u32 = 1 << 4;
    /// The event failed validation (corrupt or insane values) and was counted.
    pub const CORRUPT: u32 = 1 << 5;
}

/// Top of book after an update.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct BookTop {
    pub bids: [Level; BOOK_DEPTH],
    pub asks: [Level; BOOK_DEPTH],
    /// Levels filled in `bids` / `asks` (the rest are zero).
    pub bid_levels: u32,
    pub ask_levels: u32,
    /// Price-level changes folded into this update.
    pub changes: u32,
    pub _pad: u32,
}

/// A print.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Trade {
    pub price_e8: i64,
    pub qty_e8: i64,
    pub trade_id: u64,
    /// [`side::BUY`] when the aggressor bought.
    pub aggressor_side: u8,
    pub _pad: [u8; 7],
}

/// Market data published by Feed on the broadcast ring.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct MdEvent {
    /// Feed's own sequence, dense from 1.
    pub seq: u64,
    /// The venue's sequence (or Binance update id `u`) this event came from.
    pub venue_seq: u64,
    pub stamps: Stamps,
    pub instrument_id: u32,
    /// One of [`md_kind`].
    pub kind: u32,
    /// Bits of [`md_flags`].
    pub flags: u32,
    pub _pad: u32,
    pub book: BookTop,
    pub trade: Trade,
}

/// Oracle → Execution: the order-book signal.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct Signal {
    pub seq: u64,
    /// The [`MdEvent::seq`] this signal was computed from.
    pub md_seq: u64,
    pub stamps: Stamps,
    pub instrument_id: u32,
    pub _pad: u32,
    /// Weighted order book imbalance, −1 (all asks) … +1 (all bids).
    pub wobi: f64,
    /// Signed, normalised strength, −1 … +1.
    pub strength: f64,
    /// Liquidity imbalance in percent, −100 … +100.
    pub imbalance_pct: f64,
    pub microprice_e8: i64,
    pub best_bid_e8: i64,
    pub best_ask_e8: i64,
    pub best_bid_qty_e8: i64,
    pub best_ask_qty_e8: i64,
}

/// Order types.
pub mod order_type {
    pub const LIMIT: u8 = 1;
    pub const MARKET: u8 = 2;
}

/// Time in force.
pub mod tif {
    pub const DAY: u8 = 1;
    pub const IOC: u8 = 2;
}

/// A strategy's wish to place, modify or cancel an order (strategy → Execution).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct OrderIntent {
    pub seq: u64,
    pub stamps: Stamps,
    /// Client order id to act on (0 for a new order: Execution assigns one).
    pub client_order_id: u64,
    pub price_e8: i64,
    pub qty_e8: i64,
    pub instrument_id: u32,
    /// One of [`intent_action`].
    pub action: u8,
    /// [`side`] code.
    pub side: u8,
    /// [`order_type`] code.
    pub order_type: u8,
    /// [`tif`] code.
    pub tif: u8,
}

/// Actions of an [`OrderIntent`].
pub mod intent_action {
    pub const NEW: u8 = 1;
    pub const MODIFY: u8 = 2;
    pub const CANCEL: u8 = 3;
    pub const CANCEL_ALL: u8 = 4;
}

/// Kinds of [`IntentEvent`] that answer an intent itself. The life of an intent's order carries
/// the [`order_event_kind`] codes (SENT is the intent placed: its client order id is the one to
/// cancel by).
pub mod intent_event_kind {
    /// Refused for what it asks; `reason` is Execution's `IntentRefusal` code.
    pub const REFUSED: u8 = 64;
    /// Stopped by a gate (kill switch, lockdown, regime, position limit, OTR, rate...);
    /// `reason` is Execution's `BlockReason` code.
    pub const BLOCKED: u8 = 65;
    /// A CANCEL or CANCEL_ALL taken: `orders` of the intents' orders are being cancelled
    /// (each one's CANCEL_SENT, then CANCELLED or CANCEL_REJECTED, follow).
    pub const CANCELLING: u8 = 66;
    /// Not decided on: read while Execution had no logged-on venue session or was halted other
    /// than by the kill switch. Nothing was sent; send it again if it still holds.
    pub const DROPPED: u8 = 67;
    /// The order's life ended while Execution was not watching it: after a restart or a lost
    /// venue session, the venue no longer listed it (filled or cancelled meanwhile). Fills
    /// Execution did not see come back as a correction of its position, not as fill events.
    pub const GONE: u8 = 68;

    /// Whether an event of `kind` ends the life of an order placed for an intent: filled,
    /// cancelled, rejected or gone. (A partial fill, SENT, ACCEPTED, OPEN, MODIFIED: it works on.)
    pub const fn ends_order(kind: u8) -> bool {
        use super::order_event_kind as oek;
        matches!(kind, oek::FILLED | oek::CANCELLED | oek::REJECTED | GONE)
    }
}

/// Execution → user strategy actors (`intent_events.ring`): what became of their intents and of
/// the orders placed for them: placed (SENT), accepted, open, filled, cancelled, rejected,
/// refused or blocked. `intent_seq` is the [`OrderIntent::seq`] it answers (for an order's life:
/// the seq of the NEW intent that placed it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct IntentEvent {
    /// Position on `intent_events.ring` (continues across Execution restarts).
    pub seq: u64,
    pub stamps: Stamps,
    pub intent_seq: u64,
    /// The order's client order id (0 when no order is concerned: refused, blocked, cancelling).
    pub client_order_id: u64,
    pub price_e8: i64,
    pub qty_e8: i64,
    /// This fill's quantity and price (fills only).
    pub fill_qty_e8: i64,
    pub fill_price_e8: i64,
    /// Quantity still open after this event.
    pub leaves_qty_e8: i64,
    pub instrument_id: u32,
    /// CANCELLING only: how many orders are being cancelled.
    pub orders: u32,
    /// Refusal or block reason code, or the venue's reject or cancel reason (0 = none).
    pub reason: u16,
    /// One of [`intent_event_kind`] or [`order_event_kind`].
    pub kind: u8,
    /// [`side`] code (0 when no order is concerned).
    pub side: u8,
    pub _pad: [u8; 4],
}

/// Kinds of [`OrderEvent`]: the life of an order as Execution saw it.
pub mod order_event_kind {
    /// Bytes of a new order written to the venue connection.
    pub const SENT: u8 = 1;
    /// Broker/venue gateway accepted it (not yet on the book).
    pub const ACCEPTED: u8 = 2;
    /// Resting on the book.
    pub const OPEN: u8 = 3;
    pub const PARTIALLY_FILLED: u8 = 4;
    pub const FILLED: u8 = 5;
    /// Cancel request written to the venue connection.
    pub const CANCEL_SENT: u8 = 6;
    pub const CANCELLED: u8 = 7;
    pub const REJECTED: u8 = 8;
    /// Modify request written to the venue connection.
    pub const MODIFY_SENT: u8 = 9;
    pub const MODIFIED: u8 = 10;
    /// A cancel or modify was refused (e.g. too late to cancel).
    pub const CANCEL_REJECTED: u8 = 11;
    /// Not an order's: the account's position was corrected to the venue's after a
    /// reconciliation (fills the venue matched that never reached us). `qty_e8` = the
    /// position now (absolute, bought − sold), `fill_qty_e8` = the change Execution applied,
    /// `fill_price_e8` = the mark it was valued at (so the correction moves no P&L);
    /// `client_order_id` 0.
    pub const POSITION: u8 = 12;
}

/// Execution → Sentinel (and the journal): one state change of an order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct OrderEvent {
    pub seq: u64,
    pub stamps: Stamps,
    pub client_order_id: u64,
    pub venue_order_id: u64,
    pub price_e8: i64,
    pub qty_e8: i64,
    /// Quantity of this fill (fills only).
    pub fill_qty_e8: i64,
    /// Price of this fill (fills only).
    pub fill_price_e8: i64,
    /// Quantity still open after this event.
    pub leaves_qty_e8: i64,
    /// Last traded price when the order was sent or modified (OTR exemption band).
    pub ltp_e8: i64,
    /// When the request this event answers was written (monotonic ns).
    pub request_sent_ns: u64,
    pub instrument_id: u32,
    /// Venue reject or cancel reason code (0 = none).
    pub reason: u16,
    /// One of [`order_event_kind`].
    pub kind: u8,
    /// [`side`] code.
    pub side: u8,
}

/// Actions of an [`Emergency`].
pub mod emergency_action {
    pub const RESTART_ACTOR: u8 = 1;
    pub const HALT_ALL: u8 = 2;
    /// Informational: lockdown entered or lifted.
    pub const LOCKDOWN: u8 = 3;
}

/// Sentinel → supervisor: restart an actor or halt everything, with a reason.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Emergency {
    pub seq: u64,
    pub stamps: Stamps,
    /// Actor slot index the action applies to (RESTART_ACTOR).
    pub actor_index: u32,
    /// One of [`emergency_action`].
    pub action: u8,
    pub _pad: [u8; 3],
    /// UTF-8 reason, zero padded.
    pub reason: [u8; 48],
}

impl Default for Emergency {
    fn default() -> Self {
        Self::zeroed()
    }
}

/// Commands of a [`Control`] message.
pub mod control_command {
    /// Finish in-flight work, cancel orders, flush journals, exit 0.
    pub const STOP: u8 = 1;
    /// Re-read configuration that may change at run time.
    pub const RELOAD: u8 = 2;
    /// Venue latency injection change: `arg0` = one-way delay ns, `arg1` = jitter ns.
    pub const SET_LATENCY: u8 = 3;
}

/// Supervisor/CLI → an actor.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Control {
    pub seq: u64,
    pub stamps: Stamps,
    pub arg0: u64,
    pub arg1: u64,
    pub target_actor_index: u32,
    /// One of [`control_command`].
    pub command: u8,
    pub _pad: [u8; 3],
}

shm_safe!(
    MdEvent,
    Signal,
    OrderIntent,
    OrderEvent,
    IntentEvent,
    Emergency,
    Control
);

/// Copy `text` into a fixed zero-padded buffer, cut at a UTF-8 boundary.
pub fn put_str<const N: usize>(buf: &mut [u8; N], text: &str) {
    *buf = [0; N];
    let mut end = text.len().min(N);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    buf[..end].copy_from_slice(&text.as_bytes()[..end]);
}

/// Read a zero-padded buffer written by [`put_str`]; invalid UTF-8 is replaced.
pub fn get_str(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// A hash of every message layout (names, sizes, alignments), stored in each
/// region header so that a binary built with other layouts refuses to attach.
pub const fn layout_hash() -> u64 {
    // FNV-1a over a description of each message type.
    const fn mix(mut h: u64, bytes: &[u8]) -> u64 {
        let mut i = 0;
        while i < bytes.len() {
            h ^= bytes[i] as u64;
            h = h.wrapping_mul(0x100_0000_01b3);
            i += 1;
        }
        h
    }
    const fn mix_u64(h: u64, v: u64) -> u64 {
        mix(h, &v.to_le_bytes())
    }
    macro_rules! ty {
        ($h:ident, $t:ty) => {
            $h = mix($h, stringify!($t).as_bytes());
            $h = mix_u64($h, core::mem::size_of::<$t>() as u64);
            $h = mix_u64($h, core::mem::align_of::<$t>() as u64);
        };
    }
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    ty!(h, Stamps);
    ty!(h, Level);
    ty!(h, BookTop);
    ty!(h, Trade);
    ty!(h, MdEvent);
    ty!(h, Signal);
    ty!(h, OrderIntent);
    ty!(h, OrderEvent);
    ty!(h, Emergency);
    ty!(h, Control);
    h = mix_u64(h, BOOK_DEPTH as u64);
    h = mix_u64(h, PRICE_SCALE as u64);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip_and_cut_at_char_boundary() {
        let mut buf = [0u8; 8];
        put_str(&mut buf, "rtt 25ms");
        assert_eq!(get_str(&buf), "rtt 25ms");
        put_str(&mut buf, "₹₹₹"); // 9 bytes: the third rupee sign does not fit
        assert_eq!(get_str(&buf), "₹₹");
    }

    #[test]
    fn layout_hash_depends_on_layouts() {
        assert_ne!(layout_hash(), 0);
        assert_eq!(layout_hash(), layout_hash());
    }

    #[test]
    fn sizes_are_whole_words() {
        assert_eq!(core::mem::size_of::<MdEvent>() % 8, 0);
        assert_eq!(core::mem::size_of::<OrderEvent>() % 8, 0);
    }
}
