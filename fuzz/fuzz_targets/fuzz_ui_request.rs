//! A request head (CONTROL or WS, then headers) → the UI's Origin/Host/token rules (ui::auth).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Refusals are the expected outcome for most inputs; a broken promise is a bug.
    if let Err(hardening::Refusal::Violation(m)) = hardening::ui_request(data) {
        panic!("violation: {m}");
    }
});
