//! The cockpit is built by `make cockpit-build` (npm) into `web/dist`, which rust-embed puts into
//! the binary. On a clean clone that folder does not exist yet and rust-embed would refuse to
//! compile, so create it empty: the server then answers 503 "cockpit not built" instead.
use std::path::Path;

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("web")
        .join("dist");
    if let Err(e) = std::fs::create_dir_all(&dist) {
        // Not fatal for correctness, but rust-embed will then fail with a less clear message.
        println!("cargo:warning=cannot create {}: {e}", dist.display());
    }
    // A new `npm run build` changes the hashed file names: re-embed whenever dist changes.
    println!("cargo:rerun-if-changed=web/dist");
    println!("cargo:rerun-if-changed=build.rs");
}
