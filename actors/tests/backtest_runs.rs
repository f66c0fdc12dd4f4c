//! Backtests on real data: a Binance recording (../shared/data/binance) and a LOBSTER fixture
//! (venue/tests/fixtures/lobster). Determinism (two runs, identical JSON), the report's keys in
//! order, orders placed with the backtest strategy, and the accounting identities.

use actors::backtest::{self, BacktestConfig, BacktestReport, DataFormat};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn binance_file() -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/binance"
    ));
    assert!(
        dir.is_dir(),
        "recorded Binance data missing: expected {} (see the project README); this test needs it",
        dir.display()
    );
    let f = dir.join("usdm_btcusdt_20240718.gz");
    assert!(
        f.is_file(),
        "{} is missing from the recordings folder",
        f.display()
    );
    f
}

fn binance_config() -> BacktestConfig {
    let mut c = BacktestConfig::new(binance_file());
    c.strategy = Some(root().join("config/backtest/binance-usdm-btcusdt.ron"));
    c.seed = 7;
    c
}

#[test]
fn binance_backtest_trades_and_balances() {
    let r = backtest::run(&binance_config()).unwrap();
    eprintln!("{}", r.to_table());
    assert_eq!(r.format, DataFormat::Binance);
    // The recording's 1 snapshot, 3,326 depth diffs and 974 trades (the venue's replay tests
    // count the file; tickers are not market events for the strategy).
    assert_eq!(r.events, 1 + 3_326 + 974);
    assert!(r.orders > 0, "the backtest strategy must trade: {r:?}");
    assert!(r.fills > 0, "some passive orders must fill: {r:?}");
    assert!(r.costs.total() > 0.0, "fills pay costs: {r:?}");
    assert!(
        r.costs.stt > 0.0 || r.sold_qty == 0.0,
        "sells pay STT: {r:?}"
    );
    check_identities(&r);
}

fn check_identities(r: &BacktestReport) {
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * (1.0 + a.abs().max(b.abs()));
    assert!(close(r.pnl_net, r.pnl_gross - r.costs.total()), "{r:?}");
    assert!(r.orders_filled <= r.orders, "{r:?}");
    assert!(r.fills >= r.orders_filled, "{r:?}");
    assert!(close(r.position, r.bought_qty - r.sold_qty), "{r:?}");
    assert!((0.0..=1.0).contains(&r.fill_rate) && (0.0..=1.0).contains(&r.cancel_rate));
    assert!((0.0..=100.0).contains(&r.attack_pct));
}

#[test]
fn same_data_and_seed_give_the_same_report_byte_for_byte() {
    let a = backtest::run(&binance_config()).unwrap().to_json();
    let b = backtest::run(&binance_config()).unwrap().to_json();
    assert_eq!(a, b);
    let l1 = backtest::run(&lobster_config()).unwrap().to_json();
    let l2 = backtest::run(&lobster_config()).unwrap().to_json();
    assert_eq!(l1, l2);
}

#[test]
fn report_has_the_documented_keys_in_order() {
    let json = backtest::run(&binance_config()).unwrap().to_json();
    let keys = [
        "\"events\":",
        "\"orders\":",
        "\"fills\":",
        "\"fill_rate\":",
        "\"cancel_rate\":",
        "\"otr_raw\":",
        "\"otr_penalty\":",
        "\"pnl_gross\":",
        "\"costs\":{\"stt\":",
        "\"exchange\":",
        "\"ipft\":",
        "\"sebi\":",
        "\"stamp\":",
        "\"gst\":",
        "\"brokerage\":",
        "\"pnl_net\":",
        "\"nev_expected\":",
        "\"nev_realised\":",
        "\"attack_pct\":",
        "\"lockdowns\":",
    ];
    let mut from = 0;
    for k in keys {
        let at = json[from..]
            .find(k)
            .unwrap_or_else(|| panic!("{k} missing or out of order in {json}"));
        from += at + k.len();
    }
    // Numbers only where numbers belong: the JSON parses and has no null (NaN) in it.
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(!json.contains("null"), "{json}");
    assert!(v["costs"].as_object().unwrap().len() == 7);
}

fn lobster_config() -> BacktestConfig {
    let mut c =
        BacktestConfig::new(root().join("venue/tests/fixtures/lobster/small_message_3.csv"));
    c.strategy = Some(root().join("config/backtest/lobster-equity.ron"));
    c.seed = 3;
    c
}

#[test]
fn lobster_fixture_replays_every_visible_change_and_trade() {
    let c = lobster_config();
    assert_eq!(c.format, DataFormat::Lobster, "a .csv is LOBSTER");
    let r = backtest::run(&c).unwrap();
    // Worked from the fixture's README: book events for messages 1-5, 7-10 and 13 (new,
    // partial cancel, deletion, visible execution: 10), trades for 4, 6, 7 and 9 (visible and
    // hidden executions: 4); the two halt messages publish nothing.
    assert_eq!(r.events, 14, "{r:?}");
    // 34202.6 s − 34200.000000001 s.
    assert!(
        (r.duration_s - 2.599_999_999).abs() < 1e-9,
        "{}",
        r.duration_s
    );
    // Sonar needs 32 trades before it can say Attack: no order on 4 prints.
    assert_eq!(r.orders, 0);
    check_identities(&r);
}

#[test]
fn bad_inputs_are_clear_errors() {
    let mut c = BacktestConfig::new(root().join("no/such/file.gz"));
    let e = backtest::run(&c).unwrap_err();
    assert!(matches!(e, backtest::BacktestError::NoData(_)), "{e}");
    // A LOBSTER file not named …_message_L.csv: its orderbook file cannot be found.
    c = BacktestConfig::new(root().join("venue/tests/fixtures/lobster/README.md"));
    c.format = DataFormat::Lobster;
    let e = backtest::run(&c).unwrap_err();
    assert!(matches!(e, backtest::BacktestError::LobsterName(_)), "{e}");
    assert!(e.to_string().contains("_orderbook_"), "{e}");
}
