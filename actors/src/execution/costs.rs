//! Indian taxes and charges per executed order side, from dated RON tables.
//!
//! Rates change (STT rose on 1 April 2026), so they live in
//! `config/costs/<exchange>-<effective date>.ron`, never in code. A
//! [`CostSchedule`] holds every period and picks the table in force on a
//! trading date ([`CostSchedule::for_date`]).
//!
//! Per executed side of notional `N` (₹, price × quantity; for options the
//! premium turnover):
//! - STT: `stt_buy_pct`·N on buys, `stt_sell_pct`·N on sells;
//! - exchange transaction charge, IPFT levy, SEBI fee: their `%`·N on each side;
//! - stamp duty: `stamp_buy_pct`·N on buys only;
//! - brokerage: per executed order ([`Brokerage`]);
//! - GST: `gst_pct` of (brokerage + exchange transaction charge + SEBI fee).
//!
//! Amounts are unrounded rupees (contract notes round per order; the
//! difference is under ₹1 per order and irrelevant to the NEV decision).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use thiserror::Error;

/// Market segment (decides the rates, and the OTR exemption band).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub enum Segment {
    /// Cash market, squared off the same day.
    #[default]
    EquityIntraday,
    /// Cash market, taken to delivery.
    EquityDelivery,
    /// Index and stock futures.
    Futures,
    /// Index and stock options (notional = premium turnover).
    Options,
}

impl Segment {
    /// Cash and futures share the ±0.75 % OTR band; options have their own.
    pub fn is_options(self) -> bool {
        matches!(self, Segment::Options)
    }
}

/// Side of an execution for costing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TradeSide {
    Buy,
    Sell,
}

impl TradeSide {
    /// From a [`runtime::msg::side`] code; `None` for an unknown code.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            runtime::msg::side::BUY => Some(TradeSide::Buy),
            runtime::msg::side::SELL => Some(TradeSide::Sell),
            _ => None,
        }
    }
}

/// Broker's fee per executed order.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Brokerage {
    /// No brokerage (e.g. delivery at a discount broker).
    Zero,
    /// A flat fee per executed order.
    Flat { inr: f64 },
    /// `min(pct % of notional, cap_inr)` per executed order.
    PctCapped { pct: f64, cap_inr: f64 },
}

impl Brokerage {
    pub fn fee_inr(&self, notional_inr: f64) -> f64 {
        match *self {
            Brokerage::Zero => 0.0,
            Brokerage::Flat { inr } => inr,
            Brokerage::PctCapped { pct, cap_inr } => (notional_inr * pct / 100.0).min(cap_inr),
        }
    }
}

/// Rates of one segment, in percent of notional (0.025 means 0.025 %).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SegmentRates {
    pub stt_buy_pct: f64,
    pub stt_sell_pct: f64,
    pub exchange_pct: f64,
    pub ipft_pct: f64,
    pub sebi_pct: f64,
    pub stamp_buy_pct: f64,
    /// GST in percent of (brokerage + exchange charge + SEBI fee).
    pub gst_pct: f64,
    pub brokerage: Brokerage,
}

/// Costs of one or more executions, in rupees, by component.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostsInr {
    pub stt: f64,
    pub exchange: f64,
    pub ipft: f64,
    pub sebi: f64,
    pub stamp: f64,
    pub gst: f64,
    pub brokerage: f64,
}

impl CostsInr {
    pub fn total(&self) -> f64 {
        self.stt + self.exchange + self.ipft + self.sebi + self.stamp + self.gst + self.brokerage
    }

    pub fn add(&mut self, o: &CostsInr) {
        self.stt += o.stt;
        self.exchange += o.exchange;
        self.ipft += o.ipft;
        self.sebi += o.sebi;
        self.stamp += o.stamp;
        self.gst += o.gst;
        self.brokerage += o.brokerage;
    }
}

