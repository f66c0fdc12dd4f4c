//! The venue in replay mode, driven by a simulated clock in one thread (no sockets):
//! what the market-data frames rebuild equals the replayed book after every step, and
//! our orders fill against the recording by the documented rules.

use runtime::msg::{order_type, side, tif};
use venue::config::{nse_equity, MarketFile, ReplayFile, ReplaySource, Speed, VenueConfig};
use venue::feed::{Feed, FeedConfig};
use venue::protocol::{decode, CancelOrderMsg, Frame, NewOrderMsg};
use venue::replay::binance::default_data_dir;
use venue::sim::{Request, SessionId, SimVenue, VenueSink};

struct Sink {
    feed: Feed,
    now_ns: u64,
    frames: Vec<(SessionId, Frame<'static>)>,
    trades: Vec<(u64, i64, i64, u8)>,
}

impl VenueSink for Sink {
    fn to_session(&mut self, s: SessionId, f: &Frame<'static>) {
        self.frames.push((s, *f));
    }
    fn market_data(&mut self, _seq: u64, bytes: &[u8]) {
        let (h, f, _) = decode(bytes).expect("venue frames decode");
        if let Frame::TradePrint(t) = f {
            self.trades
                .push((self.now_ns, t.price_e8, t.qty_e8, t.aggressor_side));
        }
        let mut out = Vec::new();
        self.feed.on_frame(&h, &f, self.now_ns, &mut out);
    }
}

fn config() -> VenueConfig {
    let dir = default_data_dir();
    assert!(dir.is_dir(), "recordings missing at {}", dir.display());
    VenueConfig::for_tests(
        vec![nse_equity(1, "BTCUSDT", "60000.00").unwrap()],
        MarketFile::Replay(ReplayFile {
            source: ReplaySource::Binance {
                paths: vec![dir.join("usdm_btcusdt_20240718.gz").display().to_string()],
                instrument_id: 1,
            },
            speed: Speed::RealTime,
            cancel_ahead_probability: 0.5,
            feed_latency_us: 0,
        }),
    )
}

#[test]
fn replay_market_md_matches_book_and_orders_fill_by_the_rules() {
    let cfg = config();
    let mut v = SimVenue::new(&cfg, 0).unwrap();
    let mut sink = Sink {
        feed: Feed::new(FeedConfig::default(), &[1]),
        now_ns: 0,
        frames: Vec::new(),
        trades: Vec::new(),
    };
    v.start(0, &mut sink);
    // Subscribe: the initial snapshot (empty market, sequence 0).
    let mut snap = Vec::new();
    assert!(v.snapshot_into(1, 0, 4000, &mut snap));
    sink.market_data(0, &snap);
    let sid = v.open_session(5, 55).unwrap();
    let step = 1_000_000; // 1 ms of simulated time per step
    let mut now = 0;
    let mut checks = 0;
    // 5 s of market: after every step the Feed's book (built from frames) shows the
    // same best levels as the replayed book.
    while now < 5_000_000_000 {
        now += step;
        sink.now_ns = now;
        v.advance(now, &mut sink);
        let rb = v.replay_book().unwrap();
        let fb = sink.feed.book(1).unwrap();
        assert_eq!(
            (fb.best_bid(), fb.best_ask()),
            (rb.best_bid(), rb.best_ask()),
            "at {now} ns"
        );
        checks += 1;
    }
    assert!(checks == 5000 && sink.feed.is_synced(1) && sink.feed.counters().gaps == 0);
    // The market moved: the recording's depth stream changes the book several times a
    // second, so 5 s publish well over 10 deltas.
    assert!(
        sink.feed.counters().deltas > 10,
        "{:?}",
        sink.feed.counters()
    );
    let (bid, _) = v.replay_book().unwrap().best_bid().unwrap();
    let (ask, ask_qty) = v.replay_book().unwrap().best_ask().unwrap();
    // A marketable buy of 0.002 within the best ask's size fills at the best ask.
    let qty = 200_000; // 0.002 BTC in e8
    assert!(
        ask_qty >= qty,
        "test assumes the best ask holds at least 0.002"
    );
    let buy = NewOrderMsg {
        client_order_id: 1,
        instrument_id: 1,
        side: side::BUY,
        order_type: order_type::LIMIT,
        tif: tif::IOC,
        price_e8: ask + 10 * 10_000_000,
        qty_e8: qty,
        send_ns: 0,
    };
    v.submit(sid, Request::New(buy), now).unwrap();
    // The next advance at the same instant processes it before any later market event.
    v.advance(now, &mut sink);
    let fills: Vec<_> = sink
        .frames
        .iter()
        .filter_map(|(_, f)| {
            if let Frame::Fill(m) = f {
                Some(*m)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(fills.len(), 1);
    assert_eq!(
        (
            fills[0].price_e8,
            fills[0].qty_e8,
            fills[0].leaves_qty_e8,
            fills[0].maker
        ),
        (ask, qty, 0, 0)
    );
    // A passive bid at the best bid joins the back of that level.
    let passive = NewOrderMsg {
        client_order_id: 2,
        side: side::BUY,
        tif: tif::DAY,
        price_e8: bid,
        qty_e8: qty,
        ..buy
    };
    v.submit(sid, Request::New(passive), now).unwrap();
    v.advance(now, &mut sink);
    assert!(sink.frames.iter().any(|(_, f)| matches!(f, Frame::OrderOpen(m) if m.client_order_id == 2 && m.leaves_qty_e8 == qty)));
    let placed_at = now;
    sink.frames.clear();
    sink.trades.clear();
    // Another 60 s of market.
    while now < 65_000_000_000 && !v.replay_finished() {
        now += step;
        sink.now_ns = now;
        v.advance(now, &mut sink);
    }
    // Any passive fill is at our price, never more than our size, and only after
    // sellers have printed at or below our price at least as much as was displayed
    // ahead of us minus possible cancellations (so at least one such print).
    let pf: Vec<_> = sink
        .frames
        .iter()
        .filter_map(|(_, f)| {
            if let Frame::Fill(m) = f {
                Some(*m)
            } else {
                None
            }
        })
        .collect();
    let filled: i64 = pf.iter().map(|f| f.qty_e8).sum();
    assert!(filled <= qty);
    for f in &pf {
        assert_eq!((f.price_e8, f.maker), (bid, 1));
    }
    if !pf.is_empty() {
        assert!(sink
            .trades
            .iter()
            .any(|t| t.0 >= placed_at && t.1 <= bid && t.3 == side::SELL));
    }
    // Cancel: either cancelled with the rest or too late (fully filled).
    v.submit(
        sid,
        Request::Cancel(CancelOrderMsg {
            client_order_id: 2,
            venue_order_id: 0,
            instrument_id: 1,
            send_ns: 0,
        }),
        now,
    )
    .unwrap();
    v.advance(now, &mut sink);
    let last = sink.frames.last().unwrap().1;
    match last {
        Frame::Cancelled(c) => assert_eq!(c.cancelled_qty_e8, qty - filled),
        Frame::CancelRejected(_) => assert_eq!(filled, qty),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(v.replay_errors(), 0);
    // The venue's position for the account: the aggressive 0.002 and the passive fills, bought;
    // what a new session would be told after its LogonAck.
    let pos = v.positions(5);
    assert_eq!(pos.len(), 1);
    assert_eq!(
        (
            pos[0].instrument_id,
            pos[0].position_e8,
            pos[0].bought_e8,
            pos[0].sold_e8
        ),
        (1, qty + filled, qty + filled, 0)
    );
    assert_eq!(
        v.positions(6)[0].position_e8,
        0,
        "an account never seen is flat"
    );
}

/// The venue keeps positions for at most `ACCOUNTS_MAX` accounts: one more is refused a session
/// with its own error (never a panic, never an unbounded table), and accounts it knows still
/// log on.
#[test]
fn positions_are_kept_for_a_bounded_number_of_accounts() {
    use venue::sim::{SessionError, ACCOUNTS_MAX};
    let cfg = VenueConfig::for_tests(
        vec![nse_equity(1, "RELI", "1400.00").unwrap()],
        MarketFile::Synthetic(Default::default()),
    );
    let mut v = SimVenue::new(&cfg, 0).unwrap();
    for account in 1..=ACCOUNTS_MAX as u32 {
        let sid = v.open_session(account, 1).unwrap();
        v.close_session(sid, 0);
    }
    assert_eq!(
        v.open_session(ACCOUNTS_MAX as u32 + 1, 1),
        Err(SessionError::TooManyAccounts(ACCOUNTS_MAX))
    );
    assert!(v.open_session(7, 1).is_ok());
}
