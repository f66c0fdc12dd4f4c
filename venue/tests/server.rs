//! The venue over loopback: logon, order life cycles, latency injection, bad frames.
//! Every test runs under a watchdog so a hang fails instead of blocking CI.

use runtime::msg::{order_type, side, tif};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use venue::client::{ClientConfig, ClientError, MdClient, OrderClient};
use venue::config::{nse_equity, MarketFile, SynthFile, VenueConfig};
use venue::feed::{Feed, FeedAction, FeedConfig};
use venue::matching::{cancel_reason, reject};
use venue::protocol::*;
use venue::server;

const S: i64 = 100_000_000;

/// Run `f` on a thread; fail if it takes longer than 30 s.
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

/// A venue with one instrument (RELIANCE-like, tick 0.10) and no synthetic flow
/// (events_per_second tiny) so the book holds only the test's orders.
fn quiet_config() -> VenueConfig {
    let synth = SynthFile {
        events_per_second: 1e-9, // first event in ~30 years
        initial_levels: 0,
        ..SynthFile::default()
    };
    let mut cfg = VenueConfig::for_tests(
        vec![nse_equity(1, "RELI", "1400.00").unwrap()],
        MarketFile::Synthetic(synth),
    );
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

/// An order-entry session of `account` on the venue `h`, logged on.
fn logged_on(h: &server::ServerHandle, account: u32, stp: u64) -> OrderClient {
    OrderClient::connect(
        h.order_entry_addr(),
        logon(account, stp),
        ClientConfig::default(),
    )
    .expect("connect and log on")
}

/// Poll until `pred` accepts a frame (returns the frames seen), bounded by the watchdog.
fn wait_for(
    c: &mut OrderClient,
    mut pred: impl FnMut(&Frame<'_>) -> bool,
) -> Vec<(u64, Frame<'static>, Instant)> {
    let mut seen = Vec::new();
    let mut done = false;
    while !done {
        c.poll(64, |h, f| {
            if done {
                return;
            }
            if pred(f) {
                done = true;
            }
            if let Some(s) = to_static(f) {
                seen.push((h.seq, s, Instant::now()));
            }
        })
        .unwrap();
        if !done {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
    seen
}

fn to_static(f: &Frame<'_>) -> Option<Frame<'static>> {
    Some(match *f {
        Frame::OrderAccepted(m) => Frame::OrderAccepted(m),
        Frame::OrderOpen(m) => Frame::OrderOpen(m),
        Frame::Fill(m) => Frame::Fill(m),
        Frame::Cancelled(m) => Frame::Cancelled(m),
        Frame::Rejected(m) => Frame::Rejected(m),
        Frame::CancelRejected(m) => Frame::CancelRejected(m),
        Frame::Modified(m) => Frame::Modified(m),
        Frame::Error(m) => Frame::Error(m),
        Frame::Heartbeat(m) => Frame::Heartbeat(m),
        Frame::Logout(m) => Frame::Logout(m),
        _ => return None,
    })
}

fn new_order(clid: u64, sd: u8, px: i64, qty: i64) -> NewOrderMsg {
    NewOrderMsg {
        client_order_id: clid,
        instrument_id: 1,
        side: sd,
        order_type: order_type::LIMIT,
        tif: tif::DAY,
        price_e8: px,
        qty_e8: qty,
        send_ns: 0,
    }
}

#[test]
fn order_life_cycle_over_loopback() {
    watchdog(|| {
        let h = server::start(quiet_config()).unwrap();
        let mut a = logged_on(&h, 11, 1);
        let mut b = logged_on(&h, 22, 2);
        assert_eq!(a.logon_ack().instruments, 1);
        // A first session: flat in the one instrument.
        assert_eq!(
            a.logon_positions(),
            &[PositionReportMsg {
                instrument_id: 1,
                venue_ns: a.logon_positions()[0].venue_ns,
                ..Default::default()
            }]
        );
        // A rests a sell of 10 at 1400.10: accepted then open.
        a.send_new_order(new_order(1, side::SELL, 1400 * S + 10_000_000, 10 * S))
            .unwrap();
        let seen = wait_for(&mut a, |f| matches!(f, Frame::OrderOpen(_)));
        let kinds: Vec<_> = seen
            .iter()
            .filter(|x| !matches!(x.1, Frame::Heartbeat(_)))
            .map(|x| x.1)
            .collect();
        assert!(matches!(kinds[0], Frame::OrderAccepted(m) if m.client_order_id == 1));
        assert!(matches!(kinds[1], Frame::OrderOpen(m) if m.leaves_qty_e8 == 10 * S));
        // Response sequence numbers are dense from 1 (LogonAck was 1, the position report 2).
        assert_eq!(seen[0].0, 3);
        // B buys 4 at 1401: fills at the resting price 1400.10.
        b.send_new_order(new_order(7, side::BUY, 1401 * S, 4 * S))
            .unwrap();
        let seen = wait_for(&mut b, |f| matches!(f, Frame::Fill(_)));
        let fill = seen
            .iter()
            .find_map(|x| {
                if let Frame::Fill(m) = x.1 {
                    Some(m)
                } else {
                    None
                }
            })
            .unwrap();
        assert_eq!(
            (fill.price_e8, fill.qty_e8, fill.leaves_qty_e8, fill.maker),
            (1400 * S + 10_000_000, 4 * S, 0, 0)
        );
        let seen = wait_for(&mut a, |f| matches!(f, Frame::Fill(_)));
        let fill = seen
            .iter()
            .find_map(|x| {
                if let Frame::Fill(m) = x.1 {
                    Some(m)
                } else {
                    None
                }
            })
            .unwrap();
        assert_eq!(
            (fill.qty_e8, fill.leaves_qty_e8, fill.maker),
            (4 * S, 6 * S, 1)
        );
        // A cancels the rest; a second cancel is too late.
        a.send_cancel(CancelOrderMsg {
            client_order_id: 1,
            venue_order_id: 0,
            instrument_id: 1,
            send_ns: 0,
        })
        .unwrap();
        let seen = wait_for(&mut a, |f| matches!(f, Frame::Cancelled(_)));
        assert!(seen.iter().any(|x| matches!(x.1, Frame::Cancelled(m) if m.cancelled_qty_e8 == 6 * S && m.reason == cancel_reason::USER_REQUESTED)));
        a.send_cancel(CancelOrderMsg {
            client_order_id: 1,
            venue_order_id: 0,
            instrument_id: 1,
            send_ns: 0,
        })
        .unwrap();
        let seen = wait_for(&mut a, |f| matches!(f, Frame::CancelRejected(_)));
        assert!(seen
            .iter()
            .any(|x| matches!(x.1, Frame::CancelRejected(m) if m.reason == reject::UNKNOWN_ORDER)));
        // Off-tick price: Rejected with its reason.
        a.send_new_order(new_order(2, side::SELL, 1400 * S + 5_000_000, S))
            .unwrap();
        let seen = wait_for(&mut a, |f| matches!(f, Frame::Rejected(_)));
        assert!(seen
            .iter()
            .any(|x| matches!(x.1, Frame::Rejected(m) if m.reason == reject::BAD_TICK)));
        // A duplicate logon of account 11 is refused with an error.
        let dup = OrderClient::connect(h.order_entry_addr(), logon(11, 1), ClientConfig::default());
        assert!(matches!(
            dup,
            Err(ClientError::Venue {
                code: error_code::UNEXPECTED,
                ..
            })
        ));
        h.stop().unwrap();
    });
}

/// Log on as `account`, retrying while the venue still holds the account's previous session
/// (it closes it on its own thread after the socket closes).
fn logged_on_again(h: &server::ServerHandle, account: u32, stp: u64) -> OrderClient {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match OrderClient::connect(
            h.order_entry_addr(),
            logon(account, stp),
            ClientConfig::default(),
        ) {
            Ok(c) => return c,
            Err(ClientError::Venue { code, .. }) if code == error_code::UNEXPECTED => {
                assert!(
                    Instant::now() < deadline,
                    "the venue kept account {account}'s old session open for 10 s"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("log on again as {account}: {e}"),
        }
    }
}

/// The venue's position is every fill it matched, not every fill it delivered: a session that
/// closes before reading its fill still finds it in the position report of its next logon.
#[test]
fn a_new_session_is_told_the_position_its_last_session_never_read() {
    watchdog(|| {
        let h = server::start(quiet_config()).unwrap();
        let mut a = logged_on(&h, 11, 1);
        let mut b = logged_on(&h, 22, 2);
        a.send_new_order(new_order(1, side::SELL, 1400 * S + 10_000_000, 10 * S))
            .unwrap();
        wait_for(&mut a, |f| matches!(f, Frame::OrderOpen(_)));
        // B takes 4, then 3 more: two fills against A's resting sell.
        b.send_new_order(new_order(7, side::BUY, 1401 * S, 4 * S))
            .unwrap();
        wait_for(&mut b, |f| matches!(f, Frame::Fill(_)));
        b.send_new_order(new_order(8, side::BUY, 1401 * S, 3 * S))
            .unwrap();
        wait_for(&mut b, |f| matches!(f, Frame::Fill(_)));
        // A goes away without reading either fill; the rest of its order is cancelled.
        drop(a);
        let a = logged_on_again(&h, 11, 1);
        let p = a.logon_positions();
        assert_eq!(p.len(), 1);
        assert_eq!(
            (
                p[0].instrument_id,
                p[0].position_e8,
                p[0].bought_e8,
                p[0].sold_e8
            ),
            (1, -7 * S, 0, 7 * S)
        );
        // B, still connected, bought 7; its next session says so too.
        drop(b);
        let b = logged_on_again(&h, 22, 2);
        let p = b.logon_positions();
        assert_eq!(
            (p[0].position_e8, p[0].bought_e8, p[0].sold_e8),
            (7 * S, 7 * S, 0)
        );
        // An account that never traded is flat.
        let c = logged_on(&h, 33, 3);
        assert_eq!(
            (
                c.logon_positions()[0].position_e8,
                c.logon_positions()[0].bought_e8
            ),
            (0, 0)
        );
        drop((a, b, c));
        h.stop().unwrap();
    });
}

/// A queued cancel or modification is not written until the next send, then leaves in the same
/// write, ahead of it in the stream: the venue answers the cancel before the new order.
#[test]
fn queued_requests_leave_with_the_next_send_in_order() {
    watchdog(|| {
        let h = server::start(quiet_config()).unwrap();
        let mut a = logged_on(&h, 11, 1);
        // Nothing queued: a no-op that reports everything written.
        let info = a.send_queued().unwrap();
        assert!(info.flushed);
        assert_eq!(a.unwritten_bytes(), 0);
        a.send_new_order(new_order(1, side::SELL, 1400 * S + 10_000_000, 10 * S))
            .unwrap();
        wait_for(
            &mut a,
            |f| matches!(f, Frame::OrderOpen(m) if m.client_order_id == 1),
        );
        // Move it up a tick, queued: nothing is written yet.
        let seq = a
            .queue_modify(ModifyOrderMsg {
                client_order_id: 1,
                venue_order_id: 0,
                instrument_id: 1,
                price_e8: 1400 * S + 20_000_000,
                qty_e8: 10 * S,
                send_ns: 0,
            })
            .unwrap();
        assert!(a.unwritten_bytes() > 0);
        let info = a.send_queued().unwrap();
        assert_eq!(
            (info.seq, info.flushed, a.unwritten_bytes()),
            (seq, true, 0)
        );
        let seen = wait_for(&mut a, |f| matches!(f, Frame::Modified(_)));
        assert!(seen.iter().any(
            |x| matches!(x.1, Frame::Modified(m) if m.client_order_id == 1 && m.price_e8 == 1400 * S + 20_000_000)
        ));
        // Cancel 1 (queued), then a new order 2: one send carries both, the cancel first.
        let cancel_seq = a
            .queue_cancel(CancelOrderMsg {
                client_order_id: 1,
                venue_order_id: 0,
                instrument_id: 1,
                send_ns: 0,
            })
            .unwrap();
        let queued = a.unwritten_bytes();
        assert!(queued > 0);
        let info = a
            .send_new_order(new_order(2, side::SELL, 1400 * S + 30_000_000, 5 * S))
            .unwrap();
        assert_eq!(info.seq, cancel_seq + 1);
        assert!(info.flushed);
        assert_eq!(a.unwritten_bytes(), 0);
        let seen = wait_for(
            &mut a,
            |f| matches!(f, Frame::OrderOpen(m) if m.client_order_id == 2),
        );
        let cancelled = seen
            .iter()
            .position(|x| matches!(x.1, Frame::Cancelled(m) if m.client_order_id == 1 && m.cancelled_qty_e8 == 10 * S));
        let accepted = seen
            .iter()
            .position(|x| matches!(x.1, Frame::OrderAccepted(m) if m.client_order_id == 2));
        assert!(
            matches!((cancelled, accepted), (Some(c), Some(n)) if c < n),
            "cancel of 1 answered before order 2: {cancelled:?} {accepted:?}"
        );
        h.stop().unwrap();
    });
}

#[test]
fn market_data_stream_feeds_the_feed() {
    watchdog(|| {
        let h = server::start(quiet_config()).unwrap();
        let mut md = MdClient::connect(h.market_data_addr(), ClientConfig::default()).unwrap();
        let mut a = logged_on(&h, 11, 1);
        let mut feed = Feed::new(FeedConfig::default(), &[1]);
        let mut out = Vec::new();
        a.send_new_order(new_order(1, side::BUY, 1399 * S, 3 * S))
            .unwrap();
        a.send_new_order(new_order(2, side::SELL, 1401 * S, 5 * S))
            .unwrap();
        // Poll market data until the feed's book shows both orders.
        loop {
            md.poll(64, |hd, f| {
                feed.on_frame(hd, f, venue::monotonic_ns(), &mut out)
            })
            .unwrap();
            a.poll(64, |_, _| {}).unwrap();
            let b = feed.book(1).unwrap();
            if b.best_bid() == Some((1399 * S, 3 * S)) && b.best_ask() == Some((1401 * S, 5 * S)) {
                break;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        assert!(feed.is_synced(1));
        assert_eq!(feed.counters().gaps, 0);
        // First event: the snapshot (RESYNC), then two book updates.
        let evs: Vec<_> = out
            .iter()
            .filter_map(|x| {
                if let FeedAction::Publish(e) = x {
                    Some(*e)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(evs[0].flags, runtime::msg::md_flags::RESYNC);
        assert!(evs.len() >= 3);
        h.stop().unwrap();
    });
}

/// Mean ack delay (send → OrderAccepted) over `n` orders.
fn mean_ack_ns(c: &mut OrderClient, first_clid: u64, n: u64) -> u64 {
    let mut total = 0;
    for k in 0..n {
        let clid = first_clid + k;
        let t0 = Instant::now();
        c.send_new_order(new_order(clid, side::BUY, 1300 * S, S))
            .unwrap();
        wait_for(
            c,
            |f| matches!(f, Frame::OrderAccepted(m) if m.client_order_id == clid),
        );
        total += t0.elapsed().as_nanos() as u64;
    }
    total / n
}

#[test]
fn latency_injection_changes_the_ack_delay() {
    watchdog(|| {
        let h = server::start(quiet_config()).unwrap();
        let mut a = logged_on(&h, 11, 1);
        let base = mean_ack_ns(&mut a, 1, 5);
        // 10 ms each way: the round trip includes at least 20 ms of injected delay.
        h.set_latency(10_000_000, 0);
        let slow = mean_ack_ns(&mut a, 100, 5);
        assert!(slow >= 20_000_000, "injected 2 × 10 ms, measured {slow} ns");
        assert!(slow > base, "delay did not grow: {base} → {slow}");
        // The supervisor's control message goes through the same settings.
        let ctl = h.latency_control();
        let msg = runtime::msg::Control {
            command: runtime::msg::control_command::SET_LATENCY,
            arg0: 7,
            arg1: 3,
            ..Default::default()
        };
        assert!(server::apply_control(&ctl, &msg));
        assert_eq!(ctl.get(), (7, 3));
        // Back to zero: faster again than with the delay.
        h.set_latency(0, 0);
        let back = mean_ack_ns(&mut a, 200, 5);
        assert!(back < slow);
        // Under heavy jitter, responses still arrive in order (dense sequence, Accepted before Open).
        h.set_latency(1_000_000, 3_000_000);
        for k in 0..20 {
            a.send_new_order(new_order(300 + k, side::BUY, 1300 * S, S))
                .unwrap();
        }
        let seen = wait_for(
            &mut a,
            |f| matches!(f, Frame::OrderOpen(m) if m.client_order_id == 319),
        );
        let seqs: Vec<u64> = seen.iter().map(|x| x.0).collect();
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "sequence not dense: {seqs:?}"
        );
        let order: Vec<(u8, u64)> = seen
            .iter()
            .filter_map(|x| match x.1 {
                Frame::OrderAccepted(m) => Some((0, m.client_order_id)),
                Frame::OrderOpen(m) => Some((1, m.client_order_id)),
                _ => None,
            })
            .collect();
        let expected: Vec<(u8, u64)> = (300..320).flat_map(|c| [(0, c), (1, c)]).collect();
        assert_eq!(order, expected);
        h.stop().unwrap();
    });
}

fn read_all_raw(c: &mut OrderClient, until_closed: bool) -> Vec<Frame<'static>> {
    let mut seen = Vec::new();
    let t0 = Instant::now();
    while c
        .poll(64, |_, f| {
            if let Some(s) = to_static(f) {
                seen.push(s)
            }
        })
        .is_ok()
    {
        if !until_closed && !seen.is_empty() {
            break;
        }
        if t0.elapsed() > Duration::from_secs(10) {
            break;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    seen
}

#[test]
fn malformed_frames_get_error_codes_as_documented() {
    watchdog(|| {
        let h = server::start(quiet_config()).unwrap();
        // Unknown type: Error 4, not closing; the session carries on.
        let mut a = logged_on(&h, 11, 1);
        let mut raw = Vec::new();
        encode(&Frame::Heartbeat(Heartbeat { send_ns: 1 }), 9, &mut raw);
        raw[3] = 200;
        a.send_raw(&raw).unwrap();
        let seen = read_all_raw(&mut a, false);
        assert!(
            matches!(seen[0], Frame::Error(e) if e.code == error_code::UNKNOWN_TYPE && !e.closing)
        );
        a.send_new_order(new_order(1, side::BUY, 1300 * S, S))
            .unwrap();
        wait_for(&mut a, |f| matches!(f, Frame::OrderOpen(_)));
        // A client sending a venue-only frame (Fill): Error 8, not closing.
        let mut raw = Vec::new();
        encode(&Frame::Fill(FillMsg::default()), 10, &mut raw);
        a.send_raw(&raw).unwrap();
        let seen = read_all_raw(&mut a, false);
        assert!(
            matches!(seen[0], Frame::Error(e) if e.code == error_code::UNEXPECTED && !e.closing)
        );
        // Bad magic: Error 2 with closing, then the connection ends, and the session's
        // open order is cancelled (visible to nobody but the book).
        a.send_raw(b"XXXXXXXXXXXXXXXXXXXXXXXX").unwrap();
        let seen = read_all_raw(&mut a, true);
        assert!(
            matches!(seen.last(), Some(Frame::Error(e)) if e.code == error_code::BAD_MAGIC && e.closing),
            "{seen:?}"
        );
        // Oversized: refused from the header.
        let mut b = logged_on(&h, 22, 2);
        let mut raw = Vec::new();
        encode(&Frame::Heartbeat(Heartbeat { send_ns: 1 }), 1, &mut raw);
        raw[4..8].copy_from_slice(&1_000_000u32.to_le_bytes());
        b.send_raw(&raw[..HEADER_LEN]).unwrap();
        let seen = read_all_raw(&mut b, true);
        assert!(
            matches!(seen.last(), Some(Frame::Error(e)) if e.code == error_code::OVERSIZED && e.closing)
        );
        // Bad length for a known type: Error 6, closing.
        let mut c = logged_on(&h, 33, 3);
        let mut raw = Vec::new();
        encode(&Frame::Heartbeat(Heartbeat { send_ns: 1 }), 1, &mut raw);
        raw[4..8].copy_from_slice(&9u32.to_le_bytes());
        raw.push(0);
        c.send_raw(&raw).unwrap();
        let seen = read_all_raw(&mut c, true);
        assert!(
            matches!(seen.last(), Some(Frame::Error(e)) if e.code == error_code::BAD_LENGTH && e.closing)
        );
        // An order before logon: Error 8, closing. (Raw socket: no logon.)
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(h.order_entry_addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut raw = Vec::new();
        encode(
            &Frame::NewOrder(new_order(1, side::BUY, 1300 * S, S)),
            1,
            &mut raw,
        );
        s.write_all(&raw).unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).unwrap(); // the venue closes after the error
        let (_, f, _) = decode(&buf).unwrap();
        assert!(matches!(f, Frame::Error(e) if e.code == error_code::UNEXPECTED && e.closing));
        // The venue survived all of it.
        let mut d = logged_on(&h, 44, 4);
        d.send_new_order(new_order(1, side::SELL, 1500 * S, S))
            .unwrap();
        wait_for(&mut d, |f| matches!(f, Frame::OrderOpen(_)));
        assert!(
            h.counters()
                .errors_sent
                .load(std::sync::atomic::Ordering::Relaxed)
                >= 6
        );
        h.stop().unwrap();
    });
}

#[test]
fn cancel_on_disconnect_and_shutdown_goodbye() {
    watchdog(|| {
        let h = server::start(quiet_config()).unwrap();
        let mut md = MdClient::connect(h.market_data_addr(), ClientConfig::default()).unwrap();
        // The venue registers a subscriber on its own thread after the TCP accept: an order
        // placed and cancelled before that would never reach this client (its first snapshot
        // would show an empty book), so wait until the venue has counted it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while h
            .counters()
            .md_subscribers
            .load(std::sync::atomic::Ordering::Relaxed)
            == 0
        {
            assert!(
                Instant::now() < deadline,
                "the venue never registered the market-data subscriber"
            );
            std::thread::sleep(Duration::from_micros(100));
        }
        let mut feed = Feed::new(FeedConfig::default(), &[1]);
        let mut out = Vec::new();
        // Poll market data until `done` holds for the top of book, bounded by a deadline.
        let mut await_bid = |what: &str, done: &dyn Fn(Option<(i64, i64)>) -> bool| {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                md.poll(64, |hd, f| feed.on_frame(hd, f, 0, &mut out))
                    .unwrap();
                if done(feed.book(1).unwrap().best_bid()) {
                    return;
                }
                assert!(Instant::now() < deadline, "market data never showed {what}");
                std::thread::sleep(Duration::from_micros(100));
            }
        };
        {
            let mut a = logged_on(&h, 11, 1);
            a.send_new_order(new_order(1, side::BUY, 1399 * S, 3 * S))
                .unwrap();
            wait_for(&mut a, |f| matches!(f, Frame::OrderOpen(_)));
            // The bid rests while its owner is connected. Waiting for it here, before the
            // disconnect, keeps the add and the cancel from landing in one poll unseen.
            await_bid("the resting bid", &|bb| bb.is_some());
        } // dropped: the socket closes
          // Cancel on disconnect: the bid leaves market data.
        await_bid("the bid cancelled on disconnect", &|bb| bb.is_none());
        let mut b = logged_on(&h, 22, 2);
        let stop = std::thread::spawn(move || h.stop());
        let seen = read_all_raw(&mut b, true);
        assert!(seen
            .iter()
            .any(|f| matches!(f, Frame::Error(e) if e.code == error_code::SHUTDOWN)));
        assert!(seen.iter().any(|f| matches!(f, Frame::Logout(_))));
        stop.join().unwrap().unwrap();
    });
}
