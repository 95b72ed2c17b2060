//! The leak trend: a least-squares line through the timeline, and the rule (see the module
//! documentation of `memwatch`) that calls it `growing` or `flat`. Pure.

use crate::model::{MemoryTrend, TrendVerdict};

const MIB: f64 = 1024.0 * 1024.0;
/// Start-up left out of the fit: this much time, or `STARTUP_FRACTION` of the run if less.
const STARTUP_MS: f64 = 1000.0;
const STARTUP_FRACTION: f64 = 0.1;
/// Tear-down left out: interpreter finalization frees what the program held, so the last
/// sample of a leaking program often shows the drop. This much, or 5 % of the run if less.
const TEARDOWN_MS: f64 = 500.0;
const TEARDOWN_FRACTION: f64 = 0.05;
/// Below this many samples in the window there is no line worth reporting.
const MIN_FIT_SAMPLES: usize = 3;
const MIN_GROWING_SAMPLES: usize = 10;
const MIN_R2: f64 = 0.9;
const MIN_RISE: f64 = 8.0 * MIB;
const FAST_RATE: f64 = 1.0 * MIB;
const SLOW_LEAK_RISE: f64 = 64.0 * MIB;
const SLOW_LEAK_FRACTION: f64 = 0.25;
/// Each quarter's mean must beat the previous one by this share of the line's prediction.
const QUARTER_STEP_FRACTION: f64 = 0.25;

/// The least-squares line `bytes = a + b·t` (t in seconds from the window's start).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Fit {
    a: f64,
    b: f64,
    r2: f64,
}

/// Whether memory grows steadily over `samples` (`[ms since start, bytes]`, in time order).
/// `None` with fewer than 3 samples between start-up and tear-down; see the module
/// documentation.
pub fn trend(samples: &[(f64, u64)]) -> Option<MemoryTrend> {
    let (&(first_ms, _), &(last_ms, _)) = (samples.first()?, samples.last()?);
    let run_ms = last_ms - first_ms;
    let from = first_ms + STARTUP_MS.min(STARTUP_FRACTION * run_ms);
    let to = last_ms - TEARDOWN_MS.min(TEARDOWN_FRACTION * run_ms);
    let window: Vec<(f64, f64)> =
        samples.iter().filter(|(ms, _)| (from..=to).contains(ms)).map(|&(ms, bytes)| (ms, bytes as f64)).collect();
    if window.len() < MIN_FIT_SAMPLES {
        return None;
    }
    let start_ms = window[0].0;
    let points: Vec<(f64, f64)> = window.iter().map(|&(ms, y)| ((ms - start_ms) / 1000.0, y)).collect();
    let fit = fit_line(&points)?;
    let span = points[points.len() - 1].0;
    let rise = fit.b * span;
    let growing = points.len() >= MIN_GROWING_SAMPLES
        && fit.b > 0.0
        && fit.r2 >= MIN_R2
        && rise >= MIN_RISE
        && (fit.b >= FAST_RATE || (rise >= SLOW_LEAK_RISE && rise >= SLOW_LEAK_FRACTION * fit.a))
        && quarters_rise(&points, span, fit.b);
    Some(MemoryTrend {
        verdict: if growing { TrendVerdict::Growing } else { TrendVerdict::Flat },
        bytes_per_s: fit.b,
        r2: fit.r2,
        samples: points.len(),
    })
}

fn fit_line(points: &[(f64, f64)]) -> Option<Fit> {
    let n = points.len() as f64;
    let mean_t = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut stt, mut sty, mut syy) = (0.0, 0.0, 0.0);
    for &(t, y) in points {
        let (dt, dy) = (t - mean_t, y - mean_y);
        stt += dt * dt;
        sty += dt * dy;
        syy += dy * dy;
    }
    if stt <= 0.0 || !stt.is_finite() {
        return None;
    }
    let b = sty / stt;
    let a = mean_y - b * mean_t;
    // A constant timeline is fitted exactly by the flat line.
    let r2 = if syy > 0.0 { (sty * sty / (stt * syy)).clamp(0.0, 1.0) } else { 1.0 };
    Some(Fit { a, b, r2 })
}

