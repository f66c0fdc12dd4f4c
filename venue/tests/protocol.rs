//! Protocol round trips (proptest) and malformed input: every bad byte string gives a
//! typed error with its code, never a panic.

use proptest::prelude::*;
use venue::protocol::*;

fn arb_fixed_frame() -> impl Strategy<Value = Frame<'static>> {
    let u = any::<u64>();
    let i = any::<i64>();
    prop_oneof![
        (any::<u32>(), any::<u32>(), u, any::<[u8; 16]>()).prop_map(
            |(account, heartbeat_ms, stp_id, name)| Frame::Logon(Logon {
                account,
                heartbeat_ms,
                stp_id,
                name
            })
        ),
        (any::<u32>(), any::<u32>(), u, any::<u32>()).prop_map(
            |(session_id, heartbeat_ms, venue_time_ns, instruments)| {
                Frame::LogonAck(LogonAck {
                    session_id,
                    heartbeat_ms,
                    venue_time_ns,
                    instruments,
                })
            }
        ),
        u.prop_map(|send_ns| Frame::Heartbeat(Heartbeat { send_ns })),
        any::<u16>().prop_map(|reason| Frame::Logout(Logout { reason })),
        (
            any::<u16>(),
            any::<u8>(),
            any::<bool>(),
            u,
            proptest::collection::vec(any::<u8>(), 48)
        )
            .prop_map(|(code, frame_type, closing, ref_seq, d)| {
                let mut detail = [0u8; 48];
                detail.copy_from_slice(&d);
                Frame::Error(ErrorFrame {
                    code,
                    frame_type,
                    closing,
                    ref_seq,
                    detail,
                })
            }),
        (
            u,
            any::<u32>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            i,
            i,
            u
        )
            .prop_map(
                |(
                    client_order_id,
                    instrument_id,
                    side,
                    order_type,
                    tif,
                    price_e8,
                    qty_e8,
                    send_ns,
                )| Frame::NewOrder(NewOrderMsg {
                    client_order_id,
                    instrument_id,
                    side,
                    order_type,
                    tif,
                    price_e8,
                    qty_e8,
                    send_ns
                })
            ),
        (u, u, any::<u32>(), u).prop_map(
            |(client_order_id, venue_order_id, instrument_id, send_ns)| {
                Frame::CancelOrder(CancelOrderMsg {
                    client_order_id,
                    venue_order_id,
                    instrument_id,
                    send_ns,
                })
            }
        ),
        (u, u, any::<u32>(), i, i, u).prop_map(
            |(client_order_id, venue_order_id, instrument_id, price_e8, qty_e8, send_ns)| {
                Frame::ModifyOrder(ModifyOrderMsg {
                    client_order_id,
                    venue_order_id,
                    instrument_id,
                    price_e8,
                    qty_e8,
                    send_ns,
                })
            }
        ),
        (u, u, any::<u32>(), any::<u8>(), i, i, u).prop_map(
            |(client_order_id, venue_order_id, instrument_id, side, price_e8, qty_e8, venue_ns)| {
                Frame::OrderAccepted(OrderAcceptedMsg {
                    client_order_id,
                    venue_order_id,
                    instrument_id,
                    side,
                    price_e8,
                    qty_e8,
                    venue_ns,
                })
            }
        ),
        (u, u, any::<u32>(), any::<u8>(), i, i, u).prop_map(
            |(
                client_order_id,
                venue_order_id,
                instrument_id,
                side,
                price_e8,
                leaves_qty_e8,
                venue_ns,
            )| Frame::OrderOpen(OrderOpenMsg {
                client_order_id,
                venue_order_id,
                instrument_id,
                side,
                price_e8,
                leaves_qty_e8,
                venue_ns
            })
        ),
        (
            u,
            u,
            any::<u32>(),
            any::<u8>(),
            any::<u8>(),
            (i, i, i),
            u,
            u
        )
            .prop_map(
                |(
                    client_order_id,
                    venue_order_id,
                    instrument_id,
                    side,
                    maker,
                    (price_e8, qty_e8, leaves_qty_e8),
                    trade_id,
                    venue_ns,
                )| {
                    Frame::Fill(FillMsg {
                        client_order_id,
                        venue_order_id,
                        instrument_id,
                        side,
                        maker,
                        price_e8,
                        qty_e8,
                        leaves_qty_e8,
                        trade_id,
                        venue_ns,
                    })
                }
            ),
        (u, u, any::<u32>(), any::<u8>(), any::<u16>(), i, i, u).prop_map(
            |(
                client_order_id,
                venue_order_id,
                instrument_id,
                side,
                reason,
                price_e8,
                cancelled_qty_e8,
                venue_ns,
            )| Frame::Cancelled(CancelledMsg {
                client_order_id,
                venue_order_id,
                instrument_id,
                side,
                reason,
                price_e8,
                cancelled_qty_e8,
                venue_ns
            })
        ),
        (u, any::<u32>(), any::<u16>(), u).prop_map(
            |(client_order_id, instrument_id, reason, venue_ns)| {
                Frame::Rejected(RejectedMsg {
                    client_order_id,
                    instrument_id,
                    reason,
                    venue_ns,
                })
            }
        ),
        (u, u, any::<u16>(), u).prop_map(|(client_order_id, venue_order_id, reason, venue_ns)| {
            Frame::CancelRejected(CancelRejectedMsg {
                client_order_id,
                venue_order_id,
                reason,
                venue_ns,
            })
        }),
        (u, u, any::<u32>(), any::<u8>(), any::<u8>(), (i, i, i), u).prop_map(
            |(
                client_order_id,
                venue_order_id,
                instrument_id,
                side,
                priority_kept,
                (price_e8, qty_e8, leaves_qty_e8),
                venue_ns,
            )| {
                Frame::Modified(ModifiedMsg {
                    client_order_id,
                    venue_order_id,
                    instrument_id,
                    side,
                    priority_kept,
                    price_e8,
                    qty_e8,
                    leaves_qty_e8,
                    venue_ns,
                })
            }
        ),
        (any::<u32>(), any::<u8>(), i, i, u, u).prop_map(
            |(instrument_id, aggressor_side, price_e8, qty_e8, trade_id, venue_ns)| {
                Frame::TradePrint(TradePrintMsg {
                    instrument_id,
                    aggressor_side,
                    price_e8,
                    qty_e8,
                    trade_id,
                    venue_ns,
                })
            }
        ),
        any::<u32>()
            .prop_map(|instrument_id| Frame::SnapshotRequest(SnapshotRequestMsg { instrument_id })),
        (any::<u32>(), i, i, i, u).prop_map(
            |(instrument_id, position_e8, bought_e8, sold_e8, venue_ns)| {
                Frame::PositionReport(PositionReportMsg {
                    instrument_id,
                    position_e8,
                    bought_e8,
                    sold_e8,
                    venue_ns,
                })
            }
        ),
    ]
}

