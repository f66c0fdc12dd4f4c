//! The Feed state machine on hand-built frame sequences.

use runtime::msg::{md_flags, md_kind, side, MdEvent};
use venue::feed::{Feed, FeedAction, FeedConfig};
use venue::protocol::*;

const S: i64 = 100_000_000;

fn snapshot(seq: u64, iid: u32, bids: &[(i64, i64)], asks: &[(i64, i64)]) -> Vec<u8> {
    let mut b = Vec::new();
    let bids: Vec<_> = bids.iter().map(|&(p, q)| (p * S, q * S)).collect();
    let asks: Vec<_> = asks.iter().map(|&(p, q)| (p * S, q * S)).collect();
    encode_snapshot(&mut b, seq, iid, 1_000, &bids, &asks).unwrap();
    b
}

fn delta(seq: u64, iid: u32, levels: &[(u8, i64, i64)]) -> Vec<u8> {
    let mut b = Vec::new();
    let l: Vec<_> = levels
        .iter()
        .map(|&(side, p, q)| DeltaLevel {
            side,
            price_e8: p * S,
            qty_e8: q * S,
        })
        .collect();
    encode_book_delta(&mut b, seq, iid, 0, 2_000, &l).unwrap();
    b
}

fn feed_bytes(f: &mut Feed, bytes: &[u8], recv_ns: u64) -> Vec<FeedAction> {
    let (h, frame, _) = decode(bytes).unwrap();
    let mut out = Vec::new();
    f.on_frame(&h, &frame, recv_ns, &mut out);
    out
}

fn events(a: &[FeedAction]) -> Vec<MdEvent> {
    a.iter()
        .filter_map(|x| {
            if let FeedAction::Publish(e) = x {
                Some(*e)
            } else {
                None
            }
        })
        .collect()
}

fn feed() -> Feed {
    Feed::new(
        FeedConfig {
            stale_after_ns: 1_000,
            ..FeedConfig::default()
        },
        &[1, 2],
    )
}

#[test]
fn snapshot_then_deltas_build_the_book() {
    let mut f = feed();
    let a = feed_bytes(
        &mut f,
        &snapshot(10, 1, &[(100, 5), (99, 3)], &[(101, 2), (102, 7)]),
        50,
    );
    let e = events(&a);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].kind, md_kind::BOOK);
    assert_eq!(e[0].flags, md_flags::RESYNC);
    assert_eq!(e[0].venue_seq, 10);
    assert_eq!(e[0].seq, 1);
    assert_eq!(e[0].stamps.recv_ns, 50);
    assert_eq!(e[0].stamps.exchange_ns, 1_000);
    assert_eq!((e[0].book.bid_levels, e[0].book.ask_levels), (2, 2));
    assert_eq!(e[0].book.bids[0].price_e8, 100 * S);
    // Delta 11: bid 100 → 1, new bid 100.5? prices are whole units here: add bid 98, remove ask 101.
    let a = feed_bytes(
        &mut f,
        &delta(
            11,
            1,
            &[
                (side::BUY, 100, 1),
                (side::BUY, 98, 4),
                (side::SELL, 101, 0),
            ],
        ),
        60,
    );
    let e = events(&a);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].flags, 0);
    assert_eq!(e[0].book.changes, 3);
    let top = &e[0].book;
    assert_eq!((top.bids[0].price_e8, top.bids[0].qty_e8), (100 * S, S));
    assert_eq!(top.bids[2].price_e8, 98 * S);
    assert_eq!((top.asks[0].price_e8, top.ask_levels), (102 * S, 1));
    assert_eq!(f.counters().gaps, 0);
}

