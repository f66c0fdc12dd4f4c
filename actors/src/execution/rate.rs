//! Token buckets for the broker's order-rate limits (orders per second, per
//! minute, per day), in exact integer arithmetic so the backtest is
//! deterministic and a limit is never exceeded by rounding.

use serde::{Deserialize, Serialize};

/// A bucket of `capacity` tokens refilled at `capacity` per `period_ns`.
///
/// The level is kept in units of token·ns/period: one token = `period_ns`
/// units, and each elapsed ns adds `capacity` units. No division, no floats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenBucket {
    capacity: u64,
    period_ns: u64,
    level: u128,
    last_ns: u64,
}

impl TokenBucket {
    /// Starts full. `capacity` = 0 means unlimited.
    pub fn new(capacity: u64, period_ns: u64) -> Self {
        assert!(period_ns > 0, "token bucket period must be > 0");
        Self {
            capacity,
            period_ns,
            level: capacity as u128 * period_ns as u128,
            last_ns: 0,
        }
    }

    fn refill(&mut self, now_ns: u64) {
        if now_ns > self.last_ns {
            let add = (now_ns - self.last_ns) as u128 * self.capacity as u128;
            let max = self.capacity as u128 * self.period_ns as u128;
            self.level = (self.level + add).min(max);
            self.last_ns = now_ns;
        }
    }

    /// Whole tokens available at `now_ns`.
    pub fn available(&mut self, now_ns: u64) -> u64 {
        if self.capacity == 0 {
            return u64::MAX;
        }
        self.refill(now_ns);
        (self.level / self.period_ns as u128) as u64
    }

    /// Take `n` tokens if all are available; otherwise take none.
    pub fn try_take(&mut self, n: u64, now_ns: u64) -> bool {
        if self.capacity == 0 {
            return true;
        }
        self.refill(now_ns);
        let need = n as u128 * self.period_ns as u128;
        if self.level >= need {
            self.level -= need;
            true
        } else {
            false
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateConfig {
    /// Orders (new + modify) per second; 0 = unlimited. Zerodha: 10.
    pub per_second: u64,
    /// Per minute; Zerodha: 400.
    pub per_minute: u64,
    /// Per day; Zerodha: 5,000. (A bucket refilled over 24 h: within one
    /// trading session it is a plain daily cap.)
    pub per_day: u64,
}

impl Default for RateConfig {
    fn default() -> Self {
        Self {
            per_second: 10,
            per_minute: 400,
            per_day: 5_000,
        }
    }
}

/// Second, minute and day buckets taken together: an order goes only when
/// every bucket has a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimiter {
    buckets: [TokenBucket; 3],
}

impl RateLimiter {
    pub fn new(cfg: &RateConfig) -> Self {
        Self {
            buckets: [
                TokenBucket::new(cfg.per_second, 1_000_000_000),
                TokenBucket::new(cfg.per_minute, 60_000_000_000),
                TokenBucket::new(cfg.per_day, 86_400_000_000_000),
            ],
        }
    }

    /// Take `n` tokens from every bucket, or none from any.
    pub fn try_take(&mut self, n: u64, now_ns: u64) -> bool {
        if self.buckets.iter_mut().any(|b| b.available(now_ns) < n) {
            return false;
        }
        for b in &mut self.buckets {
            let took = b.try_take(n, now_ns);
            debug_assert!(took, "checked above");
        }
        true
    }

    /// Tokens available now (the smallest bucket).
    pub fn available(&mut self, now_ns: u64) -> u64 {
        self.buckets
            .iter_mut()
            .map(|b| b.available(now_ns))
            .min()
            .unwrap_or(0)
    }
}
