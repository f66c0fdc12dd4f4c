//! Hostile-input entry points shared by the cargo-fuzz targets and the CI property-test pass.
