//! The venue's wire protocol, version 1 (specified in `docs/venue-protocol.md`).
//!
//! Little-endian binary frames over TCP: a 16-byte header (magic, version, type,
//! body length, sequence) and a fixed-layout body per type (two variable ones:
//! `BookDelta` and `Snapshot`, whose level arrays are read in place, without copying).
//!
//! The decoder is total: any byte string yields a frame or a [`DecodeError`] with a
//! stable [`DecodeError::code`]; nothing panics and nothing reads out of bounds.

use thiserror::Error;

pub const MAGIC: u16 = 0x4E56; // bytes "VN"
pub const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 16;
/// Largest body accepted (and produced). A Snapshot of 2 × 1,000 levels is 32,016 bytes.
pub const MAX_BODY_LEN: usize = 65_536 - HEADER_LEN;
/// Most levels in one BookDelta that fits [`MAX_BODY_LEN`].
pub const MAX_DELTA_LEVELS: usize = (MAX_BODY_LEN - 16) / 24;
/// Most levels (both sides) in one Snapshot.
pub const MAX_SNAPSHOT_LEVELS: usize = (MAX_BODY_LEN - 16) / 16;

/// Frame type codes.
pub mod msg_type {
    pub const LOGON: u8 = 1;
    pub const LOGON_ACK: u8 = 2;
    pub const HEARTBEAT: u8 = 3;
    pub const LOGOUT: u8 = 4;
    pub const ERROR: u8 = 5;
    pub const NEW_ORDER: u8 = 10;
    pub const CANCEL_ORDER: u8 = 11;
    pub const MODIFY_ORDER: u8 = 12;
    pub const ORDER_ACCEPTED: u8 = 20;
    pub const ORDER_OPEN: u8 = 21;
    pub const FILL: u8 = 22;
    pub const CANCELLED: u8 = 23;
    pub const REJECTED: u8 = 24;
    pub const CANCEL_REJECTED: u8 = 25;
    pub const MODIFIED: u8 = 26;
    /// The account's position in one instrument, sent after `LogonAck` (one per instrument).
    pub const POSITION_REPORT: u8 = 27;
    pub const BOOK_DELTA: u8 = 30;
    pub const SNAPSHOT: u8 = 31;
    pub const TRADE_PRINT: u8 = 32;
    pub const SNAPSHOT_REQUEST: u8 = 33;
}

/// Error codes carried in [`ErrorFrame::code`] (1-7 are decode errors, see [`DecodeError::code`]).
pub mod error_code {
    pub const TRUNCATED: u16 = 1;
    pub const BAD_MAGIC: u16 = 2;
    pub const BAD_VERSION: u16 = 3;
    pub const UNKNOWN_TYPE: u16 = 4;
    pub const OVERSIZED: u16 = 5;
    pub const BAD_LENGTH: u16 = 6;
    pub const BAD_VALUE: u16 = 7;
    /// A valid frame that is not allowed here (order before Logon, server-only type from a client).
    pub const UNEXPECTED: u16 = 8;
    /// No frame from the peer within the session timeout.
    pub const TIMEOUT: u16 = 9;
    pub const TOO_MANY_SESSIONS: u16 = 10;
    /// The peer does not read fast enough; the server's buffer for it is full.
    pub const SLOW_CONSUMER: u16 = 11;
    /// The venue is shutting down.
    pub const SHUTDOWN: u16 = 12;
}

/// Why bytes are not a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("truncated frame: {needed} bytes needed, {have} present")]
    Truncated { needed: usize, have: usize },
    #[error("bad magic {0:#06x} (expected 0x4e56 \"VN\"): not a venue stream or framing lost")]
    BadMagic(u16),
    #[error("protocol version {0} not supported (this build speaks {VERSION})")]
    BadVersion(u8),
    #[error("unknown frame type {0}")]
    UnknownType(u8),
    #[error("body of {0} bytes exceeds the {MAX_BODY_LEN}-byte limit")]
    Oversized(u32),
    #[error("frame type {msg_type} with body length {len} (layout says {expected})")]
    BadLength {
        msg_type: u8,
        len: u32,
        expected: u32,
    },
    #[error("frame type {msg_type}: invalid {field}")]
    BadValue { msg_type: u8, field: &'static str },
}

