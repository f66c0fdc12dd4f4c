//! Queue-position fills on hand-built scenarios; expected values worked out in comments.

use runtime::msg::side;
use venue::book::L2Book;
use venue::queue::{FifoQueueModel, LevelQueueModel, QueueConfig, QueueEvent};
use venue::replay::lobster::{kind, load, LobsterBook, Message};

fn cfg(p: f64, lat: u64) -> QueueConfig {
    QueueConfig {
        cancel_ahead_probability: p,
        order_latency_ns: lat,
        feed_latency_ns: 0,
    }
}

fn fills(ev: &[QueueEvent]) -> Vec<(u64, i64, i64, i64)> {
    ev.iter()
        .filter_map(|e| match *e {
            QueueEvent::Fill {
                id,
                price,
                qty,
                leaves,
                ..
            } => Some((id, price, qty, leaves)),
            _ => None,
        })
        .collect()
}

#[test]
fn level_model_moves_up_with_trades_and_cancels() {
    let mut book = L2Book::new(16);
    book.set(side::BUY, 100, 5).unwrap();
    book.set(side::SELL, 101, 5).unwrap();
    let mut m = LevelQueueModel::new(cfg(0.5, 0));
    let mut ev = Vec::new();
    m.submit(1, side::BUY, 100, 3, 0);
    m.on_time(0, &book, &mut ev);
    // Joined behind the 5 displayed.
    assert_eq!(
        ev,
        vec![QueueEvent::Active {
            id: 1,
            ts_ns: 0,
            ahead: 5
        }]
    );
    // Sell 2 @ 100: ahead 5 → 3, no fill.
    m.on_trade(1, 100, 2, side::SELL, &mut ev);
    assert!(fills(&ev).is_empty());
    assert_eq!(m.order(1).unwrap().ahead, 3);
    // Depth 5 → 3: fully explained by the trade, ahead stays 3.
    m.on_level(side::BUY, 100, 3);
    assert_eq!(m.order(1).unwrap().ahead, 3);
    // Depth 3 → 1: 2 cancelled, half of them ahead → ahead 2, then capped by the 1 displayed.
    m.on_level(side::BUY, 100, 1);
    assert_eq!(m.order(1).unwrap().ahead, 1);
    // Depth 1 → 4: arrivals join behind us.
    m.on_level(side::BUY, 100, 4);
    assert_eq!(m.order(1).unwrap().ahead, 1);
    // Sell 3 @ 100: 1 to the queue ahead, 2 to us → leaves 1.
    m.on_trade(2, 100, 3, side::SELL, &mut ev);
    assert_eq!(fills(&ev), vec![(1, 100, 2, 1)]);
    // A buy aggressor does not touch our bid.
    ev.clear();
    m.on_trade(3, 101, 5, side::BUY, &mut ev);
    assert!(fills(&ev).is_empty());
    // Sell 5 @ 99: traded through our price: our last 1 fills at our price.
    m.on_trade(4, 99, 5, side::SELL, &mut ev);
    assert_eq!(fills(&ev), vec![(1, 100, 1, 0)]);
    assert!(m.order(1).is_none());
}

#[test]
fn level_model_never_fills_twice_from_the_same_quantity() {
    let mut book = L2Book::new(16);
    book.set(side::SELL, 200, 3).unwrap();
    let mut m = LevelQueueModel::new(cfg(0.0, 0));
    let mut ev = Vec::new();
    // A (2) joins behind 3; one market order of 1 arrives behind A; then B (2) joins behind 4.
    m.submit(10, side::SELL, 200, 2, 0);
    m.on_time(0, &book, &mut ev);
    book.set(side::SELL, 200, 4).unwrap();
    m.on_level(side::SELL, 200, 4);
    m.submit(11, side::SELL, 200, 2, 1);
    m.on_time(1, &book, &mut ev);
    assert_eq!(m.order(11).unwrap().ahead, 4);
    // Buy 6 @ 200: 3 market ahead of A, A gets 2, the 1 market between A and B takes 1,
    // B gets 0: 3 + 2 + 1 = 6.
    ev.clear();
    m.on_trade(2, 200, 6, side::BUY, &mut ev);
    assert_eq!(fills(&ev), vec![(10, 200, 2, 0)]);
    assert_eq!(m.order(11).unwrap().ahead, 0);
    // Buy 1 @ 200: B is at the front now.
    ev.clear();
    m.on_trade(3, 200, 1, side::BUY, &mut ev);
    assert_eq!(fills(&ev), vec![(11, 200, 1, 1)]);
}

#[test]
fn level_model_applies_order_latency_to_entry_and_cancel() {
    let mut book = L2Book::new(16);
    book.set(side::BUY, 100, 2).unwrap();
    let mut m = LevelQueueModel::new(cfg(0.0, 10));
    let mut ev = Vec::new();
    m.submit(1, side::BUY, 100, 5, 0); // arrives at 10
                                       // A trade at 5 happens before our order exists: no fill, and it shrinks the level.
    m.on_time(5, &book, &mut ev);
    m.on_trade(5, 100, 2, side::SELL, &mut ev);
    book.set(side::BUY, 100, 0).unwrap();
    assert!(ev.is_empty());
    // At 10 the order arrives at an empty level: nothing ahead.
    m.on_time(10, &book, &mut ev);
    assert_eq!(
        ev,
        vec![QueueEvent::Active {
            id: 1,
            ts_ns: 10,
            ahead: 0
        }]
    );
    // Cancel sent at 20 takes effect at 30: a trade at 25 still fills 3.
    m.cancel(1, 20);
    ev.clear();
    m.on_time(25, &book, &mut ev);
    m.on_trade(25, 100, 3, side::SELL, &mut ev);
    assert_eq!(fills(&ev), vec![(1, 100, 3, 2)]);
    ev.clear();
    m.on_time(30, &book, &mut ev);
    assert_eq!(
        ev,
        vec![QueueEvent::Cancelled {
            id: 1,
            ts_ns: 30,
            leaves: 2
        }]
    );
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/lobster"
    ))
    .join(name)
}

