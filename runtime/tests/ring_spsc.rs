//! SPSC ring: order and exactly-once between threads, back-pressure, restarts of either side,
//! side ownership and type checks on attach.
mod ring_common;

use ring_common::{engine_dir, serial, watchdog, Backoff};
use runtime::ring::probe::ProbeMsg;
use runtime::ring::{Full, RingError, SkipError, Spsc};
use runtime::shm::{AttachError, Region};

const SALT: u64 = 0x5150;

#[test]
fn two_threads_deliver_every_message_once_in_order() {
    const COUNT: u64 = 1_000_000;
    let _serial = serial();
    watchdog("spsc two threads", 60, || {
        let ring = Spsc::<ProbeMsg, 1024>::anonymous().unwrap();
        let mut tx = ring.producer().unwrap();
        let mut rx = ring.consumer().unwrap();
        let producer = std::thread::spawn(move || {
            let mut next = 0u64;
            let mut batch = Vec::with_capacity(37);
            let mut backoff = Backoff::default();
            while next < COUNT {
                let before = next;
                // Alternate single pushes and batches of varying size.
                if next.is_multiple_of(3) {
                    if tx.try_push(&ProbeMsg::new(next, SALT)) == Ok(next) {
                        next += 1;
                    }
                } else {
                    batch.clear();
                    let n = (1 + next % 37).min(COUNT - next);
                    batch.extend((next..next + n).map(|s| ProbeMsg::new(s, SALT)));
                    next += tx.push_batch(&batch) as u64;
                }
                if next == before {
                    backoff.wait();
                }
            }
            tx
        });
        let mut expect = 0u64;
        let mut backoff = Backoff::default();
        while expect < COUNT {
            let before = expect;
            if expect.is_multiple_of(2) {
                if let Some(m) = rx.try_pop() {
                    assert_eq!(m.seq, expect);
                    assert!(m.is_intact(SALT));
                    expect += 1;
                }
            } else {
                rx.pop_batch(1 + (expect % 50) as usize, |seq, m| {
                    assert_eq!(seq, expect);
                    assert_eq!(m.seq, expect);
                    assert!(m.is_intact(SALT));
                    expect += 1;
                });
            }
            if expect == before {
                backoff.wait();
            }
        }
        let tx = producer.join().unwrap();
        assert_eq!(tx.next_seq(), COUNT);
        assert_eq!(rx.position(), COUNT);
        assert_eq!(rx.try_pop(), None);
        assert_eq!(rx.pending(), 0);
    });
}

#[test]
fn full_ring_refuses_then_accepts_after_a_pop() {
    let ring = Spsc::<ProbeMsg, 4>::anonymous().unwrap();
    let mut tx = ring.producer().unwrap();
    let mut rx = ring.consumer().unwrap();
    for s in 0..4 {
        assert_eq!(tx.try_push(&ProbeMsg::new(s, SALT)), Ok(s));
    }
    assert_eq!(tx.try_push(&ProbeMsg::new(4, SALT)), Err(Full));
    let batch: Vec<_> = (4..8).map(|s| ProbeMsg::new(s, SALT)).collect();
    assert_eq!(tx.push_batch(&batch), 0);
    assert_eq!(rx.pending(), 4);
    assert_eq!(rx.try_pop().map(|m| m.seq), Some(0));
    // One slot free: a batch of four writes exactly one.
    assert_eq!(tx.push_batch(&batch), 1);
    assert_eq!(tx.next_seq(), 5);
    let mut seen = Vec::new();
    assert_eq!(rx.pop_batch(10, |seq, m| seen.push((seq, m.seq))), 4);
    assert_eq!(seen, vec![(1, 1), (2, 2), (3, 3), (4, 4)]);
    assert_eq!(rx.pop_batch(10, |_, _| panic!("empty ring delivered")), 0);
}

#[test]
fn restarted_consumer_resumes_where_it_stopped() {
    let (_base, dir) = engine_dir();
    let ring = Spsc::<ProbeMsg, 16>::create(&dir, "mail").unwrap();
    let mut tx = ring.producer().unwrap();
    for s in 0..10 {
        tx.try_push(&ProbeMsg::new(s, SALT)).unwrap();
    }
    {
        let mut rx = ring.consumer().unwrap();
        assert_eq!(rx.try_pop().unwrap().seq, 0);
        let mut n = 0;
        rx.pop_batch(2, |seq, _| {
            assert_eq!(seq, 1 + n);
            n += 1;
        });
        assert_eq!(rx.position(), 3);
    } // consumer "dies" (dropped)
      // A new process would attach: a fresh handle on the same file.
    let again = Spsc::<ProbeMsg, 16>::attach(&dir, "mail").unwrap();
    let mut rx = again.consumer().unwrap();
    assert_eq!(rx.position(), 3);
    let got: Vec<u64> = std::iter::from_fn(|| rx.try_pop().map(|m| m.seq)).collect();
    assert_eq!(got, (3..10).collect::<Vec<_>>());
}