#[test]
fn gap_marks_untrusted_requests_snapshot_and_resyncs() {
    let mut f = feed();
    feed_bytes(&mut f, &snapshot(10, 1, &[(100, 5)], &[(101, 2)]), 1);
    feed_bytes(&mut f, &snapshot(10, 2, &[(50, 5)], &[(51, 2)]), 1);
    feed_bytes(&mut f, &delta(11, 1, &[(side::BUY, 100, 6)]), 2);
    // 12 and 13 are lost; 14 arrives.
    let a = feed_bytes(&mut f, &delta(14, 1, &[(side::BUY, 100, 9)]), 3);
    let e = events(&a);
    // One GAP status per instrument, one snapshot request, and the delta is not applied.
    assert_eq!(
        e.iter()
            .filter(|e| e.kind == md_kind::STATUS && e.flags & md_flags::GAP != 0)
            .count(),
        2
    );
    assert_eq!(
        a.iter()
            .filter(|x| matches!(x, FeedAction::RequestSnapshot { instrument_id: 0 }))
            .count(),
        1
    );
    assert!(!e.iter().any(|e| e.kind == md_kind::BOOK));
    assert_eq!(f.counters().gaps, 1);
    assert!(!f.is_synced(1));
    // Deltas while waiting are dropped (and no second request).
    let a = feed_bytes(&mut f, &delta(15, 1, &[(side::BUY, 100, 1)]), 4);
    assert!(a.is_empty());
    assert_eq!(f.counters().unsynced_drops, 2);
    // Snapshots at 15 resync both; the next delta 16 applies.
    let a = feed_bytes(&mut f, &snapshot(15, 1, &[(100, 3)], &[(101, 2)]), 5);
    assert_eq!(events(&a)[0].flags, md_flags::RESYNC);
    feed_bytes(&mut f, &snapshot(15, 2, &[(50, 5)], &[(51, 2)]), 5);
    assert_eq!(f.counters().resyncs, 2);
    let e = events(&feed_bytes(
        &mut f,
        &delta(16, 1, &[(side::BUY, 100, 4)]),
        6,
    ));
    assert_eq!(e[0].book.bids[0].qty_e8, 4 * S);
    assert_eq!(f.counters().gaps, 1);
    // A duplicate (old seq) is ignored.
    assert!(feed_bytes(&mut f, &delta(16, 1, &[(side::BUY, 100, 7)]), 7).is_empty());
    assert_eq!(f.counters().duplicates, 1);
    assert_eq!(f.book(1).unwrap().best_bid(), Some((100 * S, 4 * S)));
}

#[test]
fn heartbeat_reveals_a_gap_on_a_quiet_stream() {
    let mut f = feed();
    feed_bytes(&mut f, &snapshot(10, 1, &[(100, 5)], &[(101, 2)]), 1);
    let mut hb = Vec::new();
    encode(&Frame::Heartbeat(Heartbeat { send_ns: 0 }), 10, &mut hb);
    assert!(feed_bytes(&mut f, &hb, 2).is_empty()); // last sent 10 = last seen: fine
    hb.clear();
    encode(&Frame::Heartbeat(Heartbeat { send_ns: 0 }), 11, &mut hb);
    let a = feed_bytes(&mut f, &hb, 3); // 11 was sent but never seen
    assert_eq!(f.counters().gaps, 1);
    assert!(a
        .iter()
        .any(|x| matches!(x, FeedAction::RequestSnapshot { .. })));
}

#[test]
fn corrupt_values_never_reach_the_book() {
    let mut f = feed();
    feed_bytes(&mut f, &snapshot(1, 1, &[(100, 5)], &[(101, 2)]), 1);
    // Negative quantity in an otherwise fine frame: whole frame refused.
    let a = feed_bytes(
        &mut f,
        &delta(2, 1, &[(side::BUY, 99, 1), (side::SELL, 101, -3)]),
        2,
    );
    let e = events(&a);
    assert_eq!(e.len(), 1);
    assert_eq!(
        (e[0].kind, e[0].flags),
        (md_kind::STATUS, md_flags::CORRUPT)
    );
    assert!(a
        .iter()
        .any(|x| matches!(x, FeedAction::RequestSnapshot { .. })));
    assert_eq!(f.counters().corrupt, 1);
    assert!(!f.is_synced(1));
    assert_eq!(f.book(1).unwrap().best_bid(), None);
    // A snapshot with a zero price is corrupt too; an unsorted one as well.
    feed_bytes(&mut f, &snapshot(3, 1, &[(0, 5)], &[(101, 2)]), 3);
    feed_bytes(
        &mut f,
        &snapshot(3, 1, &[(99, 5), (100, 1)], &[(101, 2)]),
        3,
    );
    assert_eq!(f.counters().corrupt, 3);
    // An overflow-sized price (i64::MAX as raw e8) is corrupt.
    let mut b = Vec::new();
    encode_book_delta(
        &mut b,
        4,
        1,
        0,
        0,
        &[DeltaLevel {
            side: side::BUY,
            price_e8: i64::MAX,
            qty_e8: S,
        }],
    )
    .unwrap();
    feed_bytes(&mut f, &snapshot(3, 1, &[(100, 5)], &[(101, 2)]), 3);
    assert!(f.is_synced(1));
    feed_bytes(&mut f, &b, 4);
    assert_eq!(f.counters().corrupt, 4);
}

