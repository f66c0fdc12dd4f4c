//! The shipped strategy file parses, validates and builds every actor.
use actors::config::StrategyConfig;
use actors::execution::costs::{CostSchedule, Date};
use actors::execution::Execution;
use actors::oracle::{LevelWeights, Oracle};
use actors::sentinel::Sentinel;
use actors::sonar::Sonar;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[test]
fn shipped_strategy_file_builds_every_actor() {
    let cfg = StrategyConfig::load(&root().join("config/strategy.ron")).unwrap();
    assert_eq!(cfg.oracle.weights, LevelWeights::ExpDecay { lambda: 0.5 });
    assert_eq!(cfg.sentinel.rtt_lockdown_ns, 20_000_000);
    assert_eq!(cfg.execution.cancel_after_ns, 200_000_000);
    let costs = CostSchedule::load_dir(&root().join(&cfg.costs_dir)).unwrap();
    let table = costs
        .for_date(Date::parse("2026-11-24").unwrap())
        .unwrap()
        .clone();
    Oracle::new(cfg.oracle).unwrap();
    Sonar::new(cfg.sonar).unwrap();
    Sentinel::new(cfg.sentinel).unwrap();
    Execution::new(cfg.execution, table).unwrap();
}

#[test]
fn partial_files_take_defaults_and_mistakes_are_named() {
    let cfg = StrategyConfig::from_ron("(oracle: (levels: 3))", "inline").unwrap();
    assert_eq!(cfg.oracle.levels, 3);
    assert_eq!(cfg.execution, Default::default());
    let err = StrategyConfig::from_ron("(oracle: (levels: 0))", "inline")
        .unwrap_err()
        .to_string();
    assert!(err.contains("oracle.levels = 0"), "{err}");
    let err = StrategyConfig::from_ron("(sonar: (tick_size_e8: 1000000))", "inline")
        .unwrap_err()
        .to_string();
    assert!(err.contains("tick size"), "{err}");
    let err = StrategyConfig::from_ron("(oracle: (levels: \"five\"))", "inline")
        .unwrap_err()
        .to_string();
    assert!(err.contains("inline"), "{err}");
}
