//! Idle strategies: how they read in topology.ron, their caps, and the back-off sequence.

use runtime::idle::{IdleConfigError, IdleStep, IdleStrategy, Idler, MAX_SLEEP_US_CAP};

#[test]
fn strategies_read_naturally_in_ron() {
    assert_eq!(
        ron::from_str::<IdleStrategy>("Spin").unwrap(),
        IdleStrategy::Spin
    );
    assert_eq!(
        ron::from_str::<IdleStrategy>("Yield").unwrap(),
        IdleStrategy::Yield
    );
    assert_eq!(
        ron::from_str::<IdleStrategy>(
            "Backoff(spin_iterations: 3, yield_iterations: 2, min_sleep_us: 10, max_sleep_us: 35)"
        )
        .unwrap(),
        IdleStrategy::Backoff {
            spin_iterations: 3,
            yield_iterations: 2,
            min_sleep_us: 10,
            max_sleep_us: 35
        }
    );
}

#[test]
fn backoff_fields_left_out_take_the_defaults() {
    let parsed = ron::from_str::<IdleStrategy>("Backoff(max_sleep_us: 500)").unwrap();
    assert_eq!(
        parsed,
        IdleStrategy::Backoff {
            spin_iterations: 100,
            yield_iterations: 10,
            min_sleep_us: 50,
            max_sleep_us: 500
        }
    );
    assert_eq!(IdleStrategy::default(), IdleStrategy::default_backoff());
}

#[test]
fn unknown_fields_and_variants_are_errors_not_ignored() {
    let typo = ron::from_str::<IdleStrategy>("Backoff(spin_iteration: 3)");
    assert!(
        typo.is_err(),
        "a misspelt field must not be silently ignored"
    );
    assert!(ron::from_str::<IdleStrategy>("Park").is_err());
}

#[test]
fn strategies_round_trip_through_ron() {
    for s in [
        IdleStrategy::Spin,
        IdleStrategy::Yield,
        IdleStrategy::default_backoff(),
    ] {
        let text = ron::to_string(&s).unwrap();
        assert_eq!(ron::from_str::<IdleStrategy>(&text).unwrap(), s, "{text}");
    }
}

#[test]
fn caps_are_enforced_with_specific_errors() {
    let backoff = |spin, yields, min, max| IdleStrategy::Backoff {
        spin_iterations: spin,
        yield_iterations: yields,
        min_sleep_us: min,
        max_sleep_us: max,
    };
    assert_eq!(
        Idler::new(backoff(1, 1, 0, 10)).unwrap_err(),
        IdleConfigError::ZeroSleep
    );
    assert_eq!(
        Idler::new(backoff(1, 1, 20, 10)).unwrap_err(),
        IdleConfigError::SleepRangeInverted {
            min_sleep_us: 20,
            max_sleep_us: 10
        }
    );
    assert_eq!(
        Idler::new(backoff(1, 1, 1, MAX_SLEEP_US_CAP + 1)).unwrap_err(),
        IdleConfigError::SleepTooLong {
            max_sleep_us: MAX_SLEEP_US_CAP + 1,
            cap_us: MAX_SLEEP_US_CAP
        }
    );
    assert!(matches!(
        Idler::new(backoff(u32::MAX, 1, 1, 10)).unwrap_err(),
        IdleConfigError::TooManySpins { .. }
    ));
    assert!(matches!(
        Idler::new(backoff(1, u32::MAX, 1, 10)).unwrap_err(),
        IdleConfigError::TooManyYields { .. }
    ));
    // The error says what to do instead.
    let msg = IdleConfigError::TooManySpins {
        spin_iterations: 2_000_000,
        max: 1_000_000,
    }
    .to_string();
    assert!(msg.contains("use `Spin`"), "{msg}");
    assert!(Idler::new(backoff(0, 0, 1, MAX_SLEEP_US_CAP)).is_ok());
}

#[test]
fn backoff_spins_then_yields_then_sleeps_doubling_to_the_cap() {
    let mut idler = Idler::new(IdleStrategy::Backoff {
        spin_iterations: 3,
        yield_iterations: 2,
        min_sleep_us: 10,
        max_sleep_us: 35,
    })
    .unwrap();
    let steps: Vec<_> = (0..10).map(|_| idler.next_step(0)).collect();
    use IdleStep::*;
    assert_eq!(
        steps,
        [
            Spin,
            Spin,
            Spin,
            Yield,
            Yield,
            Sleep { us: 10 },
            Sleep { us: 20 },
            Sleep { us: 35 },
            Sleep { us: 35 },
            Sleep { us: 35 }
        ]
    );
}

#[test]
fn work_resets_the_backoff() {
    let mut idler = Idler::new(IdleStrategy::Backoff {
        spin_iterations: 1,
        yield_iterations: 1,
        min_sleep_us: 5,
        max_sleep_us: 40,
    })
    .unwrap();
    for _ in 0..4 {
        idler.next_step(0);
    }
    assert_eq!(idler.next_step(0), IdleStep::Sleep { us: 20 });
    assert_eq!(idler.next_step(3), IdleStep::Busy);
    assert_eq!(idler.next_step(0), IdleStep::Spin);
    assert_eq!(idler.next_step(0), IdleStep::Yield);
    assert_eq!(idler.next_step(0), IdleStep::Sleep { us: 5 });
}

#[test]
fn spin_and_yield_never_sleep() {
    let mut spin = Idler::new(IdleStrategy::Spin).unwrap();
    let mut yields = Idler::new(IdleStrategy::Yield).unwrap();
    for _ in 0..1_000 {
        assert_eq!(spin.idle(0), IdleStep::Spin);
        assert_eq!(yields.idle(0), IdleStep::Yield);
    }
    assert_eq!(spin.idle(1), IdleStep::Busy);
    assert!(IdleStrategy::Spin.is_busy());
    assert!(!IdleStrategy::default_backoff().is_busy());
}

#[test]
fn idle_really_sleeps_in_the_sleep_phase() {
    let mut idler = Idler::new(IdleStrategy::Backoff {
        spin_iterations: 0,
        yield_iterations: 0,
        min_sleep_us: 2_000,
        max_sleep_us: 2_000,
    })
    .unwrap();
    let start = std::time::Instant::now();
    assert_eq!(idler.idle(0), IdleStep::Sleep { us: 2_000 });
    // A sleep lasts at least what was asked: a lower bound, not a timing goal.
    assert!(start.elapsed() >= std::time::Duration::from_micros(2_000));
}