/// A calendar date (trading day), `YYYY-MM-DD` in RON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Date {
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, CostError> {
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
            2 => 28,
            _ => 0,
        };
        if day == 0 || day > days {
            return Err(CostError::BadDate(format!("{year:04}-{month:02}-{day:02}")));
        }
        Ok(Self { year, month, day })
    }

    pub fn parse(text: &str) -> Result<Self, CostError> {
        let bad = || CostError::BadDate(text.to_string());
        let mut it = text.split('-');
        let (Some(y), Some(m), Some(d), None) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(bad());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let y = y.parse().map_err(|_| bad())?;
        let m = m.parse().map_err(|_| bad())?;
        let d = d.parse().map_err(|_| bad())?;
        Self::new(y, m, d)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Date::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The rates in force from `effective_from` until the next table's date.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostTable {
    pub name: String,
    pub effective_from: Date,
    /// Where the figures come from (circulars, rate cards).
    #[serde(default)]
    pub source: String,
    pub equity_intraday: SegmentRates,
    pub equity_delivery: SegmentRates,
    pub futures: SegmentRates,
    pub options: SegmentRates,
}

#[derive(Debug, Error)]
pub enum CostError {
    #[error("bad date {0:?}: expected a real calendar date written YYYY-MM-DD")]
    BadDate(String),
    #[error("cannot read cost table {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a valid cost table: {source}")]
    Parse {
        path: String,
        source: ron::error::SpannedError,
    },
    #[error("cost table {name:?}: {field} = {value} is invalid: rates must be finite and ≥ 0")]
    BadRate {
        name: String,
        field: String,
        value: f64,
    },
    #[error("cost tables {0:?} and {1:?} take effect on the same date {2}")]
    DuplicateDate(String, String, Date),
    #[error("no cost table in {0} (expected files like nse-2026-04-01.ron)")]
    Empty(String),
    #[error("no cost table in force on {0}: the earliest takes effect on {1}")]
    NoTableFor(Date, Date),
}

impl CostTable {
    pub fn from_ron(text: &str, origin: &str) -> Result<Self, CostError> {
        let t: CostTable = ron::from_str(text).map_err(|source| CostError::Parse {
            path: origin.to_string(),
            source,
        })?;
        t.validate()?;
        Ok(t)
    }

    pub fn load(path: &Path) -> Result<Self, CostError> {
        let text = std::fs::read_to_string(path).map_err(|source| CostError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_ron(&text, &path.display().to_string())
    }

    pub fn validate(&self) -> Result<(), CostError> {
        for (seg, r) in self.all() {
            let mut fields = vec![
                ("stt_buy_pct", r.stt_buy_pct),
                ("stt_sell_pct", r.stt_sell_pct),
                ("exchange_pct", r.exchange_pct),
                ("ipft_pct", r.ipft_pct),
                ("sebi_pct", r.sebi_pct),
                ("stamp_buy_pct", r.stamp_buy_pct),
                ("gst_pct", r.gst_pct),
            ];
            match r.brokerage {
                Brokerage::Zero => {}
                Brokerage::Flat { inr } => fields.push(("brokerage.inr", inr)),
                Brokerage::PctCapped { pct, cap_inr } => {
                    fields.push(("brokerage.pct", pct));
                    fields.push(("brokerage.cap_inr", cap_inr));
                }
            }
            for (f, v) in fields {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(CostError::BadRate {
                        name: self.name.clone(),
                        field: format!("{seg:?}.{f}"),
                        value: v,
                    });
                }
            }
        }
        Ok(())
    }

    fn all(&self) -> [(Segment, &SegmentRates); 4] {
        [
            (Segment::EquityIntraday, &self.equity_intraday),
            (Segment::EquityDelivery, &self.equity_delivery),
            (Segment::Futures, &self.futures),
            (Segment::Options, &self.options),
        ]
    }

