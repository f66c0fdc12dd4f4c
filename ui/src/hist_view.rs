//! Latency histograms as the cockpit and Prometheus want them.
//!
//! The engine's HdrHistograms are never reset; we read them whole. For plots, counts go into
//! fixed 1-2-5 buckets from 100 ns to 10 s. For Prometheus, cumulative buckets use edges that
//! put 20 ms (Sentinel's lockdown threshold) exactly on an edge: `le="0.02"`.
//!
//! HdrHistogram keeps three significant digits, so a recorded value is known only to within
//! its bucket (0.1 %: about 16 µs at 20 ms). A bucket that straddles an edge is counted above
//! the edge: the histogram may overstate slowness by that resolution, never understate it.

use hdrhistogram::Histogram;

use crate::frame::{HistBucket, HistInfo};

/// Plot buckets: 100 ns … 10 s in 1-2-5 steps (upper edges, inclusive).
pub const PLOT_EDGES_NS: [u64; 25] = [
    100,
    200,
    500,
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    50_000,
    100_000,
    200_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
    200_000_000,
    500_000_000,
    1_000_000_000,
    2_000_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Prometheus bucket edges (ns); rendered in seconds. 20 ms is an edge.
pub const PROM_EDGES_NS: [u64; 22] = [
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

const _: () = {
    let mut i = 1;
    while i < PROM_EDGES_NS.len() {
        assert!(PROM_EDGES_NS[i] > PROM_EDGES_NS[i - 1], "edges must rise");
        i += 1;
    }
    let mut found = false;
    let mut j = 0;
    while j < PROM_EDGES_NS.len() {
        if PROM_EDGES_NS[j] == 20_000_000 {
            found = true;
        }
        j += 1;
    }
    assert!(found, "20 ms must be a bucket edge");
};

/// Counts per edge (not cumulative); the last element counts values above every edge.
/// A recorded HdrHistogram bucket goes to the first edge ≥ its highest equivalent value.
pub fn bucket_counts(h: &Histogram<u64>, edges: &[u64]) -> Vec<u64> {
    let mut out = vec![0u64; edges.len() + 1];
    for v in h.iter_recorded() {
        let hi = h.highest_equivalent(v.value_iterated_to());
        let idx = edges.partition_point(|&e| e < hi);
        out[idx] += v.count_at_value();
    }
    out
}

/// Sum of recorded values (ns), each bucket at its median equivalent value, for when the
/// engine does not keep an exact sum.
pub fn approx_sum_ns(h: &Histogram<u64>) -> u128 {
    h.iter_recorded()
        .map(|v| h.median_equivalent(v.value_iterated_to()) as u128 * v.count_at_value() as u128)
        .sum()
}

/// The cockpit's view of one stage.
pub fn hist_info(stage: &str, label: &str, h: &Histogram<u64>) -> HistInfo {
    let n = h.len();
    let q = |p: f64| if n == 0 { 0 } else { h.value_at_quantile(p) };
    let counts = bucket_counts(h, &PLOT_EDGES_NS);
    let mut buckets: Vec<HistBucket> = PLOT_EDGES_NS
        .iter()
        .zip(&counts)
        .map(|(&le_ns, &count)| HistBucket { le_ns, count })
        .collect();
    if let Some(last) = buckets.last_mut() {
        // values above 10 s are shown in the last bucket rather than dropped
        last.count += counts[PLOT_EDGES_NS.len()];
    }
    HistInfo {
        stage: stage.to_string(),
        label: label.to_string(),
        count: n,
        min_ns: if n == 0 { 0 } else { h.min() },
        p50_ns: q(0.50),
        p99_ns: q(0.99),
        p999_ns: q(0.999),
        max_ns: if n == 0 { 0 } else { h.max() },
        buckets,
    }
}

/// Nanoseconds as decimal seconds without float rounding: 20_000_000 → "0.02".
pub fn ns_to_seconds_text(ns: u64) -> String {
    let whole = ns / 1_000_000_000;
    let frac = ns % 1_000_000_000;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:09}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for &v in values {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn seconds_text_is_exact() {
        assert_eq!(ns_to_seconds_text(20_000_000), "0.02");
        assert_eq!(ns_to_seconds_text(2_500), "0.0000025");
        assert_eq!(ns_to_seconds_text(1_000_000_000), "1");
        assert_eq!(ns_to_seconds_text(2_500_000_000), "2.5");
        assert_eq!(ns_to_seconds_text(0), "0");
    }

    #[test]
    fn values_land_in_the_right_buckets() {
        // 150 ns → ≤200; 900 ns → ≤1 µs; 3 µs → ≤5 µs (twice); 15 ms → ≤20 ms; 30 s → overflow
        let h = hist(&[150, 900, 3_000, 3_000, 15_000_000, 30_000_000_000]);
        let c = bucket_counts(&h, &PLOT_EDGES_NS);
        assert_eq!(c[1], 1, "≤200 ns");
        assert_eq!(c[3], 1, "≤1 µs");
        assert_eq!(c[5], 2, "≤5 µs");
        assert_eq!(c[16], 1, "≤20 ms");
        assert_eq!(c[25], 1, "above 10 s");
        assert_eq!(c.iter().sum::<u64>(), 6);
    }

    #[test]
    fn straddling_bucket_counts_above_the_edge() {
        // 20 ms exactly sits in an HDR bucket whose highest equivalent is above 20 ms, so it is
        // counted in the next bucket (conservative); 19.9 ms is well inside ≤ 20 ms.
        let h = hist(&[19_900_000, 20_000_000]);
        assert!(h.highest_equivalent(20_000_000) > 20_000_000);
        let c = bucket_counts(&h, &PROM_EDGES_NS);
        let i20 = PROM_EDGES_NS.iter().position(|&e| e == 20_000_000).unwrap();
        assert_eq!(c[i20], 1);
        assert_eq!(c[i20 + 1], 1);
    }

    #[test]
    fn percentiles_and_plot_buckets() {
        let values: Vec<u64> = (1..=1000).map(|i| i * 1_000).collect(); // 1 µs … 1 ms
        let h = hist(&values);
        let info = hist_info("rtt", "RTT", &h);
        assert_eq!(info.count, 1000);
        // p50 = 500 µs, p99 = 990 µs, p99.9 = 999 µs within HDR's 0.1 %
        assert!(
            (info.p50_ns as f64 - 500_000.0).abs() <= 500.0,
            "{}",
            info.p50_ns
        );
        assert!(
            (info.p99_ns as f64 - 990_000.0).abs() <= 1_000.0,
            "{}",
            info.p99_ns
        );
        assert!(
            (info.p999_ns as f64 - 999_000.0).abs() <= 1_000.0,
            "{}",
            info.p999_ns
        );
        assert_eq!(info.buckets.len(), PLOT_EDGES_NS.len());
        assert_eq!(info.buckets.iter().map(|b| b.count).sum::<u64>(), 1000);
        let empty = hist_info("x", "x", &hist(&[]));
        assert_eq!((empty.count, empty.p99_ns, empty.max_ns), (0, 0, 0));
    }
}
