//! Recorded markets: Binance websocket recordings ([`binance`]) and LOBSTER files
//! ([`lobster`]), decoded without allocation per message by [`json`].
pub mod binance;
pub mod json;
pub mod lobster;
