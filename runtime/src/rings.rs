//! The engine's rings: names (docs/ARCHITECTURE.md) and capacities, in one place.
//!
//! The supervisor creates every ring before the first actor starts, so that no actor depends on
//! another's start order to find its rings; actors attach with `create_or_attach` or `attach`
//! using these same types. A restarted actor re-attaches and resumes at the persisted positions
//! (the rings never lose or duplicate a message across a restart).
//!

use crate::msg::{Emergency, IntentEvent, MdEvent, OrderEvent, OrderIntent, Signal};
use crate::ring::{Broadcast, RingError, Spsc};
use crate::shm::ShmDir;

pub const MD_RING: &str = "md.ring";
pub const SIGNAL_RING: &str = "signal.ring";
pub const INTENT_RING: &str = "intent.ring";
pub const ORDERS_RING: &str = "orders.ring";
pub const INTENT_EVENTS_RING: &str = "intent_events.ring";
pub const EMERGENCY_RING: &str = "emergency.ring";

/// Feed → Oracle, Sonar, Execution, UI. 64 Ki events ≈ a few seconds of a busy book.
pub type MdRing = Broadcast<MdEvent, 65_536>;
/// Oracle → Execution.
pub type SignalRing = Spsc<Signal, 4_096>;
/// A user strategy → Execution.
pub type IntentRing = Spsc<OrderIntent, 4_096>;
/// Execution → user strategies: the answers to their intents and their orders' lives. A
/// broadcast, so every strategy actor reads it with its own cursor (0-15) and a slow one loses
/// events (seen as an overrun) rather than stopping Execution.
pub type IntentEventRing = Broadcast<IntentEvent, 4_096>;
/// Execution → Sentinel.
pub type OrdersRing = Spsc<OrderEvent, 16_384>;
/// Sentinel → supervisor. Rare messages; the supervisor drains it every tick.
pub type EmergencyRing = Spsc<Emergency, 256>;

/// Create (or re-attach to, after checks) every ring in `dir`; returns the emergency ring, the
/// one the supervisor itself consumes.
pub fn create_all(dir: &ShmDir) -> Result<EmergencyRing, RingError> {
    MdRing::create_or_attach(dir, MD_RING)?;
    SignalRing::create_or_attach(dir, SIGNAL_RING)?;
    IntentRing::create_or_attach(dir, INTENT_RING)?;
    OrdersRing::create_or_attach(dir, ORDERS_RING)?;
    IntentEventRing::create_or_attach(dir, INTENT_EVENTS_RING)?;
    EmergencyRing::create_or_attach(dir, EMERGENCY_RING)
}
