//! A hostile peer against the real venue server over loopback: extreme and malformed prices,
//! garbage bytes mid-session. Each refused with its documented reason, counted, the venue keeps
//! serving, and no order of a session that misbehaved is left in the book.
//!
//! (The venue's own tests cover one frame of each error code; these add extreme values, a
//! garbage flood from many connections and the "no order left behind" check.)

use std::io::{Read, Write};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use runtime::msg::{order_type, side, tif};
use venue::client::{ClientConfig, OrderClient};
use venue::config::{nse_equity, MarketFile, PriceBand, SynthFile, VenueConfig};
use venue::matching::reject;
use venue::protocol::*;
use venue::server;

const S: i64 = 100_000_000;

/// Run `f` on a thread; fail if it takes longer than 30 s (a hang fails fast).
fn watchdog<F: FnOnce() + Send + 'static>(f: F) {
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(()) => h.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(e) = h.join() {
                std::panic::resume_unwind(e)
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("watchdog: test hung for 30 s"),
    }
}

/// One instrument at 1400.00 (tick 0.10 there) with NSE's 20 % operating band, no synthetic
/// flow: the book holds only ours.
fn quiet_config() -> VenueConfig {
    let mut reli = nse_equity(1, "RELI", "1400.00").unwrap();
    // The helper has no band; NSE equities have one (limit price protection).
    reli.band = PriceBand::PercentBp(2_000);
    let synth = SynthFile {
        events_per_second: 1e-9,
        initial_levels: 0,
        ..SynthFile::default()
    };
    let mut cfg = VenueConfig::for_tests(vec![reli], MarketFile::Synthetic(synth));
    cfg.rate_limits.per_second = 1000;
    cfg.rate_limits.per_minute = 100_000;
    cfg
}

fn logon(account: u32, stp: u64) -> Logon {
    Logon {
        account,
        heartbeat_ms: 0,
        stp_id: stp,
        name: [0; 16],
    }
}

fn order(clid: u64, sd: u8, price_e8: i64, qty_e8: i64) -> NewOrderMsg {
    NewOrderMsg {
        client_order_id: clid,
        instrument_id: 1,
        side: sd,
        order_type: order_type::LIMIT,
        tif: tif::DAY,
        price_e8,
        qty_e8,
        send_ns: 0,
    }
}

/// What the venue answered to one client order id (bounded by the watchdog).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Open,
    Rejected(u16),
    Filled,
}