/// A consumer that keeps its own state saves it (tagged with the batch's end) before the commit;
/// one that dies in between leaves the batch to be delivered again, and its successor steps over
/// exactly what the saved state already holds.
#[test]
fn a_consumer_dying_between_its_checkpoint_and_the_commit_counts_nothing_twice() {
    let (_base, dir) = engine_dir();
    let ring = Spsc::<ProbeMsg, 16>::create(&dir, "mail").unwrap();
    let mut tx = ring.producer().unwrap();
    for s in 0..10 {
        tx.try_push(&ProbeMsg::new(s, SALT)).unwrap();
    }
    // The consumer's state: the sum of the sequence numbers it has folded in; saved with the
    // position it was made at.
    let fold = |sum: &mut u64, _: u64, m: &ProbeMsg| *sum += m.seq;
    let mut saved = (0u64, 0u64);
    {
        let mut rx = ring.consumer().unwrap();
        let mut sum = 0;
        let n = rx.pop_batch_checkpointed(3, &mut sum, fold, |sum, end| saved = (*sum, end));
        assert_eq!((n, saved, rx.position()), (3, (3, 3), 3));
        // The next batch dies after its checkpoint, before the commit.
        let died = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rx.pop_batch_checkpointed(4, &mut sum, fold, |sum, end| {
                saved = (*sum, end);
                panic!("killed between the checkpoint and the commit");
            })
        }));
        assert!(died.is_err());
        assert_eq!(
            saved,
            ((0..7).sum::<u64>(), 7),
            "the state holds messages 0..7"
        );
        assert_eq!(rx.position(), 3, "the commit never happened");
    }
    let again = Spsc::<ProbeMsg, 16>::attach(&dir, "mail").unwrap();
    let mut rx = again.consumer().unwrap();
    assert_eq!(rx.position(), 3, "the ring would deliver 3..7 again");
    assert_eq!(rx.skip_to(saved.1), Ok(4));
    let (mut sum, _) = saved;
    rx.pop_batch_checkpointed(16, &mut sum, fold, |_, _| {});
    assert_eq!(
        sum,
        (0..10).sum::<u64>(),
        "every message counted exactly once"
    );
    assert_eq!(rx.skip_to(10), Ok(0));
}

#[test]
fn skip_to_refuses_a_position_behind_or_beyond_what_was_published() {
    let (_base, dir) = engine_dir();
    let ring = Spsc::<ProbeMsg, 16>::create(&dir, "mail").unwrap();
    let mut tx = ring.producer().unwrap();
    for s in 0..5 {
        tx.try_push(&ProbeMsg::new(s, SALT)).unwrap();
    }
    let mut rx = ring.consumer().unwrap();
    rx.pop_batch(2, |_, _| {});
    assert_eq!(
        rx.skip_to(1),
        Err(SkipError::Behind {
            wanted: 1,
            position: 2
        })
    );
    assert_eq!(
        rx.skip_to(6),
        Err(SkipError::Unpublished {
            wanted: 6,
            first_missing: 5
        })
    );
    assert_eq!(
        rx.skip_to(100),
        Err(SkipError::Unpublished {
            wanted: 100,
            first_missing: 18
        })
    );
    assert_eq!(rx.position(), 2, "a refused skip moves nothing");
    assert_eq!(rx.try_pop().unwrap().seq, 2);
}

#[test]
fn restarted_producer_resumes_its_sequence() {
    let (_base, dir) = engine_dir();
    let ring = Spsc::<ProbeMsg, 16>::create(&dir, "mail").unwrap();
    {
        let mut tx = ring.producer().unwrap();
        for s in 0..5 {
            tx.try_push(&ProbeMsg::new(s, SALT)).unwrap();
        }
    }
    let ring2 = Spsc::<ProbeMsg, 16>::create_or_attach(&dir, "mail").unwrap();
    let mut tx = ring2.producer().unwrap();
    assert_eq!(tx.next_seq(), 5);
    assert_eq!(tx.try_push(&ProbeMsg::new(5, SALT)), Ok(5));
    drop(tx);

    // A producer that died after committing slots 6 and 7 but before persisting its position:
    // wind the persisted position (payload offset 128, see ring/mod.rs) back to 6.
    {
        let mut tx = ring2.producer().unwrap();
        tx.try_push(&ProbeMsg::new(6, SALT)).unwrap();
        tx.try_push(&ProbeMsg::new(7, SALT)).unwrap();
    }
    let raw = Region::attach(&dir, "mail", Spsc::<ProbeMsg, 16>::spec()).unwrap();
    // Safety: the producer line's position word is at payload offset 128, 8-byte aligned; no
    // producer is running.
    unsafe { (raw.payload_ptr().add(128) as *mut u64).write_volatile(6) };
    let mut tx = ring2.producer().unwrap();
    assert_eq!(
        tx.next_seq(),
        8,
        "scan skips slots committed after the persisted position"
    );
    tx.try_push(&ProbeMsg::new(8, SALT)).unwrap();
    let mut rx = ring.consumer().unwrap();
    let got: Vec<u64> = std::iter::from_fn(|| rx.try_pop().map(|m| m.seq)).collect();
    assert_eq!(got, (0..9).collect::<Vec<_>>());
}