    pub fn rates(&self, segment: Segment) -> &SegmentRates {
        match segment {
            Segment::EquityIntraday => &self.equity_intraday,
            Segment::EquityDelivery => &self.equity_delivery,
            Segment::Futures => &self.futures,
            Segment::Options => &self.options,
        }
    }

    /// Costs of one executed order side of `notional_inr`.
    pub fn side_costs_inr(&self, segment: Segment, side: TradeSide, notional_inr: f64) -> CostsInr {
        let r = self.rates(segment);
        let n = notional_inr.abs();
        let pct = |p: f64| n * p / 100.0;
        let (stt, stamp) = match side {
            TradeSide::Buy => (pct(r.stt_buy_pct), pct(r.stamp_buy_pct)),
            TradeSide::Sell => (pct(r.stt_sell_pct), 0.0),
        };
        let exchange = pct(r.exchange_pct);
        let sebi = pct(r.sebi_pct);
        let brokerage = r.brokerage.fee_inr(n);
        CostsInr {
            stt,
            exchange,
            ipft: pct(r.ipft_pct),
            sebi,
            stamp,
            gst: (brokerage + exchange + sebi) * r.gst_pct / 100.0,
            brokerage,
        }
    }

    /// Costs of one executed side given price and quantity in `*_e8`.
    pub fn fill_costs_inr(
        &self,
        segment: Segment,
        side: TradeSide,
        price_e8: i64,
        qty_e8: i64,
    ) -> CostsInr {
        self.side_costs_inr(segment, side, notional_inr(price_e8, qty_e8))
    }

    /// Buy and sell of the same notional: costs of a round trip.
    pub fn round_trip_inr(&self, segment: Segment, notional_inr: f64) -> CostsInr {
        let mut c = self.side_costs_inr(segment, TradeSide::Buy, notional_inr);
        c.add(&self.side_costs_inr(segment, TradeSide::Sell, notional_inr));
        c
    }

    /// Pick the table in force on `date` from a list (any order).
    pub fn for_date(tables: &[CostTable], date: Date) -> Option<&CostTable> {
        tables
            .iter()
            .filter(|t| t.effective_from <= date)
            .max_by_key(|t| t.effective_from)
    }
}

/// `price × qty` in rupees from `*_e8` values.
pub fn notional_inr(price_e8: i64, qty_e8: i64) -> f64 {
    (price_e8 as f64 / 1e8) * (qty_e8 as f64 / 1e8)
}

/// Every cost period, sorted by effective date.
#[derive(Clone, Debug, PartialEq)]
pub struct CostSchedule {
    tables: Vec<CostTable>,
}

impl CostSchedule {
    pub fn new(mut tables: Vec<CostTable>) -> Result<Self, CostError> {
        if tables.is_empty() {
            return Err(CostError::Empty("the given list".into()));
        }
        for t in &tables {
            t.validate()?;
        }
        tables.sort_by_key(|t| t.effective_from);
        for w in tables.windows(2) {
            if w[0].effective_from == w[1].effective_from {
                return Err(CostError::DuplicateDate(
                    w[0].name.clone(),
                    w[1].name.clone(),
                    w[0].effective_from,
                ));
            }
        }
        Ok(Self { tables })
    }

    /// Load every `*.ron` file of a directory (e.g. `config/costs`).
    pub fn load_dir(dir: &Path) -> Result<Self, CostError> {
        let io = |source| CostError::Io {
            path: dir.display().to_string(),
            source,
        };
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "ron"))
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(CostError::Empty(dir.display().to_string()));
        }
        let tables = paths
            .iter()
            .map(|p| CostTable::load(p))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(tables)
    }

    /// The table in force on `date`.
    pub fn for_date(&self, date: Date) -> Result<&CostTable, CostError> {
        CostTable::for_date(&self.tables, date)
            .ok_or(CostError::NoTableFor(date, self.tables[0].effective_from))
    }

    pub fn tables(&self) -> &[CostTable] {
        &self.tables
    }
}