#[test]
fn fifo_model_tracks_exact_position_by_order_id() {
    let (mut msgs, rows) = load(
        &fixture("small_message_3.csv"),
        &fixture("small_orderbook_3.csv"),
    )
    .unwrap();
    // After the fixture: new bid 15 (50 @ 99.99, behind us), then 30 of it executes.
    let t = msgs.last().unwrap().time_ns;
    msgs.push(Message {
        time_ns: t + 1,
        kind: kind::NEW,
        order_id: 15,
        size: 50,
        price: 999_900,
        side: side::BUY,
    });
    msgs.push(Message {
        time_ns: t + 2,
        kind: kind::EXECUTE_VISIBLE,
        order_id: 15,
        size: 30,
        price: 999_900,
        side: side::BUY,
    });
    let mut book = LobsterBook::from_first_row(&rows[0], &msgs[0], 100).unwrap();
    let mut q = FifoQueueModel::new(cfg(0.0, 0));
    let mut ev = Vec::new();
    for (k, m) in msgs.iter().enumerate() {
        if k == 2 {
            // After message 2, 99.99 holds 400 (before the file) + 50 (order 12): we join behind 450.
            q.submit(99, side::BUY, 999_900, 10, m.time_ns);
        }
        q.on_time(m.time_ns, &book, &mut ev);
        let a = book.apply(m, k + 1).unwrap();
        q.on_applied(&a, &mut ev);
        let ahead = q.order(99).map(|o| o.ahead);
        match k + 1 {
            3 => assert_eq!(ahead, Some(450)),
            5 => assert_eq!(ahead, Some(430)), // order 12 (ahead) cancelled 20
            9 => assert_eq!(ahead, Some(330)), // 100 of a pre-file order (ahead) executed
            10 => assert_eq!(ahead, Some(330)), // a better-priced bid does not change our queue
            13 => assert_eq!(ahead, Some(300)), // order 12's last 30 deleted
            14 => assert_eq!(ahead, Some(300)), // order 15 joins behind us
            _ => {}
        }
    }
    // Order 15 is behind us: its execution of 30 means the aggressor reached us first: we fill 10.
    assert_eq!(fills(&ev), vec![(99, 999_900, 10, 0)]);
    assert!(q.order(99).is_none());
}

#[test]
fn fifo_model_trade_through_and_hidden_executions_fill() {
    let mut book = LobsterBook::empty(100);
    let mut q = FifoQueueModel::new(cfg(0.0, 0));
    let mut ev = Vec::new();
    let msgs = [
        Message {
            time_ns: 1,
            kind: kind::NEW,
            order_id: 1,
            size: 100,
            price: 500_000,
            side: side::SELL,
        },
        Message {
            time_ns: 3,
            kind: kind::NEW,
            order_id: 2,
            size: 100,
            price: 500_100,
            side: side::SELL,
        },
        // A hidden sell at 50.00 executes while order 1 (100) is still displayed in front
        // of us: no information about our turn, no fill.
        Message {
            time_ns: 4,
            kind: kind::EXECUTE_HIDDEN,
            order_id: 0,
            size: 3,
            price: 500_000,
            side: side::SELL,
        },
        // Execution of order 2 at a worse ask (50.01): the market went through 50.00.
        Message {
            time_ns: 5,
            kind: kind::EXECUTE_VISIBLE,
            order_id: 2,
            size: 10,
            price: 500_100,
            side: side::SELL,
        },
    ];
    for (k, m) in msgs.iter().enumerate() {
        if k == 1 {
            q.submit(7, side::SELL, 500_000, 5, 2); // joins behind order 1's 100
        }
        q.on_time(m.time_ns, &book, &mut ev);
        let a = book.apply(m, k + 1).unwrap();
        q.on_applied(&a, &mut ev);
    }
    // The execution at the worse ask 50.01 means 50.00 was exhausted: our 5 fill (of its 10).
    assert_eq!(fills(&ev), vec![(7, 500_000, 5, 0)]);
    // With nothing ahead, a hidden execution at our price does fill us.
    let mut q = FifoQueueModel::new(cfg(0.0, 0));
    let mut book = LobsterBook::empty(100);
    ev.clear();
    q.submit(8, side::BUY, 400_000, 4, 0);
    q.on_time(0, &book, &mut ev);
    let a = book
        .apply(
            &Message {
                time_ns: 1,
                kind: kind::EXECUTE_HIDDEN,
                order_id: 0,
                size: 3,
                price: 400_000,
                side: side::BUY,
            },
            1,
        )
        .unwrap();
    q.on_applied(&a, &mut ev);
    assert_eq!(fills(&ev), vec![(8, 400_000, 3, 1)]);
}
