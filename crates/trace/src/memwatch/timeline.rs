//! The recorded timeline: every sample until it holds `max` points, then every other one
//! is dropped and only every second sample is recorded from then on (the stride doubles).
//! A run of any length keeps between max/2 and max evenly strided points.

pub(crate) const MAX_POINTS: usize = 600;

#[derive(Debug, Clone)]
pub(crate) struct Timeline {
    points: Vec<(f64, u64)>,
    max: usize,
    /// Record one sample in `stride`.
    stride: u64,
    /// Samples offered so far.
    seen: u64,
    last: Option<(f64, u64)>,
}

impl Timeline {
    pub(crate) fn new() -> Timeline {
        Timeline::with_max(MAX_POINTS)
    }

    pub(crate) fn with_max(max: usize) -> Timeline {
        let max = max.max(2);
        Timeline { points: Vec::with_capacity(max), max, stride: 1, seen: 0, last: None }
    }

    pub(crate) fn push(&mut self, ms: f64, bytes: u64) {
        if self.seen % self.stride == 0 {
            if self.points.len() >= self.max {
                self.thin();
            }
            // After thinning the stride doubled: this sample may now fall between points.
            if self.seen % self.stride == 0 {
                self.points.push((ms, bytes));
            }
        }
        self.seen += 1;
        self.last = Some((ms, bytes));
    }

    fn thin(&mut self) {
        let mut index = 0;
        self.points.retain(|_| {
            index += 1;
            index % 2 == 1
        });
        self.stride = self.stride.saturating_mul(2);
    }

    pub(crate) fn points(&self) -> &[(f64, u64)] {
        &self.points
    }

    /// The recorded points, ending with the last sample even when the stride skipped it:
    /// the final state of the run belongs in the picture.
    pub(crate) fn finish(mut self) -> Vec<(f64, u64)> {
        if let Some(last) = self.last {
            if self.points.last() != Some(&last) {
                self.points.push(last);
            }
        }
        self.points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_every_sample_until_full() {
        let mut t = Timeline::with_max(8);
        for i in 0..8 {
            t.push(i as f64 * 100.0, i);
        }
        assert_eq!(t.points().len(), 8);
        assert_eq!(t.finish().len(), 8);
    }

    #[test]
    fn thins_by_halving_and_stays_evenly_strided() {
        let mut t = Timeline::with_max(8);
        for i in 0..100u64 {
            t.push(i as f64 * 100.0, i);
        }
        // Stride 16 after three thinnings: samples 0, 16, ..., 96.
        let kept: Vec<u64> = t.points().iter().map(|p| p.1).collect();
        assert_eq!(kept, [0, 16, 32, 48, 64, 80, 96]);
        // The last sample (99) closes the timeline.
        let finished: Vec<u64> = t.finish().iter().map(|p| p.1).collect();
        assert_eq!(finished, [0, 16, 32, 48, 64, 80, 96, 99]);
    }

    #[test]
    fn an_hour_at_ten_hertz_stays_small() {
        let mut t = Timeline::new();
        for i in 0..36_000u64 {
            t.push(i as f64 * 100.0, i);
        }
        let n = t.points().len();
        assert!((MAX_POINTS / 2..=MAX_POINTS).contains(&n), "{n}");
        let points = t.finish();
        assert!(points.len() <= MAX_POINTS + 1);
        assert_eq!(points.last(), Some(&(3_599_900.0, 35_999)));
        assert!(points.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
