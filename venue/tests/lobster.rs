//! LOBSTER replay on the hand-written fixture: the rebuilt book equals the orderbook
//! file row by row.

use venue::replay::lobster::{kind, load, parse_orderbook, LobsterBook};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/lobster"
    ))
    .join(name)
}

#[test]
fn rebuilt_book_equals_orderbook_file_row_by_row() {
    let (msgs, rows) = load(
        &fixture("small_message_3.csv"),
        &fixture("small_orderbook_3.csv"),
    )
    .unwrap();
    assert_eq!(msgs.len(), 13);
    let mut b = LobsterBook::from_first_row(&rows[0], &msgs[0], 100).unwrap();
    for (k, (m, row)) in msgs.iter().zip(&rows).enumerate() {
        b.apply(m, k + 1).unwrap();
        assert_eq!(
            &b.row(3),
            row,
            "row {} differs after message {:?}",
            k + 1,
            m
        );
        if k == 10 {
            assert!(b.halted, "message 11 halts trading");
        }
    }
    assert!(!b.halted);
    // Order 12 was cut to 30 by the partial cancel and then deleted; 14 lives with 500.
    assert!(b.order(12).is_none());
    assert_eq!(b.order(14).map(|o| (o.size, o.arrival)), Some((500, 4)));
    assert_eq!(msgs[5].kind, kind::EXECUTE_HIDDEN);
}

#[test]
fn a_wrong_row_is_caught() {
    let (msgs, mut rows) = load(
        &fixture("small_message_3.csv"),
        &fixture("small_orderbook_3.csv"),
    )
    .unwrap();
    // Pretend the file said 99.99 × 331 after message 9.
    rows[8][0].3 = 331;
    let mut b = LobsterBook::from_first_row(&rows[0], &msgs[0], 100).unwrap();
    let mut first_bad = None;
    for (k, (m, row)) in msgs.iter().zip(&rows).enumerate() {
        b.apply(m, k + 1).unwrap();
        if &b.row(3) != row && first_bad.is_none() {
            first_bad = Some(k + 1);
        }
    }
    assert_eq!(first_bad, Some(9));
}

#[test]
fn inconsistent_messages_are_errors() {
    let (msgs, rows) = load(
        &fixture("small_message_3.csv"),
        &fixture("small_orderbook_3.csv"),
    )
    .unwrap();
    let mut b = LobsterBook::from_first_row(&rows[0], &msgs[0], 100).unwrap();
    b.apply(&msgs[0], 1).unwrap();
    // Executing more than order 11 holds.
    let mut m = msgs[3];
    m.size = 1_000;
    assert!(b.apply(&m, 4).is_err());
    // Mismatched counts of messages and rows.
    let short = parse_orderbook("1000100,100,999900,400\n").unwrap();
    assert_eq!(short.len(), 1);
    let e = load(&fixture("small_message_3.csv"), &fixture("README.md"));
    assert!(e.is_err());
}

#[test]
fn extreme_prices_and_sizes_are_refused_not_overflowed() {
    use venue::replay::lobster::parse_messages;
    for line in [
        "34200,1,1,100,9223372036854775807,1",
        "34200,1,1,9223372036854775807,1000000,1",
        "34200,1,1,92233720368,1000000,1",
    ] {
        assert!(parse_messages(line).is_err(), "{line}");
    }
    assert!(parse_orderbook("1000100,100,999900,9223372036854775807").is_err());
    // A hand-built message beyond the range is refused by the book too.
    let mut b = LobsterBook::empty(10);
    let m = venue::replay::lobster::Message {
        time_ns: 1,
        kind: kind::NEW,
        order_id: 1,
        size: i64::MAX,
        price: 1,
        side: 1,
    };
    assert!(b.apply(&m, 1).is_err());
}