impl DecodeError {
    /// Stable code for the Error frame (see [`error_code`]).
    pub fn code(&self) -> u16 {
        match self {
            DecodeError::Truncated { .. } => error_code::TRUNCATED,
            DecodeError::BadMagic(_) => error_code::BAD_MAGIC,
            DecodeError::BadVersion(_) => error_code::BAD_VERSION,
            DecodeError::UnknownType(_) => error_code::UNKNOWN_TYPE,
            DecodeError::Oversized(_) => error_code::OVERSIZED,
            DecodeError::BadLength { .. } => error_code::BAD_LENGTH,
            DecodeError::BadValue { .. } => error_code::BAD_VALUE,
        }
    }

    /// Whether the stream can continue after this frame (its boundaries are intact),
    /// i.e. the receiver skips `header.body_len` bytes instead of closing.
    pub fn frame_skippable(&self) -> bool {
        matches!(
            self,
            DecodeError::UnknownType(_) | DecodeError::BadValue { .. }
        )
    }
}

/// Why a frame could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("{0} levels exceed the per-frame limit")]
    TooManyLevels(usize),
    #[error("level side code {0} is not BUY (1) or SELL (2)")]
    BadSide(u8),
}

/// Frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    pub msg_type: u8,
    pub body_len: u32,
    /// Order entry: per-connection, per-direction sequence from 1. Market data: the
    /// stream sequence (see the document: deltas and prints consume one each; a
    /// Snapshot carries the sequence it is consistent with; a Heartbeat the last sent).
    pub seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Logon {
    pub account: u32,
    /// Heartbeat interval the client will keep (0 = venue default).
    pub heartbeat_ms: u32,
    /// Self-trade-prevention group (the PAN, hashed).
    pub stp_id: u64,
    /// Free text, zero padded.
    pub name: [u8; 16],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogonAck {
    pub session_id: u32,
    pub heartbeat_ms: u32,
    pub venue_time_ns: u64,
    pub instruments: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Heartbeat {
    pub send_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Logout {
    pub reason: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorFrame {
    pub code: u16,
    /// Type of the offending frame (0 = none).
    pub frame_type: u8,
    /// Whether the sender closes the connection after this frame.
    pub closing: bool,
    /// Sequence of the offending frame (0 = none).
    pub ref_seq: u64,
    pub detail: [u8; 48],
}

impl Default for ErrorFrame {
    fn default() -> Self {
        ErrorFrame {
            code: 0,
            frame_type: 0,
            closing: false,
            ref_seq: 0,
            detail: [0; 48],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NewOrderMsg {
    pub client_order_id: u64,
    pub instrument_id: u32,
    pub side: u8,
    pub order_type: u8,
    pub tif: u8,
    pub price_e8: i64,
    pub qty_e8: i64,
    /// Client's send timestamp, echoed nowhere; for the client's own journal.
    pub send_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CancelOrderMsg {
    pub client_order_id: u64,
    /// 0 = find by `client_order_id`.
    pub venue_order_id: u64,
    pub instrument_id: u32,
    pub send_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModifyOrderMsg {
    pub client_order_id: u64,
    pub venue_order_id: u64,
    pub instrument_id: u32,
    pub price_e8: i64,
    /// New total quantity (filled part included).
    pub qty_e8: i64,
    pub send_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OrderAcceptedMsg {
    pub client_order_id: u64,
    pub venue_order_id: u64,
    pub instrument_id: u32,
    pub side: u8,
    pub price_e8: i64,
    pub qty_e8: i64,
    pub venue_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OrderOpenMsg {
    pub client_order_id: u64,
    pub venue_order_id: u64,
    pub instrument_id: u32,
    pub side: u8,
    pub price_e8: i64,
    pub leaves_qty_e8: i64,
    pub venue_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FillMsg {
    pub client_order_id: u64,
    pub venue_order_id: u64,
    pub instrument_id: u32,
    pub side: u8,
    /// 1 when our order was resting (maker), 0 when it took liquidity.
    pub maker: u8,
    pub price_e8: i64,
    pub qty_e8: i64,
    pub leaves_qty_e8: i64,
    pub trade_id: u64,
    pub venue_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CancelledMsg {
    pub client_order_id: u64,
    pub venue_order_id: u64,
    pub instrument_id: u32,
    pub side: u8,
    /// `matching::cancel_reason` code.
    pub reason: u16,
    pub price_e8: i64,
    pub cancelled_qty_e8: i64,
    pub venue_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RejectedMsg {
    pub client_order_id: u64,
    pub instrument_id: u32,
    /// `matching::reject` code.
    pub reason: u16,
    pub venue_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CancelRejectedMsg {
    pub client_order_id: u64,
    pub venue_order_id: u64,
    pub reason: u16,
    pub venue_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModifiedMsg {
    pub client_order_id: u64,
    pub venue_order_id: u64,
    pub instrument_id: u32,
    pub side: u8,
    pub priority_kept: u8,
    pub price_e8: i64,
    pub qty_e8: i64,
    pub leaves_qty_e8: i64,
    pub venue_ns: u64,
}

/// The account's position in one instrument as the venue's matching engine has it: every
/// fill of every session the account ever had, delivered or not. The venue sends one per
/// instrument, in instrument order, right after `LogonAck` and before anything else, so a
/// client that lost fills with its last session (it died between the venue's write and its
/// own journal) learns its true position before it trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PositionReportMsg {
    pub instrument_id: u32,
    /// Net position: bought minus sold (quantity e8).
    pub position_e8: i64,
    /// Total quantity bought and sold (e8): two accounts with the same net can differ here.
    pub bought_e8: i64,
    pub sold_e8: i64,
    pub venue_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TradePrintMsg {
    pub instrument_id: u32,
    pub aggressor_side: u8,
    pub price_e8: i64,
    pub qty_e8: i64,
    pub trade_id: u64,
    pub venue_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SnapshotRequestMsg {
    pub instrument_id: u32,
}

/// One level change in a [`BookDelta`]: absolute quantity now at that price (0 = gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeltaLevel {
    pub side: u8,
    pub price_e8: i64,
    pub qty_e8: i64,
}

/// Price level updates, read in place from the frame bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookDelta<'a> {
    pub instrument_id: u32,
    pub flags: u16,
    pub venue_ns: u64,
    raw: &'a [u8],
}

impl<'a> BookDelta<'a> {
    pub fn len(&self) -> usize {
        self.raw.len() / 24
    }
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
    pub fn levels(&self) -> impl Iterator<Item = DeltaLevel> + 'a {
        self.raw.chunks_exact(24).map(|c| DeltaLevel {
            side: c[0],
            price_e8: le_i64(c, 8),
            qty_e8: le_i64(c, 16),
        })
    }
}

/// A full book, bids then asks, best first on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot<'a> {
    pub instrument_id: u32,
    pub venue_ns: u64,
    bid_count: u16,
    raw: &'a [u8],
}

impl<'a> Snapshot<'a> {
    pub fn bid_count(&self) -> usize {
        self.bid_count as usize
    }
    pub fn ask_count(&self) -> usize {
        self.raw.len() / 16 - self.bid_count as usize
    }
    fn pairs(raw: &'a [u8]) -> impl Iterator<Item = (i64, i64)> + 'a {
        raw.chunks_exact(16).map(|c| (le_i64(c, 0), le_i64(c, 8)))
    }
    /// (price, qty), best first.
    pub fn bids(&self) -> impl Iterator<Item = (i64, i64)> + 'a {
        Self::pairs(&self.raw[..self.bid_count as usize * 16])
    }
    pub fn asks(&self) -> impl Iterator<Item = (i64, i64)> + 'a {
        Self::pairs(&self.raw[self.bid_count as usize * 16..])
    }
}

/// A decoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    Logon(Logon),
    LogonAck(LogonAck),
    Heartbeat(Heartbeat),
    Logout(Logout),
    Error(ErrorFrame),
    NewOrder(NewOrderMsg),
    CancelOrder(CancelOrderMsg),
    ModifyOrder(ModifyOrderMsg),
    OrderAccepted(OrderAcceptedMsg),
    OrderOpen(OrderOpenMsg),
    Fill(FillMsg),
    Cancelled(CancelledMsg),
    Rejected(RejectedMsg),
    CancelRejected(CancelRejectedMsg),
    Modified(ModifiedMsg),
    PositionReport(PositionReportMsg),
    BookDelta(BookDelta<'a>),
    Snapshot(Snapshot<'a>),
    TradePrint(TradePrintMsg),
    SnapshotRequest(SnapshotRequestMsg),
}

// ---- little-endian helpers (bounds-checked; lengths are verified before use) ----

fn le_u64(b: &[u8], off: usize) -> u64 {
    match b.get(off..off + 8) {
        Some(s) => {
            let mut a = [0u8; 8];
            a.copy_from_slice(s);
            u64::from_le_bytes(a)
        }
        None => 0,
    }
}
fn le_i64(b: &[u8], off: usize) -> i64 {
    le_u64(b, off) as i64
}
fn le_u32(b: &[u8], off: usize) -> u32 {
    match b.get(off..off + 4) {
        Some(s) => {
            let mut a = [0u8; 4];
            a.copy_from_slice(s);
            u32::from_le_bytes(a)
        }
        None => 0,
    }
}
fn le_u16(b: &[u8], off: usize) -> u16 {
    match b.get(off..off + 2) {
        Some(s) => u16::from_le_bytes([s[0], s[1]]),
        None => 0,
    }
}
fn byte(b: &[u8], off: usize) -> u8 {
    b.get(off).copied().unwrap_or(0)
}

/// Fixed body length of a type; `None` for variable-length and unknown types.
pub fn fixed_body_len(t: u8) -> Option<u32> {
    use msg_type::*;
    Some(match t {
        LOGON => 32,
        LOGON_ACK => 24,
        HEARTBEAT => 8,
        LOGOUT => 8,
        ERROR => 64,
        NEW_ORDER => 48,
        CANCEL_ORDER => 32,
        MODIFY_ORDER => 48,
        ORDER_ACCEPTED => 48,
        ORDER_OPEN => 48,
        FILL => 64,
        CANCELLED => 48,
        REJECTED => 24,
        CANCEL_REJECTED => 32,
        MODIFIED => 56,
        POSITION_REPORT => 40,
        TRADE_PRINT => 40,
        SNAPSHOT_REQUEST => 8,
        _ => return None,
    })
}

fn known_type(t: u8) -> bool {
    fixed_body_len(t).is_some() || t == msg_type::BOOK_DELTA || t == msg_type::SNAPSHOT
}

/// Read and check a header. `Truncated` when fewer than [`HEADER_LEN`] bytes are present.
pub fn decode_header(buf: &[u8]) -> Result<Header, DecodeError> {
    if buf.len() < HEADER_LEN {
        return Err(DecodeError::Truncated {
            needed: HEADER_LEN,
            have: buf.len(),
        });
    }
    let magic = le_u16(buf, 0);
    if magic != MAGIC {
        return Err(DecodeError::BadMagic(magic));
    }
    let version = byte(buf, 2);
    if version != VERSION {
        return Err(DecodeError::BadVersion(version));
    }
    let msg_type = byte(buf, 3);
    let body_len = le_u32(buf, 4);
    if body_len as usize > MAX_BODY_LEN {
        return Err(DecodeError::Oversized(body_len));
    }
    Ok(Header {
        msg_type,
        body_len,
        seq: le_u64(buf, 8),
    })
}

/// Decode one frame from the front of `buf`: the header, the frame and the bytes it
/// used. `Truncated` means "read more"; see [`DecodeError::frame_skippable`] for the rest.
pub fn decode(buf: &[u8]) -> Result<(Header, Frame<'_>, usize), DecodeError> {
    let h = decode_header(buf)?;
    let total = HEADER_LEN + h.body_len as usize;
    if buf.len() < total {
        // Type and length are checked only once the frame is whole, so that an
        // unknown type can be skipped by its length.
        if !known_type(h.msg_type) {
            return Err(DecodeError::UnknownType(h.msg_type));
        }
        return Err(DecodeError::Truncated {
            needed: total,
            have: buf.len(),
        });
    }
    let body = &buf[HEADER_LEN..total];
    let frame = decode_body(h.msg_type, body)?;
    Ok((h, frame, total))
}

fn decode_body(t: u8, b: &[u8]) -> Result<Frame<'_>, DecodeError> {
    use msg_type::*;
    let len = b.len() as u32;
    if let Some(expected) = fixed_body_len(t) {
        if len != expected {
            return Err(DecodeError::BadLength {
                msg_type: t,
                len,
                expected,
            });
        }
    }
    let bad = |field| DecodeError::BadValue { msg_type: t, field };
    Ok(match t {
        LOGON => {
            let mut name = [0u8; 16];
            name.copy_from_slice(&b[16..32]);
            Frame::Logon(Logon {
                account: le_u32(b, 0),
                heartbeat_ms: le_u32(b, 4),
                stp_id: le_u64(b, 8),
                name,
            })
        }
        LOGON_ACK => Frame::LogonAck(LogonAck {
            session_id: le_u32(b, 0),
            heartbeat_ms: le_u32(b, 4),
            venue_time_ns: le_u64(b, 8),
            instruments: le_u32(b, 16),
        }),
        HEARTBEAT => Frame::Heartbeat(Heartbeat {
            send_ns: le_u64(b, 0),
        }),
        LOGOUT => Frame::Logout(Logout {
            reason: le_u16(b, 0),
        }),
        ERROR => {
            let closing = byte(b, 3);
            if closing > 1 {
                return Err(bad("closing flag"));
            }
            let mut detail = [0u8; 48];
            detail.copy_from_slice(&b[16..64]);
            Frame::Error(ErrorFrame {
                code: le_u16(b, 0),
                frame_type: byte(b, 2),
                closing: closing == 1,
                ref_seq: le_u64(b, 8),
                detail,
            })
        }
        NEW_ORDER => Frame::NewOrder(NewOrderMsg {
            client_order_id: le_u64(b, 0),
            instrument_id: le_u32(b, 8),
            side: byte(b, 12),
            order_type: byte(b, 13),
            tif: byte(b, 14),
            price_e8: le_i64(b, 16),
            qty_e8: le_i64(b, 24),
            send_ns: le_u64(b, 32),
        }),
        CANCEL_ORDER => Frame::CancelOrder(CancelOrderMsg {
            client_order_id: le_u64(b, 0),
            venue_order_id: le_u64(b, 8),
            instrument_id: le_u32(b, 16),
            send_ns: le_u64(b, 24),
        }),
        MODIFY_ORDER => Frame::ModifyOrder(ModifyOrderMsg {
            client_order_id: le_u64(b, 0),
            venue_order_id: le_u64(b, 8),
            instrument_id: le_u32(b, 16),
            price_e8: le_i64(b, 24),
            qty_e8: le_i64(b, 32),
            send_ns: le_u64(b, 40),
        }),
        ORDER_ACCEPTED => Frame::OrderAccepted(OrderAcceptedMsg {
            client_order_id: le_u64(b, 0),
            venue_order_id: le_u64(b, 8),
            instrument_id: le_u32(b, 16),
            side: byte(b, 20),
            price_e8: le_i64(b, 24),
            qty_e8: le_i64(b, 32),
            venue_ns: le_u64(b, 40),
        }),
        ORDER_OPEN => Frame::OrderOpen(OrderOpenMsg {
            client_order_id: le_u64(b, 0),
            venue_order_id: le_u64(b, 8),
            instrument_id: le_u32(b, 16),
            side: byte(b, 20),
            price_e8: le_i64(b, 24),
            leaves_qty_e8: le_i64(b, 32),
            venue_ns: le_u64(b, 40),
        }),
        FILL => Frame::Fill(FillMsg {
            client_order_id: le_u64(b, 0),
            venue_order_id: le_u64(b, 8),
            instrument_id: le_u32(b, 16),
            side: byte(b, 20),
            maker: byte(b, 21),
            price_e8: le_i64(b, 24),
            qty_e8: le_i64(b, 32),
            leaves_qty_e8: le_i64(b, 40),
            trade_id: le_u64(b, 48),
            venue_ns: le_u64(b, 56),
        }),
        CANCELLED => Frame::Cancelled(CancelledMsg {
            client_order_id: le_u64(b, 0),
            venue_order_id: le_u64(b, 8),
            instrument_id: le_u32(b, 16),
            side: byte(b, 20),
            reason: le_u16(b, 22),
            price_e8: le_i64(b, 24),
            cancelled_qty_e8: le_i64(b, 32),
            venue_ns: le_u64(b, 40),
        }),
        REJECTED => Frame::Rejected(RejectedMsg {
            client_order_id: le_u64(b, 0),
            instrument_id: le_u32(b, 8),
            reason: le_u16(b, 12),
            venue_ns: le_u64(b, 16),
        }),
        CANCEL_REJECTED => Frame::CancelRejected(CancelRejectedMsg {
            client_order_id: le_u64(b, 0),
            venue_order_id: le_u64(b, 8),
            reason: le_u16(b, 16),
            venue_ns: le_u64(b, 24),
        }),
        MODIFIED => Frame::Modified(ModifiedMsg {
            client_order_id: le_u64(b, 0),
            venue_order_id: le_u64(b, 8),
            instrument_id: le_u32(b, 16),
            side: byte(b, 20),
            priority_kept: byte(b, 21),
            price_e8: le_i64(b, 24),
            qty_e8: le_i64(b, 32),
            leaves_qty_e8: le_i64(b, 40),
            venue_ns: le_u64(b, 48),
        }),
        POSITION_REPORT => Frame::PositionReport(PositionReportMsg {
            instrument_id: le_u32(b, 0),
            position_e8: le_i64(b, 8),
            bought_e8: le_i64(b, 16),
            sold_e8: le_i64(b, 24),
            venue_ns: le_u64(b, 32),
        }),
        TRADE_PRINT => Frame::TradePrint(TradePrintMsg {
            instrument_id: le_u32(b, 0),
            aggressor_side: byte(b, 4),
            price_e8: le_i64(b, 8),
            qty_e8: le_i64(b, 16),
            trade_id: le_u64(b, 24),
            venue_ns: le_u64(b, 32),
        }),
        SNAPSHOT_REQUEST => Frame::SnapshotRequest(SnapshotRequestMsg {
            instrument_id: le_u32(b, 0),
        }),
        BOOK_DELTA => {
            if b.len() < 16 {
                return Err(DecodeError::BadLength {
                    msg_type: t,
                    len,
                    expected: 16,
                });
            }
            let count = le_u16(b, 4) as usize;
            let expected = 16 + 24 * count;
            if b.len() != expected {
                return Err(DecodeError::BadLength {
                    msg_type: t,
                    len,
                    expected: expected as u32,
                });
            }
            let raw = &b[16..];
            if raw
                .chunks_exact(24)
                .any(|c| c[0] != runtime::msg::side::BUY && c[0] != runtime::msg::side::SELL)
            {
                return Err(bad("level side"));
            }
            Frame::BookDelta(BookDelta {
                instrument_id: le_u32(b, 0),
                flags: le_u16(b, 6),
                venue_ns: le_u64(b, 8),
                raw,
            })
        }
        SNAPSHOT => {
            if b.len() < 16 {
                return Err(DecodeError::BadLength {
                    msg_type: t,
                    len,
                    expected: 16,
                });
            }
            let bids = le_u16(b, 4) as usize;
            let asks = le_u16(b, 6) as usize;
            let expected = 16 + 16 * (bids + asks);
            if b.len() != expected {
                return Err(DecodeError::BadLength {
                    msg_type: t,
                    len,
                    expected: expected as u32,
                });
            }
            Frame::Snapshot(Snapshot {
                instrument_id: le_u32(b, 0),
                venue_ns: le_u64(b, 8),
                bid_count: bids as u16,
                raw: &b[16..],
            })
        }
        other => return Err(DecodeError::UnknownType(other)),
    })
}

// ---- encoding ---------------------------------------------------------------

fn put_header(out: &mut Vec<u8>, t: u8, body_len: usize, seq: u64) {
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.push(VERSION);
    out.push(t);
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
}

/// Fixed-size body writer: fields at explicit offsets, so the layout table in the
/// document and the code read the same.
struct Body<const N: usize>([u8; N]);
impl<const N: usize> Body<N> {
    fn new() -> Self {
        Body([0; N])
    }
    fn u64(&mut self, off: usize, v: u64) -> &mut Self {
        self.0[off..off + 8].copy_from_slice(&v.to_le_bytes());
        self
    }
    fn i64(&mut self, off: usize, v: i64) -> &mut Self {
        self.u64(off, v as u64)
    }
    fn u32(&mut self, off: usize, v: u32) -> &mut Self {
        self.0[off..off + 4].copy_from_slice(&v.to_le_bytes());
        self
    }
    fn u16(&mut self, off: usize, v: u16) -> &mut Self {
        self.0[off..off + 2].copy_from_slice(&v.to_le_bytes());
        self
    }
    fn u8(&mut self, off: usize, v: u8) -> &mut Self {
        self.0[off] = v;
        self
    }
    fn bytes(&mut self, off: usize, v: &[u8]) -> &mut Self {
        self.0[off..off + v.len()].copy_from_slice(v);
        self
    }
    fn emit(&self, out: &mut Vec<u8>, t: u8, seq: u64) -> usize {
        put_header(out, t, N, seq);
        out.extend_from_slice(&self.0);
        HEADER_LEN + N
    }
}

/// Append a fixed-layout frame. `BookDelta`/`Snapshot` frames are re-encoded from
/// their decoded form (for relaying); build new ones with [`encode_book_delta`] and
/// [`encode_snapshot`]. Returns the bytes appended.
pub fn encode(frame: &Frame<'_>, seq: u64, out: &mut Vec<u8>) -> usize {
    use msg_type::*;
    match frame {
        Frame::Logon(m) => Body::<32>::new()
            .u32(0, m.account)
            .u32(4, m.heartbeat_ms)
            .u64(8, m.stp_id)
            .bytes(16, &m.name)
            .emit(out, LOGON, seq),
        Frame::LogonAck(m) => Body::<24>::new()
            .u32(0, m.session_id)
            .u32(4, m.heartbeat_ms)
            .u64(8, m.venue_time_ns)
            .u32(16, m.instruments)
            .emit(out, LOGON_ACK, seq),
        Frame::Heartbeat(m) => Body::<8>::new().u64(0, m.send_ns).emit(out, HEARTBEAT, seq),
        Frame::Logout(m) => Body::<8>::new().u16(0, m.reason).emit(out, LOGOUT, seq),
        Frame::Error(m) => Body::<64>::new()
            .u16(0, m.code)
            .u8(2, m.frame_type)
            .u8(3, m.closing as u8)
            .u64(8, m.ref_seq)
            .bytes(16, &m.detail)
            .emit(out, ERROR, seq),
        Frame::NewOrder(m) => Body::<48>::new()
            .u64(0, m.client_order_id)
            .u32(8, m.instrument_id)
            .u8(12, m.side)
            .u8(13, m.order_type)
            .u8(14, m.tif)
            .i64(16, m.price_e8)
            .i64(24, m.qty_e8)
            .u64(32, m.send_ns)
            .emit(out, NEW_ORDER, seq),
        Frame::CancelOrder(m) => Body::<32>::new()
            .u64(0, m.client_order_id)
            .u64(8, m.venue_order_id)
            .u32(16, m.instrument_id)
            .u64(24, m.send_ns)
            .emit(out, CANCEL_ORDER, seq),
        Frame::ModifyOrder(m) => Body::<48>::new()
            .u64(0, m.client_order_id)
            .u64(8, m.venue_order_id)
            .u32(16, m.instrument_id)
            .i64(24, m.price_e8)
            .i64(32, m.qty_e8)
            .u64(40, m.send_ns)
            .emit(out, MODIFY_ORDER, seq),
        Frame::OrderAccepted(m) => Body::<48>::new()
            .u64(0, m.client_order_id)
            .u64(8, m.venue_order_id)
            .u32(16, m.instrument_id)
            .u8(20, m.side)
            .i64(24, m.price_e8)
            .i64(32, m.qty_e8)
            .u64(40, m.venue_ns)
            .emit(out, ORDER_ACCEPTED, seq),
        Frame::OrderOpen(m) => Body::<48>::new()
            .u64(0, m.client_order_id)
            .u64(8, m.venue_order_id)
            .u32(16, m.instrument_id)
            .u8(20, m.side)
            .i64(24, m.price_e8)
            .i64(32, m.leaves_qty_e8)
            .u64(40, m.venue_ns)
            .emit(out, ORDER_OPEN, seq),
        Frame::Fill(m) => Body::<64>::new()
            .u64(0, m.client_order_id)
            .u64(8, m.venue_order_id)
            .u32(16, m.instrument_id)
            .u8(20, m.side)
            .u8(21, m.maker)
            .i64(24, m.price_e8)
            .i64(32, m.qty_e8)
            .i64(40, m.leaves_qty_e8)
            .u64(48, m.trade_id)
            .u64(56, m.venue_ns)
            .emit(out, FILL, seq),
        Frame::Cancelled(m) => Body::<48>::new()
            .u64(0, m.client_order_id)
            .u64(8, m.venue_order_id)
            .u32(16, m.instrument_id)
            .u8(20, m.side)
            .u16(22, m.reason)
            .i64(24, m.price_e8)
            .i64(32, m.cancelled_qty_e8)
            .u64(40, m.venue_ns)
            .emit(out, CANCELLED, seq),
        Frame::Rejected(m) => Body::<24>::new()
            .u64(0, m.client_order_id)
            .u32(8, m.instrument_id)
            .u16(12, m.reason)
            .u64(16, m.venue_ns)
            .emit(out, REJECTED, seq),
        Frame::CancelRejected(m) => Body::<32>::new()
            .u64(0, m.client_order_id)
            .u64(8, m.venue_order_id)
            .u16(16, m.reason)
            .u64(24, m.venue_ns)
            .emit(out, CANCEL_REJECTED, seq),
        Frame::Modified(m) => Body::<56>::new()
            .u64(0, m.client_order_id)
            .u64(8, m.venue_order_id)
            .u32(16, m.instrument_id)
            .u8(20, m.side)
            .u8(21, m.priority_kept)
            .i64(24, m.price_e8)
            .i64(32, m.qty_e8)
            .i64(40, m.leaves_qty_e8)
            .u64(48, m.venue_ns)
            .emit(out, MODIFIED, seq),
        Frame::PositionReport(m) => Body::<40>::new()
            .u32(0, m.instrument_id)
            .i64(8, m.position_e8)
            .i64(16, m.bought_e8)
            .i64(24, m.sold_e8)
            .u64(32, m.venue_ns)
            .emit(out, POSITION_REPORT, seq),
        Frame::TradePrint(m) => Body::<40>::new()
            .u32(0, m.instrument_id)
            .u8(4, m.aggressor_side)
            .i64(8, m.price_e8)
            .i64(16, m.qty_e8)
            .u64(24, m.trade_id)
            .u64(32, m.venue_ns)
            .emit(out, TRADE_PRINT, seq),
        Frame::SnapshotRequest(m) => {
            Body::<8>::new()
                .u32(0, m.instrument_id)
                .emit(out, SNAPSHOT_REQUEST, seq)
        }
        Frame::BookDelta(d) => {
            let n = d.len();
            put_header(out, BOOK_DELTA, 16 + 24 * n, seq);
            out.extend_from_slice(&d.instrument_id.to_le_bytes());
            out.extend_from_slice(&(n as u16).to_le_bytes());
            out.extend_from_slice(&d.flags.to_le_bytes());
            out.extend_from_slice(&d.venue_ns.to_le_bytes());
            out.extend_from_slice(d.raw);
            HEADER_LEN + 16 + 24 * n
        }
        Frame::Snapshot(s) => {
            put_header(out, SNAPSHOT, 16 + s.raw.len(), seq);
            out.extend_from_slice(&s.instrument_id.to_le_bytes());
            out.extend_from_slice(&s.bid_count.to_le_bytes());
            out.extend_from_slice(&(s.ask_count() as u16).to_le_bytes());
            out.extend_from_slice(&s.venue_ns.to_le_bytes());
            out.extend_from_slice(s.raw);
            HEADER_LEN + 16 + s.raw.len()
        }
    }
}

/// Append a BookDelta frame.
pub fn encode_book_delta(
    out: &mut Vec<u8>,
    seq: u64,
    instrument_id: u32,
    flags: u16,
    venue_ns: u64,
    levels: &[DeltaLevel],
) -> Result<usize, EncodeError> {
    if levels.len() > MAX_DELTA_LEVELS {
        return Err(EncodeError::TooManyLevels(levels.len()));
    }
    if let Some(l) = levels
        .iter()
        .find(|l| l.side != runtime::msg::side::BUY && l.side != runtime::msg::side::SELL)
    {
        return Err(EncodeError::BadSide(l.side));
    }
    let n = levels.len();
    put_header(out, msg_type::BOOK_DELTA, 16 + 24 * n, seq);
    out.extend_from_slice(&instrument_id.to_le_bytes());
    out.extend_from_slice(&(n as u16).to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&venue_ns.to_le_bytes());
    for l in levels {
        out.extend_from_slice(&[l.side, 0, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&l.price_e8.to_le_bytes());
        out.extend_from_slice(&l.qty_e8.to_le_bytes());
    }
    Ok(HEADER_LEN + 16 + 24 * n)
}

/// Append a Snapshot frame; `bids`/`asks` best first, (price, qty).
pub fn encode_snapshot(
    out: &mut Vec<u8>,
    seq: u64,
    instrument_id: u32,
    venue_ns: u64,
    bids: &[(i64, i64)],
    asks: &[(i64, i64)],
) -> Result<usize, EncodeError> {
    let n = bids.len() + asks.len();
    if n > MAX_SNAPSHOT_LEVELS {
        return Err(EncodeError::TooManyLevels(n));
    }
    put_header(out, msg_type::SNAPSHOT, 16 + 16 * n, seq);
    out.extend_from_slice(&instrument_id.to_le_bytes());
    out.extend_from_slice(&(bids.len() as u16).to_le_bytes());
    out.extend_from_slice(&(asks.len() as u16).to_le_bytes());
    out.extend_from_slice(&venue_ns.to_le_bytes());
    for &(p, q) in bids.iter().chain(asks.iter()) {
        out.extend_from_slice(&p.to_le_bytes());
        out.extend_from_slice(&q.to_le_bytes());
    }
    Ok(HEADER_LEN + 16 + 16 * n)
}

/// An Error frame with a human detail text.
pub fn error_frame(
    code: u16,
    frame_type: u8,
    ref_seq: u64,
    closing: bool,
    detail: &str,
) -> Frame<'static> {
    let mut d = [0u8; 48];
    runtime::msg::put_str(&mut d, detail);
    Frame::Error(ErrorFrame {
        code,
        frame_type,
        closing,
        ref_seq,
        detail: d,
    })
}
