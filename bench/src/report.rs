//! Percentiles, the table for people and the JSON for scripts.

use hdrhistogram::Histogram;
use serde::Serialize;

/// The percentiles every figure is reported with (ns).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    /// Samples in the histogram.
    pub count: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub p9999_ns: u64,
    pub max_ns: u64,
}

impl Percentiles {
    /// From a histogram (all zero when it is empty).
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            p50_ns: h.value_at_quantile(0.50),
            p90_ns: h.value_at_quantile(0.90),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            p9999_ns: h.value_at_quantile(0.9999),
            max_ns: h.max(),
        }
    }
}

/// One measured figure of one chain at one rate.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    /// Stable name, e.g. `tick_to_order_intended`.
    pub name: String,
    pub percentiles: Percentiles,
}

/// One rate step of one chain.
#[derive(Clone, Debug, Serialize)]
pub struct StepResult {
    /// `engine` (processes + shared-memory rings) or `channels` (threads + crossbeam).
    pub chain: String,
    pub offered_rate_per_s: u64,
    /// Events published / (last publish − intended start).
    pub achieved_rate_per_s: f64,
    pub events: u64,
    /// Largest lag of the generator behind its schedule (included in intended-based figures).
    pub generator_max_lag_ns: u64,
    /// New orders written to the venue in this step.
    pub orders: u64,
    /// Signals Execution processed in this step (decisions).
    pub decisions: u64,
    pub figures: Vec<Figure>,
}

impl StepResult {
    pub fn figure(&self, name: &str) -> Option<&Percentiles> {
        self.figures
            .iter()
            .find(|f| f.name == name)
            .map(|f| &f.percentiles)
    }
}

fn us(ns: u64) -> String {
    let v = ns as f64 / 1000.0;
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The human table of a list of steps.
pub fn table(steps: &[StepResult]) -> String {
    let mut s = String::new();
    for st in steps {
        s.push_str(&format!(
            "\n[{}] offered {}/s, achieved {:.0}/s, {} events, {} decisions, {} new orders, generator max lag {} µs\n",
            st.chain,
            st.offered_rate_per_s,
            st.achieved_rate_per_s,
            st.events,
            st.decisions,
            st.orders,
            us(st.generator_max_lag_ns)
        ));
        s.push_str(&format!(
            "  {:<28} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            "figure (µs)", "count", "p50", "p90", "p99", "p99.9", "p99.99", "max"
        ));
        for f in &st.figures {
            let p = &f.percentiles;
            if p.count == 0 {
                s.push_str(&format!("  {:<28} {:>9}   (no samples)\n", f.name, 0));
                continue;
            }
            s.push_str(&format!(
                "  {:<28} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
                f.name,
                p.count,
                us(p.p50_ns),
                us(p.p90_ns),
                us(p.p99_ns),
                us(p.p999_ns),
                us(p.p9999_ns),
                us(p.max_ns)
            ));
        }
    }
    s
}

/// The last line: `tick_to_order_p50_us=<a> tick_to_order_p99_us=<b> rate=10000
/// vs_channels_p50_ratio=<c>`, from the intended-based tick-to-order of both chains at
/// `rate` (`nan` where a figure is missing).
pub fn last_line(steps: &[StepResult], rate: u64, figure: &str) -> String {
    let find = |chain: &str| {
        steps
            .iter()
            .find(|s| s.chain == chain && s.offered_rate_per_s == rate)
            .and_then(|s| s.figure(figure))
            .filter(|p| p.count > 0)
            .copied()
    };
    let ours = find("engine");
    let theirs = find("channels");
    let f = |v: Option<f64>| v.map_or("nan".to_string(), |v| format!("{v:.2}"));
    let ratio = match (ours, theirs) {
        (Some(a), Some(b)) if b.p50_ns > 0 => Some(a.p50_ns as f64 / b.p50_ns as f64),
        _ => None,
    };
    format!(
        "tick_to_order_p50_us={} tick_to_order_p99_us={} rate={rate} vs_channels_p50_ratio={}",
        f(ours.map(|p| p.p50_ns as f64 / 1000.0)),
        f(ours.map(|p| p.p99_ns as f64 / 1000.0)),
        f(ratio)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(chain: &str, rate: u64, p50: u64, p99: u64) -> StepResult {
        StepResult {
            chain: chain.into(),
            offered_rate_per_s: rate,
            achieved_rate_per_s: rate as f64,
            events: 10,
            generator_max_lag_ns: 0,
            orders: 10,
            decisions: 10,
            figures: vec![Figure {
                name: "t2o".into(),
                percentiles: Percentiles {
                    count: 10,
                    p50_ns: p50,
                    p99_ns: p99,
                    ..Percentiles::default()
                },
            }],
        }
    }

    #[test]
    fn last_line_takes_the_rate_and_divides_the_medians() {
        let steps = [
            step("engine", 1000, 1, 1),
            step("engine", 10_000, 12_000, 150_000),
            step("channels", 10_000, 8_000, 90_000),
        ];
        assert_eq!(
            last_line(&steps, 10_000, "t2o"),
            "tick_to_order_p50_us=12.00 tick_to_order_p99_us=150.00 rate=10000 vs_channels_p50_ratio=1.50"
        );
        assert_eq!(
            last_line(&steps[..2], 10_000, "t2o"),
            "tick_to_order_p50_us=12.00 tick_to_order_p99_us=150.00 rate=10000 vs_channels_p50_ratio=nan"
        );
    }

    #[test]
    fn percentiles_of_a_known_histogram() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let p = Percentiles::of(&h);
        assert_eq!(p.count, 1000);
        // 3 significant digits: 500,000 and 990,000 are exact bucket edges within 0.1 %.
        assert!((499_000..=501_000).contains(&p.p50_ns), "{}", p.p50_ns);
        assert!((989_000..=991_000).contains(&p.p99_ns), "{}", p.p99_ns);
        assert!((999_000..=1_001_000).contains(&p.max_ns));
        assert_eq!(Percentiles::of(&Histogram::<u64>::new(3).unwrap()).count, 0);
    }
}
