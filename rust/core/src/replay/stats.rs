//! Lateness histogram: 1 µs buckets below 1 ms, 10 µs buckets up to 100 ms, then overflow.

const FINE: usize = 1000; // 0..1000 µs
const COARSE: usize = 9900; // 1 ms .. 100 ms in 10 µs steps

#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    overflow: u64,
    pub count: u64,
    pub max_ns: u64,
    sum_ns: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; FINE + COARSE],
            overflow: 0,
            count: 0,
            max_ns: 0,
            sum_ns: 0,
        }
    }
}

impl Histogram {
    pub fn record(&mut self, ns: u64) {
        let us = (ns / 1000) as usize;
        if us < FINE {
            self.counts[us] += 1;
        } else if us < FINE + COARSE * 10 {
            self.counts[FINE + (us - FINE) / 10] += 1;
        } else {
            self.overflow += 1;
        }
        self.count += 1;
        self.max_ns = self.max_ns.max(ns);
        self.sum_ns += u128::from(ns);
    }

    /// The `q`-quantile (0..=1) in µs (upper edge of its bucket; `max` for the overflow).
    pub fn quantile_us(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let edge = if i < FINE {
                    i + 1
                } else {
                    FINE + (i - FINE + 1) * 10
                };
                return (edge as f64).min(self.max_ns as f64 / 1000.0);
            }
        }
        self.max_ns as f64 / 1000.0
    }

    pub fn mean_us(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            (self.sum_ns / u128::from(self.count)) as f64 / 1000.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        for i in 0..1000u64 {
            h.record(i * 1000 + 500); // 0.5 µs .. 999.5 µs
        }
        assert!((h.quantile_us(0.5) - 500.0).abs() <= 1.0);
        assert!((h.quantile_us(0.99) - 990.0).abs() <= 1.0);
        h.record(5_000_000_000);
        assert!((h.quantile_us(1.0) - 5_000_000.0).abs() < 1.0);
    }
}
