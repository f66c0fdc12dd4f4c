//! Exact decimal text ↔ `i64` scaled by 10^8 (`*_e8`), without floating point.
//!
//! Recordings and configuration carry prices as decimal strings ("63944.10"); going
//! through `f64` would turn 0.1 into 0.1000000000000000055 and break equality with the
//! exchange's own best bid/ask. Parsing is total: every input yields a value or a
//! typed error.

use thiserror::Error;

/// Scale of every `*_e8` value (same as `runtime::msg::PRICE_SCALE`).
pub const SCALE: i64 = runtime::msg::PRICE_SCALE;

/// Why a decimal could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DecimalError {
    #[error("empty number")]
    Empty,
    #[error("unexpected byte {0:#04x} in a number")]
    BadByte(u8),
    #[error("more than 8 fractional digits that are not zero (value not representable in e8)")]
    TooPrecise,
    #[error("number does not fit an i64 scaled by 10^8")]
    Overflow,
}

/// Parse `[-]digits[.digits]` into a value scaled by 10^8. Extra fractional digits are
/// accepted only when they are zeros (Binance pads some quantities).
pub fn parse_e8(text: &[u8]) -> Result<i64, DecimalError> {
    let (neg, body) = match text.first() {
        None => return Err(DecimalError::Empty),
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if body.is_empty() {
        return Err(DecimalError::Empty);
    }
    let mut int_part: i64 = 0;
    let mut i = 0;
    let mut digits = 0;
    while i < body.len() && body[i] != b'.' {
        let d = body[i].wrapping_sub(b'0');
        if d > 9 {
            return Err(DecimalError::BadByte(body[i]));
        }
        int_part = int_part
            .checked_mul(10)
            .and_then(|v| v.checked_add(d as i64))
            .ok_or(DecimalError::Overflow)?;
        i += 1;
        digits += 1;
    }
    let mut frac: i64 = 0;
    let mut frac_digits = 0u32;
    if i < body.len() {
        // body[i] == '.'
        i += 1;
        while i < body.len() {
            let d = body[i].wrapping_sub(b'0');
            if d > 9 {
                return Err(DecimalError::BadByte(body[i]));
            }
            if frac_digits < 8 {
                frac = frac * 10 + d as i64;
                frac_digits += 1;
            } else if d != 0 {
                return Err(DecimalError::TooPrecise);
            }
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return Err(DecimalError::Empty);
    }
    while frac_digits < 8 {
        frac *= 10;
        frac_digits += 1;
    }
    let v = int_part
        .checked_mul(SCALE)
        .and_then(|v| v.checked_add(frac))
        .ok_or(DecimalError::Overflow)?;
    Ok(if neg { -v } else { v })
}

/// Parse a `&str` decimal (configuration files).
pub fn parse_e8_str(text: &str) -> Result<i64, DecimalError> {
    parse_e8(text.trim().as_bytes())
}

/// Parse an unsigned decimal integer (ids, timestamps); total, overflow checked.
pub fn parse_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in text {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(d as u64)?;
    }
    Some(v)
}

/// Format an e8 value as a decimal for humans (logs, reports).
pub fn format_e8(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    let int = a / SCALE as u64;
    let frac = a % SCALE as u64;
    if frac == 0 {
        format!("{sign}{int}")
    } else {
        let s = format!("{frac:08}");
        format!("{sign}{int}.{}", s.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_values() {
        assert_eq!(parse_e8(b"63944.10"), Ok(6_394_410_000_000));
        assert_eq!(parse_e8(b"0.000"), Ok(0));
        assert_eq!(parse_e8(b"28165.47000000"), Ok(2_816_547_000_000));
        assert_eq!(parse_e8(b"0.00000001"), Ok(1));
        assert_eq!(parse_e8(b"-1.5"), Ok(-150_000_000));
        assert_eq!(parse_e8(b"7"), Ok(700_000_000));
        assert_eq!(parse_e8(b"1.1234567800"), Ok(112_345_678));
    }

    #[test]
    fn rejects_bad_input_without_panic() {
        assert_eq!(parse_e8(b""), Err(DecimalError::Empty));
        assert_eq!(parse_e8(b"-"), Err(DecimalError::Empty));
        assert_eq!(parse_e8(b"."), Err(DecimalError::Empty));
        assert_eq!(parse_e8(b"1e5"), Err(DecimalError::BadByte(b'e')));
        assert_eq!(parse_e8(b"NaN"), Err(DecimalError::BadByte(b'N')));
        assert_eq!(parse_e8(b"0.000000001"), Err(DecimalError::TooPrecise));
        assert_eq!(
            parse_e8(b"99999999999999999999"),
            Err(DecimalError::Overflow)
        );
        // i64::MAX / 1e8 = 92233720368.54775807: one more whole unit overflows.
        assert_eq!(parse_e8(b"92233720369"), Err(DecimalError::Overflow));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
    }

    #[test]
    fn formats() {
        assert_eq!(format_e8(6_394_410_000_000), "63944.1");
        assert_eq!(format_e8(-150_000_000), "-1.5");
        assert_eq!(format_e8(0), "0");
    }
}
