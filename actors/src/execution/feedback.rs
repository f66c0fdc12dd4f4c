//! What Execution tells user strategy actors (`intent_events.ring`): the answer to each intent
//! (refused with its reason, blocked by a gate, cancelling N orders) and the life of every order
//! placed for an intent (SENT with the client order id to cancel by, ACCEPTED, OPEN, fills,
//! CANCEL_SENT, CANCELLED, REJECTED...), each tagged with the seq of the intent that placed it.
//!
//! A pure state machine beside [`super::Execution`]: the live loop hands it each intent's
//! [`IntentOutcome`] and each order report, and publishes what it returns. It remembers which
//! client order ids belong to which intent, at most [`MAX_OPEN_ORDERS`] at once (the most the
//! order table holds), oldest forgotten first when room is needed, and counted. The journal
//! records which orders were intents' (`FOR_INTENT`), so a restarted Execution takes the table
//! up again from what it recovered ([`IntentFeedback::restore`]) and its strategies go on
//! hearing of their orders: an order the venue no longer lists at the reconciliation ends with
//! GONE.

use runtime::msg::{intent_event_kind as iek, IntentEvent, OrderEvent, OrderIntent};

use super::journal::{jkind, RecoveredState};
use super::{IntentOutcome, MAX_OPEN_ORDERS};

/// Client order ids of intents' orders, with the seq of the intent that placed each.
#[derive(Debug)]
pub struct IntentFeedback {
    /// (client order id, intent seq), oldest first.
    live: Vec<(u64, u64)>,
    /// Entries forgotten to make room (orders gone without a final report).
    pub forgotten: u64,
}

impl Default for IntentFeedback {
    fn default() -> Self {
        IntentFeedback::new()
    }
}

impl IntentFeedback {
    /// Its table allocated once, at the most it holds.
    pub fn new() -> IntentFeedback {
        IntentFeedback {
            live: Vec::with_capacity(MAX_OPEN_ORDERS),
            forgotten: 0,
        }
    }

    /// Take up the intents' orders a journal replay found open (after a restart, or a lost
    /// venue session), in place of what the table held: the journal is what Execution's order
    /// table is rebuilt from too. At most [`MAX_OPEN_ORDERS`], as Execution restores no more.
    pub fn restore(&mut self, st: &RecoveredState) {
        self.live.clear();
        self.live.extend(
            st.open_orders
                .iter()
                .filter_map(|o| Some((o.client_order_id, o.intent_seq?)))
                .take(MAX_OPEN_ORDERS),
        );
    }

    /// Intents' orders that may still have events to come.
    pub fn open(&self) -> usize {
        self.live.len()
    }

    /// The answer to `intent`. A placed order's answer is its SENT report (see
    /// [`IntentFeedback::order_event`]), so `Placed` only remembers its client order id.
    pub fn answer(
        &mut self,
        intent: &OrderIntent,
        outcome: IntentOutcome,
        now_ns: u64,
    ) -> Option<IntentEvent> {
        let base = about(intent, now_ns);
        match outcome {
            IntentOutcome::Placed(cid) => {
                if self.live.len() >= MAX_OPEN_ORDERS {
                    self.live.remove(0);
                    self.forgotten += 1;
                }
                self.live.push((cid, intent.seq));
                None
            }
            IntentOutcome::Refused(r) => Some(IntentEvent {
                kind: iek::REFUSED,
                reason: r as u16,
                ..base
            }),
            IntentOutcome::Blocked(b) => Some(IntentEvent {
                kind: iek::BLOCKED,
                reason: b as u16,
                ..base
            }),
            IntentOutcome::Cancelled(n) => Some(IntentEvent {
                kind: iek::CANCELLING,
                orders: n as u32,
                client_order_id: intent.client_order_id,
                ..base
            }),
        }
    }

    /// The answer to an intent read while Execution could not decide on it (no venue session,
    /// or halted other than by the kill switch): nothing was sent.
    pub fn dropped(intent: &OrderIntent, now_ns: u64) -> IntentEvent {
        IntentEvent {
            kind: iek::DROPPED,
            ..about(intent, now_ns)
        }
    }

    /// The event for a strategy in `ev`, a report or journal record of Execution, if its order
    /// was an intent's. A final report (filled, cancelled, rejected) or the journal's GONE (the
    /// venue no longer lists it at a reconciliation) ends the order's entry; other journal-only
    /// records say nothing to a strategy.
    pub fn order_event(&mut self, ev: &OrderEvent) -> Option<IntentEvent> {
        let kind = match ev.kind {
            jkind::GONE => iek::GONE,
            // Journal-only kinds start at INTENT (100); below it are the reports' own kinds.
            k if k < jkind::INTENT => k,
            _ => return None,
        };
        let i = self
            .live
            .iter()
            .position(|&(cid, _)| cid == ev.client_order_id)?;
        let intent_seq = self.live[i].1;
        // Execution reports the last fill as FILLED (leaves 0), never as a partial.
        if iek::ends_order(kind) {
            self.live.remove(i);
        }
        Some(IntentEvent {
            stamps: ev.stamps,
            intent_seq,
            client_order_id: ev.client_order_id,
            price_e8: ev.price_e8,
            qty_e8: ev.qty_e8,
            fill_qty_e8: ev.fill_qty_e8,
            fill_price_e8: ev.fill_price_e8,
            leaves_qty_e8: ev.leaves_qty_e8,
            instrument_id: ev.instrument_id,
            reason: ev.reason,
            kind,
            side: ev.side,
            ..Default::default()
        })
    }
}

/// An answer about `intent`, published at `now_ns`, its kind still to set.
fn about(intent: &OrderIntent, now_ns: u64) -> IntentEvent {
    IntentEvent {
        stamps: runtime::msg::Stamps {
            publish_ns: now_ns,
            ..intent.stamps
        },
        intent_seq: intent.seq,
        price_e8: intent.price_e8,
        qty_e8: intent.qty_e8,
        instrument_id: intent.instrument_id,
        side: intent.side,
        ..Default::default()
    }
}
