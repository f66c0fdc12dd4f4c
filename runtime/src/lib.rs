//! The engine's runtime foundation: everything actors share.
//!
//! - [`msg`]: the fixed-size plain-data messages that cross shared memory and the
//!   [`msg::ShmSafe`] marker trait that decides which types may live there.
pub mod msg;