/// Whether each quarter of the window (by time) is clearly above the one before it.
fn quarters_rise(points: &[(f64, f64)], span: f64, slope: f64) -> bool {
    let mut sums = [(0.0f64, 0usize); 4];
    for &(t, y) in points {
        let quarter = ((t / span * 4.0) as usize).min(3);
        sums[quarter].0 += y;
        sums[quarter].1 += 1;
    }
    if sums.iter().any(|&(_, count)| count == 0) {
        return false;
    }
    let means: Vec<f64> = sums.iter().map(|&(sum, count)| sum / count as f64).collect();
    let expected_step = slope * span / 4.0;
    means.windows(2).all(|pair| pair[1] - pair[0] >= QUARTER_STEP_FRACTION * expected_step)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    /// Samples every `step_ms` from 0 to `end_ms`, bytes given by `f(ms)`.
    fn timeline(end_ms: f64, step_ms: f64, f: impl Fn(f64) -> f64) -> Vec<(f64, u64)> {
        let mut out = Vec::new();
        let mut ms = 0.0;
        while ms <= end_ms + 1e-9 {
            out.push((ms, f(ms) as u64));
            ms += step_ms;
        }
        out
    }

    /// Deterministic jitter of ±`amp` bytes, so no test relies on a perfectly clean line.
    fn noise(ms: f64, amp: f64) -> f64 {
        let x = (ms * 12.9898).sin() * 43758.5453;
        (x - x.floor() - 0.5) * 2.0 * amp
    }

    #[test]
    fn leak_per_cycle_is_growing() {
        // 13 MiB for start-up, then ~1 MiB per 11.5 ms cycle up to 214 MiB at 2.4 s, exit.
        let samples = timeline(2400.0, 100.0, |ms| {
            let mib = if ms < 100.0 { 13.0 } else { 13.0 + (ms - 100.0) / 2300.0 * 201.0 };
            mib * MIB as f64 + noise(ms, 300_000.0)
        });
        let t = trend(&samples).expect("enough samples");
        assert_eq!(t.verdict, TrendVerdict::Growing, "{t:?}");
        assert!(t.r2 > 0.99, "{t:?}");
        assert!((t.bytes_per_s / MIB as f64 - 87.4).abs() < 5.0, "{t:?}");
    }

    #[test]
    fn a_leak_freed_at_tear_down_is_still_growing() {
        // Python frees the leaked objects while finalizing: the last sample shows the drop.
        let mut samples = timeline(2400.0, 100.0, |ms| (13.0 + ms / 2400.0 * 200.0) * MIB as f64);
        samples.push((2450.0, 13 * MIB));
        let t = trend(&samples).expect("enough samples");
        assert_eq!(t.verdict, TrendVerdict::Growing, "{t:?}");
    }

    #[test]
    fn one_allocation_at_start_then_work_is_flat() {
        let samples = timeline(2300.0, 100.0, |ms| {
            let mib = if ms < 300.0 { 12.0 } else { 212.0 };
            mib * MIB as f64 + noise(ms, 500_000.0)
        });
        let t = trend(&samples).expect("enough samples");
        assert_eq!(t.verdict, TrendVerdict::Flat, "{t:?}");
    }

    #[test]
    fn a_step_in_the_middle_is_flat() {
        let samples = timeline(3000.0, 100.0, |ms| if ms < 1500.0 { 50.0 } else { 250.0 } * MIB as f64);
        let t = trend(&samples).expect("enough samples");
        assert_eq!(t.verdict, TrendVerdict::Flat, "{t:?}");
        assert!(t.r2 <= 0.76, "a single step cannot fit a line well: {t:?}");
    }

    #[test]
    fn a_ramp_that_then_plateaus_is_flat() {
        // Grows for the first half (loading a data set), then holds.
        let samples = timeline(4000.0, 100.0, |ms| (20.0 + 200.0 * (ms / 2000.0).min(1.0)) * MIB as f64);
        let t = trend(&samples).expect("enough samples");
        assert_eq!(t.verdict, TrendVerdict::Flat, "{t:?}");
    }

    #[test]
    fn steady_memory_with_noise_is_flat() {
        let samples = timeline(10_000.0, 100.0, |ms| 80.0 * MIB as f64 + noise(ms, 2.0 * MIB as f64));
        assert_eq!(trend(&samples).expect("enough samples").verdict, TrendVerdict::Flat);
        let constant = timeline(2000.0, 100.0, |_| 30.0 * MIB as f64);
        let t = trend(&constant).expect("enough samples");
        assert_eq!((t.verdict, t.bytes_per_s, t.r2), (TrendVerdict::Flat, 0.0, 1.0));
    }

    #[test]
    fn slow_growth_that_stays_small_is_flat() {
        // 0.5 MiB/s for 6 s: 3 MiB, within allocator noise.
        let samples = timeline(6000.0, 100.0, |ms| (40.0 + 0.5 * ms / 1000.0) * MIB as f64);
        assert_eq!(trend(&samples).expect("enough samples").verdict, TrendVerdict::Flat);
    }

    #[test]
    fn slow_leak_over_an_hour_is_growing() {
        // 100 KiB/s for an hour (+352 MiB on 100 MiB), as a thinned timeline (one point per 6 s).
        let samples = timeline(3_600_000.0, 6000.0, |ms| {
            100.0 * MIB as f64 + 100.0 * 1024.0 * ms / 1000.0 + noise(ms, 4.0 * MIB as f64)
        });
        let t = trend(&samples).expect("enough samples");
        assert_eq!(t.verdict, TrendVerdict::Growing, "{t:?}");
        assert!(t.bytes_per_s < 1024.0 * 1024.0);
    }

    #[test]
    fn few_samples_give_flat_and_none_gives_none() {
        let five = timeline(400.0, 100.0, |ms| (10.0 + ms) * MIB as f64);
        let t = trend(&five).expect("a line through 3 samples");
        assert_eq!((t.verdict, t.samples), (TrendVerdict::Flat, 3));
        assert_eq!(trend(&[(0.0, 1), (100.0, 2)]), None);
        assert_eq!(trend(&[]), None);
        assert_eq!(trend(&[(5.0, 1), (5.0, 2), (5.0, 3)]), None);
    }

    #[test]
    fn start_up_is_left_out() {
        // A burst of imports in the first 200 ms of a 2 s run, then a plateau. 10% = 200 ms.
        let samples = timeline(2000.0, 50.0, |ms| if ms < 200.0 { 10.0 + ms } else { 400.0 } * MIB as f64);
        let t = trend(&samples).expect("enough samples");
        // 10 % = 200 ms of start-up and 5 % = 100 ms of tear-down left out.
        assert_eq!((t.verdict, t.samples), (TrendVerdict::Flat, 35));
        assert!(t.bytes_per_s.abs() < 1.0);
    }
}