fn arb_levels() -> impl Strategy<Value = Vec<DeltaLevel>> {
    proptest::collection::vec(
        (1u8..=2, any::<i64>(), any::<i64>()).prop_map(|(side, price_e8, qty_e8)| DeltaLevel {
            side,
            price_e8,
            qty_e8,
        }),
        0..50,
    )
}

proptest! {
    #[test]
    fn fixed_frames_round_trip(f in arb_fixed_frame(), seq in any::<u64>()) {
        let mut buf = Vec::new();
        let n = encode(&f, seq, &mut buf);
        prop_assert_eq!(n, buf.len());
        let (h, g, used) = decode(&buf).unwrap();
        prop_assert_eq!(used, n);
        prop_assert_eq!(h.seq, seq);
        prop_assert_eq!(g, f);
        // Every strict prefix is "truncated", never a frame and never a panic.
        for cut in 0..n {
            match decode(&buf[..cut]) {
                Err(DecodeError::Truncated { needed, have }) => {
                    prop_assert_eq!(have, cut);
                    prop_assert!(needed > cut);
                }
                other => prop_assert!(false, "prefix {} gave {:?}", cut, other),
            }
        }
    }

    #[test]
    fn book_delta_round_trip(levels in arb_levels(), iid in any::<u32>(), flags in any::<u16>(), ns in any::<u64>(), seq in any::<u64>()) {
        let mut buf = Vec::new();
        let n = encode_book_delta(&mut buf, seq, iid, flags, ns, &levels).unwrap();
        let (h, f, used) = decode(&buf).unwrap();
        prop_assert_eq!((used, h.seq), (n, seq));
        let Frame::BookDelta(d) = f else { panic!("not a delta") };
        prop_assert_eq!((d.instrument_id, d.flags, d.venue_ns), (iid, flags, ns));
        prop_assert_eq!(d.levels().collect::<Vec<_>>(), levels);
        // Relaying a decoded delta re-encodes to the same bytes.
        let mut again = Vec::new();
        encode(&f, seq, &mut again);
        prop_assert_eq!(again, buf);
    }

    #[test]
    fn snapshot_round_trip(
        bids in proptest::collection::vec((any::<i64>(), any::<i64>()), 0..40),
        asks in proptest::collection::vec((any::<i64>(), any::<i64>()), 0..40),
        seq in any::<u64>(),
    ) {
        let mut buf = Vec::new();
        encode_snapshot(&mut buf, seq, 3, 99, &bids, &asks).unwrap();
        let (_, f, _) = decode(&buf).unwrap();
        let Frame::Snapshot(s) = f else { panic!("not a snapshot") };
        prop_assert_eq!(s.bids().collect::<Vec<_>>(), bids);
        prop_assert_eq!(s.asks().collect::<Vec<_>>(), asks);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        // Total: a frame or a typed error with a code in 1..=7.
        if let Err(e) = decode(&bytes) {
            prop_assert!((1..=7).contains(&e.code()));
        }
    }

    #[test]
    fn corrupted_valid_frames_never_panic(f in arb_fixed_frame(), pos in 0usize..64, val in any::<u8>()) {
        let mut buf = Vec::new();
        encode(&f, 1, &mut buf);
        let p = pos % buf.len();
        buf[p] = val;
        let _ = decode(&buf);
    }
}

