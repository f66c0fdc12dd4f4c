//! A shared-memory file (byte 0: target and mode, see hardening::shm_selector) → real attach and use of rings and the control block.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Refusals are the expected outcome for most inputs; a broken promise is a bug.
    if let Err(hardening::Refusal::Violation(m)) = hardening::shm_attach(data) {
        panic!("violation: {m}");
    }
});
