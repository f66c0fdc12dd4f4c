//! Binance recorder lines → venue::replay::binance (stateless decode, then a replay of all lines).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Refusals are the expected outcome for most inputs; a broken promise is a bug.
    if let Err(hardening::Refusal::Violation(m)) = hardening::binance_lines(data) {
        panic!("violation: {m}");
    }
});
