//! Property tests: any mix of batch sizes delivers every message exactly once and in order
//! (SPSC, two threads); the broadcast ring's results match a simple model for any interleaving.
mod ring_common;

use proptest::prelude::*;
use ring_common::{serial, watchdog, Backoff};
use runtime::ring::probe::ProbeMsg;
use runtime::ring::{Broadcast, Recv, Spsc};

const SALT: u64 = 77;

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn spsc_any_batch_sizes_deliver_exactly_once_in_order(
        push_sizes in prop::collection::vec(1usize..=40, 1..120),
        pop_sizes in prop::collection::vec(1usize..=40, 1..40),
    ) {
        let _serial = serial();
        let total: u64 = push_sizes.iter().map(|&n| n as u64).sum();
        let received = watchdog("spsc proptest", 30, || {
            // 16 slots: batches up to 40 hit the full ring and wrap many times.
            let ring = Spsc::<ProbeMsg, 16>::anonymous().unwrap();
            let mut tx = ring.producer().unwrap();
            let mut rx = ring.consumer().unwrap();
            let producer = std::thread::spawn(move || {
                let mut seq = 0u64;
                let mut batch = Vec::with_capacity(40);
                let mut backoff = Backoff::default();
                for n in push_sizes {
                    batch.clear();
                    batch.extend((seq..seq + n as u64).map(|s| ProbeMsg::new(s, SALT)));
                    let mut sent = 0;
                    while sent < n {
                        if n == 1 {
                            match tx.try_push(&batch[0]) {
                                Ok(s) => { assert_eq!(s, seq); sent = 1; }
                                Err(_) => backoff.wait(),
                            }
                        } else if n % 2 == 0 {
                            // Built in place: the closure gets each message's sequence number.
                            let k = tx.push_with(n - sent, |s| ProbeMsg::new(s, SALT));
                            if k == 0 { backoff.wait(); }
                            sent += k;
                        } else {
                            let k = tx.push_batch(&batch[sent..]);
                            if k == 0 { backoff.wait(); }
                            sent += k;
                        }
                    }
                    seq += n as u64;
                }
                seq
            });
            let mut got = Vec::with_capacity(total as usize);
            let mut backoff = Backoff::default();
            let mut i = 0;
            while (got.len() as u64) < total {
                let max = pop_sizes[i % pop_sizes.len()];
                i += 1;
                let n = if max == 1 {
                    match rx.try_pop() { Some(m) => { got.push((rx.position() - 1, m)); 1 } None => 0 }
                } else {
                    rx.pop_batch(max, |seq, m| got.push((seq, *m)))
                };
                assert!(n <= max);
                if n == 0 { backoff.wait(); }
            }
            assert_eq!(producer.join().unwrap(), total);
            assert!(rx.try_pop().is_none(), "more messages than pushed");
            got
        });
        prop_assert_eq!(received.len() as u64, total);
        for (i, (seq, m)) in received.iter().enumerate() {
            prop_assert_eq!(*seq, i as u64);
            prop_assert_eq!(m.seq, i as u64);
            prop_assert!(m.is_intact(SALT));
        }
    }

    /// Single-threaded, so the expected result of every poll follows from a model: with head `h`
    /// (messages published) and cursor `c`, a poll returns Empty when c = h, Overrun{h − N − c}
    /// when c < h − N (then c = h − N), else message c.
    #[test]
    fn broadcast_matches_model_for_any_interleaving(
        steps in prop::collection::vec((0usize..30, 0usize..30), 1..60),
    ) {
        const N: u64 = 8;
        let ring = Broadcast::<ProbeMsg, 8>::anonymous().unwrap();
        let mut tx = ring.publisher().unwrap();
        let mut rx = ring.subscribe(0).unwrap();
        let (mut head, mut cursor) = (0u64, 0u64);
        let (mut delivered, mut lost) = (0u64, 0u64);
        for (publish, polls) in steps {
            for _ in 0..publish {
                prop_assert_eq!(tx.publish(&ProbeMsg::new(head, SALT)), head);
                head += 1;
            }
            for _ in 0..polls {
                let expected = if cursor == head {
                    Recv::Empty
                } else if cursor + N < head {
                    Recv::Overrun { lost: head - N - cursor }
                } else {
                    Recv::Msg { seq: cursor, msg: ProbeMsg::new(cursor, SALT) }
                };
                let got = rx.poll();
                prop_assert_eq!(got, expected);
                match got {
                    Recv::Msg { .. } => { cursor += 1; delivered += 1; }
                    Recv::Overrun { lost: n } => { cursor += n; lost += n; }
                    Recv::Empty => {}
                }
                prop_assert_eq!(rx.position(), cursor);
            }
        }
        prop_assert_eq!(delivered + lost, cursor);
    }
}