fn heartbeat_bytes() -> Vec<u8> {
    let mut b = Vec::new();
    encode(&Frame::Heartbeat(Heartbeat { send_ns: 5 }), 1, &mut b);
    b
}

#[test]
fn header_errors_have_codes() {
    let mut b = heartbeat_bytes();
    b[0] = 0;
    let e = decode(&b).unwrap_err();
    assert!(matches!(e, DecodeError::BadMagic(_)));
    assert_eq!(e.code(), error_code::BAD_MAGIC);
    assert!(!e.frame_skippable());

    let mut b = heartbeat_bytes();
    b[2] = 9;
    assert_eq!(decode(&b).unwrap_err(), DecodeError::BadVersion(9));
    assert_eq!(DecodeError::BadVersion(9).code(), error_code::BAD_VERSION);

    // Oversized: refused from the header alone, before the body arrives.
    let mut b = heartbeat_bytes();
    b[4..8].copy_from_slice(&(MAX_BODY_LEN as u32 + 1).to_le_bytes());
    let e = decode(&b[..HEADER_LEN]).unwrap_err();
    assert_eq!(e, DecodeError::Oversized(MAX_BODY_LEN as u32 + 1));
    assert_eq!(e.code(), error_code::OVERSIZED);

    // A heartbeat claiming 9 body bytes: wrong length for its type.
    let mut b = heartbeat_bytes();
    b[4..8].copy_from_slice(&9u32.to_le_bytes());
    b.push(0);
    let e = decode(&b).unwrap_err();
    assert_eq!(
        e,
        DecodeError::BadLength {
            msg_type: msg_type::HEARTBEAT,
            len: 9,
            expected: 8
        }
    );
    assert_eq!(e.code(), error_code::BAD_LENGTH);

    // Unknown type 200 with a 3-byte body: skippable by its length, even before the body arrives.
    let mut b = heartbeat_bytes();
    b[3] = 200;
    b[4..8].copy_from_slice(&3u32.to_le_bytes());
    let e = decode(&b[..HEADER_LEN]).unwrap_err();
    assert_eq!(e, DecodeError::UnknownType(200));
    assert!(e.frame_skippable());
    assert_eq!(e.code(), error_code::UNKNOWN_TYPE);
}

#[test]
fn variable_frames_check_counts_and_sides() {
    let mut b = Vec::new();
    encode_book_delta(
        &mut b,
        1,
        1,
        0,
        0,
        &[DeltaLevel {
            side: 1,
            price_e8: 10,
            qty_e8: 1,
        }],
    )
    .unwrap();
    // Count says 2 but one level present.
    let mut c = b.clone();
    c[HEADER_LEN + 4] = 2;
    assert!(matches!(
        decode(&c),
        Err(DecodeError::BadLength {
            msg_type: msg_type::BOOK_DELTA,
            len: 40,
            expected: 64
        })
    ));
    // Side 3 is not a side: the frame is intact, so it is skippable.
    let mut c = b.clone();
    c[HEADER_LEN + 16] = 3;
    let e = decode(&c).unwrap_err();
    assert_eq!(
        e,
        DecodeError::BadValue {
            msg_type: msg_type::BOOK_DELTA,
            field: "level side"
        }
    );
    assert!(e.frame_skippable());
    // Body shorter than the delta's own header.
    let mut c = Vec::new();
    c.extend_from_slice(&b[..HEADER_LEN]);
    c[4..8].copy_from_slice(&4u32.to_le_bytes());
    c.extend_from_slice(&[0; 4]);
    assert!(matches!(decode(&c), Err(DecodeError::BadLength { .. })));
    // Encoder refuses a bad side and too many levels.
    assert_eq!(
        encode_book_delta(
            &mut Vec::new(),
            1,
            1,
            0,
            0,
            &[DeltaLevel {
                side: 0,
                price_e8: 1,
                qty_e8: 1
            }]
        ),
        Err(EncodeError::BadSide(0))
    );
    let many = vec![
        DeltaLevel {
            side: 1,
            price_e8: 1,
            qty_e8: 1
        };
        MAX_DELTA_LEVELS + 1
    ];
    assert!(encode_book_delta(&mut Vec::new(), 1, 1, 0, 0, &many).is_err());
    // Error frame "closing" flag must be 0 or 1.
    let mut e = Vec::new();
    encode(
        &error_frame(error_code::BAD_MAGIC, 0, 0, true, "x"),
        1,
        &mut e,
    );
    e[HEADER_LEN + 3] = 2;
    assert!(matches!(decode(&e), Err(DecodeError::BadValue { .. })));
}

#[test]
fn back_to_back_frames_decode_in_sequence() {
    let mut b = Vec::new();
    for s in 1..=3u64 {
        encode(&Frame::Heartbeat(Heartbeat { send_ns: s * 10 }), s, &mut b);
    }
    let mut off = 0;
    let mut seen = Vec::new();
    while off < b.len() {
        let (h, f, n) = decode(&b[off..]).unwrap();
        seen.push((h.seq, f));
        off += n;
    }
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2], (3, Frame::Heartbeat(Heartbeat { send_ns: 30 })));
}