#[test]
fn crossed_books_are_flagged_and_counted_per_episode() {
    let mut f = feed();
    feed_bytes(&mut f, &snapshot(1, 1, &[(100, 5)], &[(101, 2)]), 1);
    let e = events(&feed_bytes(&mut f, &delta(2, 1, &[(side::BUY, 101, 1)]), 2));
    assert!(e[0].flags & md_flags::CROSSED != 0); // locked: bid = ask
    let e = events(&feed_bytes(&mut f, &delta(3, 1, &[(side::BUY, 102, 1)]), 3));
    assert!(e[0].flags & md_flags::CROSSED != 0);
    assert_eq!(f.counters().crossed, 1);
    let e = events(&feed_bytes(
        &mut f,
        &delta(4, 1, &[(side::BUY, 102, 0), (side::BUY, 101, 0)]),
        4,
    ));
    assert_eq!(e[0].flags & md_flags::CROSSED, 0);
    feed_bytes(&mut f, &delta(5, 1, &[(side::SELL, 99, 1)]), 5);
    assert_eq!(f.counters().crossed, 2);
}

#[test]
fn staleness_is_reported_once_per_episode() {
    let mut f = feed();
    feed_bytes(&mut f, &snapshot(1, 1, &[(100, 5)], &[(101, 2)]), 100);
    let mut out = Vec::new();
    f.poll(1_100, &mut out); // exactly the bound: not yet stale
    assert!(out.is_empty());
    f.poll(1_101, &mut out);
    let e = events(&out);
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].instrument_id, e[0].flags), (1, md_flags::STALE));
    out.clear();
    f.poll(5_000, &mut out);
    assert!(out.is_empty());
    feed_bytes(&mut f, &delta(2, 1, &[(side::BUY, 100, 1)]), 6_000);
    f.poll(6_500, &mut out);
    assert!(out.is_empty());
    f.poll(7_001, &mut out);
    assert_eq!(f.counters().stale, 2);
    // Instrument 2 never synced: never reported stale.
    assert!(events(&out).iter().all(|e| e.instrument_id == 1));
}

#[test]
fn trades_and_disconnects() {
    let mut f = feed();
    feed_bytes(&mut f, &snapshot(1, 1, &[(100, 5)], &[(101, 2)]), 1);
    let mut b = Vec::new();
    encode(
        &Frame::TradePrint(TradePrintMsg {
            instrument_id: 1,
            aggressor_side: side::SELL,
            price_e8: 100 * S,
            qty_e8: 2 * S,
            trade_id: 77,
            venue_ns: 9,
        }),
        2,
        &mut b,
    );
    let e = events(&feed_bytes(&mut f, &b, 10));
    assert_eq!(e[0].kind, md_kind::TRADE);
    assert_eq!(
        (
            e[0].trade.trade_id,
            e[0].trade.aggressor_side,
            e[0].trade.qty_e8
        ),
        (77, side::SELL, 2 * S)
    );
    assert_eq!(
        (e[0].venue_seq, e[0].stamps.exchange_ns, e[0].stamps.recv_ns),
        (2, 9, 10)
    );
    let mut out = Vec::new();
    f.on_disconnect(20, &mut out);
    let e = events(&out);
    assert_eq!(e.len(), 2);
    assert!(e.iter().all(|e| e.flags == md_flags::DISCONNECTED));
    assert!(!f.is_synced(1));
    // After reconnecting, the first snapshot (any seq) starts the stream again.
    feed_bytes(&mut f, &snapshot(500, 1, &[(100, 5)], &[(101, 2)]), 30);
    assert!(f.is_synced(1));
    // Output sequence is dense from 1.
    let mut all = Vec::new();
    feed_bytes(&mut f, &delta(501, 1, &[(side::BUY, 100, 1)]), 31)
        .into_iter()
        .for_each(|a| all.push(a));
    let e = events(&all);
    assert_eq!(e[0].seq, 6); // 1 book + 1 trade + 2 disconnect statuses + 1 book + this
}