fn answer(c: &mut OrderClient, clid: u64) -> Answer {
    let mut got = None;
    while got.is_none() {
        c.poll(64, |_, f| match f {
            Frame::OrderOpen(m) if m.client_order_id == clid => got = Some(Answer::Open),
            Frame::Rejected(m) if m.client_order_id == clid => {
                got = Some(Answer::Rejected(m.reason))
            }
            Frame::Fill(m) if m.client_order_id == clid => got = Some(Answer::Filled),
            _ => {}
        })
        .expect("session stays up");
        if got.is_none() {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    got.unwrap()
}

#[test]
fn extreme_prices_and_quantities_are_rejected_with_their_reason() {
    watchdog(|| {
        let h = server::start(quiet_config()).unwrap();
        let mut a =
            OrderClient::connect(h.order_entry_addr(), logon(7, 7), ClientConfig::default())
                .unwrap();
        let p = 1400 * S;
        // (price, qty, expected reason), each worked out from the matching rules: quantity is
        // checked first (> 0, whole lots of 1), then price (> 0, on tick, inside the band).
        let cases: &[(i64, i64, &[u16])] = &[
            (i64::MAX, S, &[reject::BAD_TICK, reject::OUTSIDE_BAND]),
            (i64::MIN, S, &[reject::BAD_PRICE]),
            (0, S, &[reject::BAD_PRICE]),
            (-p, S, &[reject::BAD_PRICE]),
            (p + 3, S, &[reject::BAD_TICK]),       // 1400.00000003
            (p + 300_000, S, &[reject::BAD_TICK]), // 1400.003
            ((i64::MAX / (10 * S)) * 10 * S, S, &[reject::OUTSIDE_BAND]), // on tick, absurd
            (1681 * S, S, &[reject::OUTSIDE_BAND]), // 1400 + 20 % = 1680 is the last allowed
            (1119 * S, S, &[reject::OUTSIDE_BAND]), // 1400 − 20 % = 1120
            (p, 0, &[reject::BAD_QTY]),
            (p, -S, &[reject::BAD_QTY]),
            (p, i64::MIN, &[reject::BAD_QTY]),
            (p, i64::MAX, &[reject::BAD_QTY, reject::BAD_LOT]),
            (p, S / 2, &[reject::BAD_LOT]),
        ];
        for (i, &(price, qty, want)) in cases.iter().enumerate() {
            let clid = 100 + i as u64;
            a.send_new_order(order(clid, side::BUY, price, qty))
                .unwrap();
            match answer(&mut a, clid) {
                Answer::Rejected(r) => assert!(
                    want.contains(&r),
                    "price {price} qty {qty}: reason {r} ({}), expected {want:?}",
                    reject::name(r)
                ),
                other => panic!("price {price} qty {qty}: {other:?}"),
            }
        }
        // A modification to a hostile price is refused and leaves the order as it was.
        a.send_new_order(order(1, side::BUY, p, S)).unwrap();
        assert_eq!(answer(&mut a, 1), Answer::Open);
        // Nothing of the rejected orders rests: a sell at the best conceivable bid of any of
        // them (the valid 1400.00) fills only against order 1, once.
        let mut b =
            OrderClient::connect(h.order_entry_addr(), logon(8, 8), ClientConfig::default())
                .unwrap();
        b.send_new_order(order(2, side::SELL, p, 2 * S)).unwrap();
        let mut filled_e8 = 0;
        let t0 = Instant::now();
        let mut open = false;
        while !open {
            b.poll(64, |_, f| match f {
                Frame::Fill(m) if m.client_order_id == 2 => filled_e8 += m.qty_e8,
                Frame::OrderOpen(m) if m.client_order_id == 2 => open = true,
                _ => {}
            })
            .unwrap();
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "no answer to the sell"
            );
        }
        assert_eq!(filled_e8, S, "the sell met exactly order 1's one share");
        h.stop().unwrap();
    });
}

/// A deterministic byte generator (xorshift), so a failure reproduces.
fn garbage(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn garbage_mid_session_closes_it_and_cancels_its_orders() {
    watchdog(|| {
        let h = server::start(quiet_config()).unwrap();
        let p = 1400 * S;
        // A session rests a bid, then sends garbage: a closing error, and its bid is cancelled.
        let mut a =
            OrderClient::connect(h.order_entry_addr(), logon(11, 11), ClientConfig::default())
                .unwrap();
        a.send_new_order(order(1, side::BUY, p, S)).unwrap();
        assert_eq!(answer(&mut a, 1), Answer::Open);
        let mut junk = garbage(42, 4096);
        junk[0] = b'X'; // not our magic: the framing is lost
        a.send_raw(&junk).unwrap();
        let t0 = Instant::now();
        let mut closing_error = None;
        while a
            .poll(64, |_, f| {
                if let Frame::Error(e) = f {
                    closing_error = Some((e.code, e.closing));
                }
            })
            .is_ok()
        {
            assert!(t0.elapsed() < Duration::from_secs(10), "session not closed");
            std::thread::sleep(Duration::from_micros(200));
        }
        assert_eq!(closing_error, Some((error_code::BAD_MAGIC, true)));
        // Eight raw connections throw more garbage (some before any logon, some with a valid
        // header in front of random bodies); each is answered and closed.
        for seed in 1..=8u64 {
            let mut s = std::net::TcpStream::connect(h.order_entry_addr()).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut bytes = Vec::new();
            if seed % 2 == 0 {
                bytes.extend_from_slice(&MAGIC.to_le_bytes());
                bytes.push(VERSION);
                bytes.push(msg_type::NEW_ORDER);
                bytes.extend_from_slice(&48u32.to_le_bytes());
                bytes.extend_from_slice(&seed.to_le_bytes());
            }
            bytes.extend(garbage(seed, 48 + 997 * seed as usize));
            let _ = s.write_all(&bytes);
            let mut reply = Vec::new();
            let _ = s.read_to_end(&mut reply);
            let (_, f, _) = decode(&reply).expect("an Error frame before the close");
            assert!(
                matches!(f, Frame::Error(e) if e.closing),
                "seed {seed}: {f:?}"
            );
        }
        // The venue still serves, and the misbehaving session's bid is gone: a sell at its
        // price does not fill, it rests.
        let mut b =
            OrderClient::connect(h.order_entry_addr(), logon(22, 22), ClientConfig::default())
                .unwrap();
        b.send_new_order(order(5, side::SELL, p, S)).unwrap();
        assert_eq!(
            answer(&mut b, 5),
            Answer::Open,
            "a cancelled order was matched"
        );
        // Counted: one error frame for the session and one for each raw connection.
        assert!(h.counters().errors_sent.load(Ordering::Relaxed) >= 9);
        h.stop().unwrap();
    });
}
