//! Broadcast ring: exact overrun accounting, no torn messages under a racing publisher, cursor
//! and publisher restarts.
mod ring_common;

use ring_common::{engine_dir, serial, watchdog, Backoff};
use runtime::ring::probe::ProbeMsg;
use runtime::ring::{Broadcast, Recv, RingError, MAX_SUBSCRIBERS};

const SALT: u64 = 0xB0B;

fn seq_of(r: Recv<ProbeMsg>) -> Option<u64> {
    match r {
        Recv::Msg { seq, msg } => {
            assert_eq!(msg.seq, seq);
            assert!(msg.is_intact(SALT));
            Some(seq)
        }
        _ => None,
    }
}

#[test]
fn lapped_subscriber_learns_exactly_how_many_it_lost() {
    let ring = Broadcast::<ProbeMsg, 8>::anonymous().unwrap();
    let mut tx = ring.publisher().unwrap();
    let mut slow = ring.subscribe(0).unwrap();
    let mut fast = ring.subscribe(1).unwrap();
    for s in 0..20 {
        assert_eq!(tx.publish(&ProbeMsg::new(s, SALT)), s);
    }
    // 20 published into 8 slots: messages 12..19 survive, 0..11 are gone.
    assert_eq!(slow.poll(), Recv::Overrun { lost: 12 });
    let got: Vec<u64> = std::iter::from_fn(|| seq_of(slow.poll())).collect();
    assert_eq!(got, (12..20).collect::<Vec<_>>());
    assert_eq!(slow.poll(), Recv::Empty);

    // A subscriber that read some, then fell behind by more than the ring.
    assert_eq!(fast.poll(), Recv::Overrun { lost: 12 });
    for _ in 0..3 {
        seq_of(fast.poll()).unwrap(); // 12, 13, 14
    }
    for s in 20..30 {
        tx.publish(&ProbeMsg::new(s, SALT));
    }
    // Head 30: 22..29 survive; fast was at 15, so 15..21 (7 messages) are lost.
    assert_eq!(fast.poll(), Recv::Overrun { lost: 7 });
    assert_eq!(seq_of(fast.poll()), Some(22));
    // slow was at 20: 20 and 21 are lost.
    assert_eq!(slow.poll(), Recv::Overrun { lost: 2 });
    assert_eq!(seq_of(slow.poll()), Some(22));
}

#[test]
fn subscriber_keeping_up_loses_nothing() {
    let ring = Broadcast::<ProbeMsg, 4>::anonymous().unwrap();
    let mut tx = ring.publisher().unwrap();
    let mut rx = ring.subscribe_latest(5).unwrap();
    for s in 0..100 {
        tx.publish(&ProbeMsg::new(s, SALT));
        assert_eq!(seq_of(rx.poll()), Some(s));
        assert_eq!(rx.poll(), Recv::Empty);
    }
}

#[test]
fn racing_publisher_never_yields_a_torn_message_and_accounting_is_exact() {
    const COUNT: u64 = 2_000_000;
    let _serial = serial();
    watchdog("broadcast race", 60, || {
        let ring = Broadcast::<ProbeMsg, 64>::anonymous().unwrap();
        let mut tx = ring.publisher().unwrap();
        let mut rx = ring.subscribe(0).unwrap();
        let publisher = std::thread::spawn(move || {
            for s in 0..COUNT {
                tx.publish(&ProbeMsg::new(s, SALT));
            }
        });
        let (mut delivered, mut lost, mut overruns) = (0u64, 0u64, 0u64);
        let mut next = 0u64;
        let mut backoff = Backoff::default();
        while next < COUNT {
            match rx.poll() {
                Recv::Msg { seq, msg } => {
                    assert_eq!(seq, next, "out of order");
                    assert!(msg.is_intact(SALT), "torn message at {seq}");
                    assert_eq!(msg.seq, seq);
                    delivered += 1;
                    next += 1;
                }
                Recv::Overrun { lost: n } => {
                    assert!(n > 0);
                    lost += n;
                    overruns += 1;
                    next += n;
                }
                Recv::Empty => backoff.wait(),
            }
            assert_eq!(rx.position(), next);
        }
        publisher.join().unwrap();
        assert_eq!(
            delivered + lost,
            COUNT,
            "every message delivered or counted lost"
        );
        assert_eq!(next, COUNT);
        eprintln!("delivered {delivered}, lost {lost} in {overruns} overruns");
    });
}

#[test]
fn restarted_subscriber_and_publisher_resume() {
    let (_base, dir) = engine_dir();
    let ring = Broadcast::<ProbeMsg, 16>::create(&dir, "md").unwrap();
    {
        let mut tx = ring.publisher().unwrap();
        for s in 0..10 {
            tx.publish(&ProbeMsg::new(s, SALT));
        }
        let mut rx = ring.subscribe(3).unwrap();
        for s in 0..4 {
            assert_eq!(seq_of(rx.poll()), Some(s));
        }
    }
    let again = Broadcast::<ProbeMsg, 16>::attach(&dir, "md").unwrap();
    let mut rx = again.subscribe(3).unwrap();
    assert_eq!(rx.position(), 4);
    let mut tx = again.publisher().unwrap();
    assert_eq!(tx.next_seq(), 10);
    tx.publish(&ProbeMsg::new(10, SALT));
    let got: Vec<u64> = std::iter::from_fn(|| seq_of(rx.poll())).collect();
    assert_eq!(got, (4..11).collect::<Vec<_>>());
    // Latest skips history.
    let mut late = again.subscribe_latest(4).unwrap();
    assert_eq!(late.poll(), Recv::Empty);
    assert_eq!(late.position(), 11);
}

#[test]
fn cursors_are_bounded_and_exclusive() {
    let ring = Broadcast::<ProbeMsg, 8>::anonymous().unwrap();
    assert!(matches!(
        ring.subscribe(MAX_SUBSCRIBERS),
        Err(RingError::CursorOutOfRange {
            cursor: 16,
            max: 16
        })
    ));
    let a = ring.subscribe(2).unwrap();
    assert!(matches!(
        ring.subscribe(2),
        Err(RingError::SideTaken { .. })
    ));
    drop(a);
    ring.subscribe(2).unwrap();
    let _p = ring.publisher().unwrap();
    assert!(matches!(ring.publisher(), Err(RingError::SideTaken { .. })));
}
