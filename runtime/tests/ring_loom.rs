//! Loom model of the ring protocols: every interleaving (up to the preemption bound) of a
//! producer and a consumer on a two-slot ring.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p runtime --test ring_loom --release`
#![cfg(loom)]

use loom::thread;
use runtime::ring::{Broadcast, Recv, Spsc};

/// Two words that must always agree: a torn copy shows as a mismatch.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
struct Pair {
    a: u64,
    b: u64,
}
runtime::shm_safe!(Pair);

fn pair(seq: u64) -> Pair {
    Pair { a: seq, b: !seq }
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

/// Three messages through two slots: the producer must wait for the consumer (full ring) and
/// both wrap. Every message arrives once, in order, whole; loom's cell tracking also fails the
/// model if producer and consumer ever touch a slot's payload concurrently.
#[test]
fn spsc_delivers_in_order_without_races() {
    model(|| {
        let ring = Spsc::<Pair, 2>::anonymous().unwrap();
        let mut tx = ring.producer().unwrap();
        let mut rx = ring.consumer().unwrap();
        let producer = thread::spawn(move || {
            let mut seq = 0;
            // Bounded: loom explores finitely many schedules; each failed push yields.
            while seq < 3 {
                match tx.try_push(&pair(seq)) {
                    Ok(s) => {
                        assert_eq!(s, seq);
                        seq += 1;
                    }
                    Err(_) => thread::yield_now(),
                }
            }
        });
        let mut next = 0;
        while next < 3 {
            match rx.try_pop() {
                Some(m) => {
                    assert_eq!(m, pair(next));
                    next += 1;
                }
                None => thread::yield_now(),
            }
        }
        producer.join().unwrap();
        assert!(rx.try_pop().is_none());
    });
}

/// A batch publish and a batch consume interleaved with single operations.
#[test]
fn spsc_batches_deliver_in_order() {
    model(|| {
        let ring = Spsc::<Pair, 2>::anonymous().unwrap();
        let mut tx = ring.producer().unwrap();
        let mut rx = ring.consumer().unwrap();
        let producer = thread::spawn(move || {
            let msgs = [pair(0), pair(1), pair(2)];
            let mut sent = 0;
            while sent < 3 {
                let n = tx.push_batch(&msgs[sent..]);
                if n == 0 {
                    thread::yield_now();
                }
                sent += n;
            }
        });
        let mut next = 0;
        while next < 3 {
            let n = rx.pop_batch(2, |seq, m| {
                assert_eq!(seq, next);
                assert_eq!(*m, pair(next));
                next += 1;
            });
            if n == 0 {
                thread::yield_now();
            }
        }
        producer.join().unwrap();
    });
}

/// Broadcast: the publisher laps a subscriber on a two-slot ring. Whatever the interleaving, the
/// subscriber never sees a torn message, sees messages in order, and delivered + lost equals
/// the number published.
#[test]
fn broadcast_never_tears_and_accounts_exactly() {
    model(|| {
        let ring = Broadcast::<Pair, 2>::anonymous().unwrap();
        let mut tx = ring.publisher().unwrap();
        let mut rx = ring.subscribe(0).unwrap();
        let publisher = thread::spawn(move || {
            for seq in 0..3 {
                tx.publish(&pair(seq));
            }
        });
        let mut next = 0;
        while next < 3 {
            match rx.poll() {
                Recv::Msg { seq, msg } => {
                    assert_eq!(seq, next);
                    assert_eq!(msg, pair(seq), "torn or wrong message");
                    next += 1;
                }
                Recv::Overrun { lost } => {
                    assert!(lost > 0);
                    next += lost;
                }
                Recv::Empty => thread::yield_now(),
            }
        }
        assert_eq!(next, 3);
        publisher.join().unwrap();
    });
}
