//! Both chains of the latency bench, in-process, for a short burst: every event must reach
//! Execution as a decision, and the latency stages must have samples. No timing assertions
//! (timing goals live in `make bench-latency`).

use latency_bench::channels::{ChannelChain, ChannelChainConfig, Placement};
use latency_bench::report::StepResult;
use latency_bench::shm_chain::ShmChain;
use latency_bench::synth::SynthBook;
use runtime::idle::IdleStrategy;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RATE: u64 = 2_000;
const EVENTS: u64 = 1_000;

fn bench_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// Fails the whole test binary if a chain hangs.
fn watchdog(limit: Duration) -> Arc<AtomicBool> {
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    std::thread::spawn(move || {
        let start = Instant::now();
        while !d.load(Ordering::Acquire) {
            if start.elapsed() > limit {
                eprintln!("watchdog: test still running after {limit:?}: deadlock or stall");
                std::process::abort();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    done
}

fn count(s: &StepResult, figure: &str) -> u64 {
    s.figure(figure).map_or(0, |p| p.count)
}

fn work_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("latbench-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn shm_chain_turns_every_event_into_a_decision() {
    let done = watchdog(Duration::from_secs(120));
    let dir = work_dir("shm");
    let mut chain = ShmChain::start(
        &format!("latbench-test-{}", std::process::id()),
        &dir,
        &bench_file("strategy-bench.ron"),
        &bench_file("venue-bench.ron"),
        IdleStrategy::default_backoff(),
    )
    .expect("in-process chain starts");
    chain
        .driver
        .warm_up(RATE, Duration::from_secs(20))
        .expect("Sonar opens the gates on the synthetic book");
    let s = chain
        .run_step(RATE, EVENTS, Duration::from_secs(60))
        .expect("step runs");
    chain.stop().expect("chain stops");
    done.store(true, Ordering::Release);

    assert_eq!(s.events, EVENTS, "the feed published every event");
    // Every event is a book whose prices moved: Oracle emits for each, Execution takes each.
    assert_eq!(count(&s, "hop_feed_oracle"), EVENTS);
    assert_eq!(count(&s, "hop_oracle_execution"), EVENTS);
    assert_eq!(s.decisions, EVENTS);
    // Orders: at most one new order per signal, and some were written.
    let orders = count(&s, "tick_to_order");
    assert!(orders > 0 && orders <= EVENTS, "orders {orders}");
    assert_eq!(count(&s, "tick_to_order_intended"), orders);
    // Intended-based latency is never below the one from the actual publication.
    let (a, b) = (
        s.figure("tick_to_order_intended").unwrap(),
        s.figure("tick_to_order").unwrap(),
    );
    assert!(a.max_ns >= b.max_ns);
    assert!(count(&s, "oracle_proc") > 0 && count(&s, "execution_proc") > 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn channel_chain_turns_every_event_into_a_decision() {
    let done = watchdog(Duration::from_secs(120));
    let dir = work_dir("channels");
    let strategy = actors::config::StrategyConfig::load(&bench_file("strategy-bench.ron")).unwrap();
    let mut vcfg = venue::config::load(&bench_file("venue-bench.ron")).unwrap();
    vcfg.order_entry_addr = "127.0.0.1:0".parse().unwrap();
    vcfg.market_data_addr = "127.0.0.1:0".parse().unwrap();
    let venue = venue::server::start(vcfg).unwrap();
    let costs = actors::execution::costs::CostSchedule::load_dir(
        &latency_bench::kinds::repo_root().join(&strategy.costs_dir),
    )
    .unwrap()
    .for_date(actors::live::today_utc())
    .unwrap()
    .clone();
    // Unpinned placements (core 0 exists everywhere); back-off as the default topology.
    let place = || Placement {
        core: 0,
        idle: IdleStrategy::default_backoff(),
    };
    let mut chain = ChannelChain::start(ChannelChainConfig {
        feed: place(),
        oracle: place(),
        sonar: place(),
        sentinel: place(),
        execution: place(),
        strategy,
        costs,
        book: SynthBook::default(),
        venue_order_addr: venue.order_entry_addr(),
        account: 3,
        journal_path: dir.join("orders.journal"),
        housekeeping_cores: Vec::new(),
    })
    .expect("channel chain starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !chain.gates_open() {
        assert!(Instant::now() < deadline, "Sonar never opened the gates");
        chain.run_step(RATE, 500, Duration::from_secs(20)).unwrap();
    }
    let s = chain
        .run_step(RATE, EVENTS, Duration::from_secs(60))
        .expect("step runs");
    chain.stop().expect("chain stops");
    done.store(true, Ordering::Release);

    assert_eq!(s.events, EVENTS);
    assert_eq!(s.decisions, EVENTS, "every event became a decision");
    assert_eq!(count(&s, "hop_feed_oracle"), EVENTS);
    assert_eq!(count(&s, "hop_oracle_execution"), EVENTS);
    assert_eq!(count(&s, "tick_to_decision_intended"), EVENTS);
    let orders = count(&s, "tick_to_order");
    assert!(orders > 0 && orders <= EVENTS, "orders {orders}");
    assert_eq!(s.orders, orders);
    assert_eq!(count(&s, "tick_to_order_intended"), orders);
    let _ = std::fs::remove_dir_all(&dir);
}