#[test]
fn one_producer_and_one_consumer_at_a_time() {
    let ring = Spsc::<ProbeMsg, 8>::anonymous().unwrap();
    let tx = ring.producer().unwrap();
    match ring.producer() {
        Err(RingError::SideTaken { side, pid, .. }) => {
            assert_eq!(side, "producer");
            assert_eq!(pid, std::process::id());
        }
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("second producer accepted"),
    }
    let rx = ring.consumer().unwrap();
    assert!(matches!(ring.consumer(), Err(RingError::SideTaken { .. })));
    drop(tx);
    drop(rx);
    ring.producer().unwrap();
    ring.consumer().unwrap();
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
struct OtherMsg {
    a: [u64; 8],
}
runtime::shm_safe!(OtherMsg);

#[test]
fn attach_refuses_another_message_type_or_capacity() {
    let (_base, dir) = engine_dir();
    let _ring = Spsc::<ProbeMsg, 16>::create(&dir, "mail").unwrap();
    // Same size and alignment, another type: only the ring's type record tells them apart.
    match Spsc::<OtherMsg, 16>::attach(&dir, "mail") {
        Err(RingError::MessageType { expected_name, .. }) => assert_eq!(expected_name, "OtherMsg"),
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("attached with the wrong message type"),
    }
    assert!(matches!(
        Spsc::<ProbeMsg, 32>::attach(&dir, "mail"),
        Err(RingError::Attach(AttachError::Capacity {
            found: 16,
            expected: 32,
            ..
        }))
    ));
    assert!(matches!(
        Spsc::<ProbeMsg, 16>::attach(&dir, "absent"),
        Err(RingError::Attach(AttachError::NotFound { .. }))
    ));
    assert!(matches!(
        Spsc::<ProbeMsg, 16>::create(&dir, "mail"),
        Err(RingError::Shm(runtime::shm::ShmError::AlreadyExists { .. }))
    ));
}

#[test]
fn producer_killed_while_publishing_a_batch_leaves_no_orphan_commit() {
    let (_base, dir) = engine_dir();
    let ring = Spsc::<ProbeMsg, 16>::create(&dir, "mail").unwrap();
    {
        let mut tx = ring.producer().unwrap();
        let batch: Vec<_> = (0..4).map(|s| ProbeMsg::new(s, SALT)).collect();
        assert_eq!(tx.push_batch(&batch), 4);
    }
    // A batch of 4..6 whose publication (first slot last) was cut after committing slot 5 only:
    // slot 5 holds a complete message with seq word 6, slot 4 is uncommitted garbage.
    // Layout (ring/mod.rs): slots back to back from SLOTS_OFFSET, seq word first, message at 8.
    type Ring = Spsc<ProbeMsg, 16>;
    assert_eq!(Ring::SLOT_BYTES, 72, "8-byte commit word + 64-byte message");
    let raw = Region::attach(&dir, "mail", Ring::spec()).unwrap();
    // Safety: callers pass i < 16, so the offset stays inside the payload.
    let slot = |i: usize| unsafe {
        raw.payload_ptr()
            .add(Ring::SLOTS_OFFSET + i * Ring::SLOT_BYTES)
    };
    // Safety: slots 4 and 5 lie inside the payload and no producer or consumer is running.
    unsafe {
        (slot(5).add(8) as *mut ProbeMsg).write_volatile(ProbeMsg::new(5, SALT ^ 1));
        (slot(5) as *mut u64).write_volatile(6);
        slot(4).add(8).write_bytes(0xEE, 32);
    }
    let mut tx = ring.producer().unwrap();
    assert_eq!(tx.next_seq(), 4, "resumes at the first uncommitted slot");
    // Safety: as above.
    assert_eq!(
        unsafe { (slot(5) as *const u64).read_volatile() },
        0,
        "orphan withdrawn"
    );
    let mut rx = ring.consumer().unwrap();
    let got: Vec<u64> = std::iter::from_fn(|| rx.try_pop().map(|m| m.seq)).collect();
    assert_eq!(got, vec![0, 1, 2, 3]);
    tx.try_push(&ProbeMsg::new(4, SALT)).unwrap();
    assert!(rx.try_pop().unwrap().is_intact(SALT));
    assert!(
        rx.try_pop().is_none(),
        "the old slot 5 must not be delivered"
    );
    tx.try_push(&ProbeMsg::new(5, SALT)).unwrap();
    let m = rx.try_pop().unwrap();
    assert_eq!(m.seq, 5);
    assert!(m.is_intact(SALT), "the rewritten message, not the orphan");
}
