//! The timer wheel against a plain reference model (a sorted map), over random
//! sequences of inserts, cancels and polls: the same timers fire, none before
//! its deadline, none twice, none lost.
use actors::execution::timers::{TimerHandle, TimerWheel};
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
enum Op {
    /// Arm a timer `delay` ns after now.
    Insert(u64),
    /// Cancel the n-th armed timer (modulo the number armed).
    Cancel(usize),
    /// Advance the clock by `step` ns and poll.
    Poll(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        // Deadlines from "now" to several turns of the wheel (16 slots × 1 µs).
        (0u64..50_000).prop_map(Op::Insert),
        any::<usize>().prop_map(Op::Cancel),
        prop_oneof![0u64..2_000, 0u64..100_000].prop_map(Op::Poll),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]
    #[test]
    fn wheel_matches_reference(ops in prop::collection::vec(op(), 1..200)) {
        let mut wheel = TimerWheel::new(1_000, 16, 64);
        // Reference: key → deadline of armed timers.
        let mut model: BTreeMap<u64, u64> = BTreeMap::new();
        let mut handles: Vec<(u64, TimerHandle)> = Vec::new();
        let mut now = 0u64;
        let mut next_key = 0u64;
        for op in ops {
            match op {
                Op::Insert(delay) => {
                    let r = wheel.insert(now + delay, next_key);
                    if model.len() < 64 {
                        let h = r.expect("room in the wheel");
                        model.insert(next_key, now + delay);
                        handles.push((next_key, h));
                    } else {
                        prop_assert!(r.is_err());
                    }
                    next_key += 1;
                }
                Op::Cancel(n) => {
                    if !handles.is_empty() {
                        let (key, h) = handles.remove(n % handles.len());
                        let armed = model.remove(&key).is_some();
                        prop_assert_eq!(wheel.cancel(h), armed);
                    }
                }
                Op::Poll(step) => {
                    now += step;
                    let mut fired = Vec::new();
                    wheel.expire(now, |k, d| { fired.push((k, d)); true });
                    fired.sort();
                    let due: Vec<(u64, u64)> = model.iter().filter(|(_, &d)| d <= now).map(|(&k, &d)| (k, d)).collect();
                    prop_assert_eq!(&fired, &due);
                    for (k, _) in &due {
                        model.remove(k);
                    }
                    handles.retain(|(k, _)| model.contains_key(k));
                }
            }
            prop_assert_eq!(wheel.len(), model.len());
        }
    }
}
