//! Token buckets and the cancel timer wheel, with hand-worked times.
use actors::execution::rate::{RateConfig, RateLimiter, TokenBucket};
use actors::execution::timers::TimerWheel;

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;

#[test]
fn bucket_refills_one_token_per_period_over_capacity() {
    // 10 per second: one token every 100 ms.
    let mut b = TokenBucket::new(10, S);
    for _ in 0..10 {
        assert!(b.try_take(1, 0));
    }
    assert!(!b.try_take(1, 0), "11th in the same instant");
    // 99.999999 ms later: 0.99999999 of a token, not enough.
    assert!(!b.try_take(1, 100 * MS - 1));
    assert!(b.try_take(1, 100 * MS));
    assert!(!b.try_take(1, 100 * MS));
    // A long pause refills to capacity, never beyond.
    assert_eq!(b.available(100 * S), 10);
    // All-or-nothing for several tokens.
    assert!(!b.try_take(11, 100 * S));
    assert_eq!(b.available(100 * S), 10);
    // Capacity 0 = unlimited.
    let mut u = TokenBucket::new(0, S);
    assert!(u.try_take(1_000_000, 0));
}

#[test]
fn limiter_needs_every_bucket() {
    let mut r = RateLimiter::new(&RateConfig {
        per_second: 10,
        per_minute: 12,
        per_day: 0,
    });
    for _ in 0..10 {
        assert!(r.try_take(1, 0));
    }
    assert!(!r.try_take(1, 0));
    // At 1 s the second bucket is full again (10), but the minute bucket has
    // 2 + 1 s × 12/60 s = 2.2 tokens: two orders go, the third does not.
    assert!(r.try_take(1, S));
    assert!(r.try_take(1, S));
    assert!(!r.try_take(1, S));
    assert_eq!(r.available(S), 0);
}

#[test]
fn timer_fires_at_the_deadline_not_before() {
    let mut w = TimerWheel::new(MS, 64, 8);
    w.insert(210 * MS, 1).unwrap();
    let mut fired = Vec::new();
    assert_eq!(
        w.expire(210 * MS - 1, |k, d| {
            fired.push((k, d));
            true
        }),
        0
    );
    assert_eq!(
        w.expire(210 * MS, |k, d| {
            fired.push((k, d));
            true
        }),
        1
    );
    assert_eq!(fired, [(1, 210 * MS)]);
    assert!(w.is_empty());
}

#[test]
fn timers_beyond_one_turn_and_after_a_long_pause() {
    // 64 slots of 1 ms: a 200 ms deadline shares a slot with earlier ticks.
    let mut w = TimerWheel::new(MS, 64, 8);
    w.insert(200 * MS, 1).unwrap(); // slot 200 % 64 = 8
    w.insert(8 * MS, 2).unwrap(); // slot 8 as well
    let mut fired = Vec::new();
    w.expire(10 * MS, |k, _| {
        fired.push(k);
        true
    });
    assert_eq!(
        fired,
        [2],
        "the 200 ms timer in the same slot waits its turn"
    );
    w.expire(199 * MS, |k, _| {
        fired.push(k);
        true
    });
    assert_eq!(fired, [2]);
    // A pause of several turns: everything due fires once.
    w.insert(300 * MS, 3).unwrap();
    w.expire(10 * S, |k, _| {
        fired.push(k);
        true
    });
    fired.sort();
    assert_eq!(fired, [1, 2, 3]);
}

#[test]
fn cancelled_timers_do_not_fire_and_free_their_place() {
    let mut w = TimerWheel::new(MS, 16, 2);
    let a = w.insert(5 * MS, 1).unwrap();
    w.insert(6 * MS, 2).unwrap();
    assert!(w.insert(7 * MS, 3).is_err(), "capacity 2");
    assert!(w.cancel(a));
    assert!(!w.cancel(a), "a stale handle is recognised");
    w.insert(7 * MS, 3).unwrap();
    let mut fired = Vec::new();
    w.expire(20 * MS, |k, _| {
        fired.push(k);
        true
    });
    fired.sort();
    assert_eq!(fired, [2, 3]);
}

#[test]
fn expiry_resumes_when_the_caller_is_full() {
    let mut w = TimerWheel::new(MS, 16, 8);
    for k in 0..5 {
        w.insert(MS, k).unwrap();
    }
    let mut fired = Vec::new();
    let mut room = 2;
    w.expire(2 * MS, |k, _| {
        if room == 0 {
            return false;
        }
        room -= 1;
        fired.push(k);
        true
    });
    assert_eq!(fired.len(), 2);
    w.expire(2 * MS, |k, _| {
        fired.push(k);
        true
    });
    fired.sort();
    assert_eq!(fired, [0, 1, 2, 3, 4]);
}
