//! Chart geometry for inline SVG: the memory timeline (a line of RSS over time, with the
//! limit and warning thresholds) and a group's occurrences over time (bars per hour or
//! day). Only numbers and our own labels here; the template draws them, escaped.

use crate::units::readable_size;

pub(crate) const WIDTH: f64 = 720.0;
pub(crate) const HEIGHT: f64 = 240.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 40.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 36.0;

/// The plotting area inside the axes, in SVG user units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Plot {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

const PLOT: Plot = Plot { x0: LEFT, y0: TOP, x1: WIDTH - RIGHT, y1: HEIGHT - BOTTOM };

/// An axis label at a position along its axis.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tick {
    pub at: f64,
    pub label: String,
}

/// A horizontal threshold line (`limit 1.0 GiB`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rule {
    pub y: f64,
    pub label: String,
    /// CSS class: `limit` or `warn`.
    pub class: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LineChart {
    pub width: f64,
    pub height: f64,
    pub plot: Plot,
    /// The polyline's `points` attribute: `x,y x,y …`.
    pub points: String,
    /// A lone sample, drawn as a dot (a polyline of one point draws nothing).
    pub dot: Option<(f64, f64)>,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
    pub rules: Vec<Rule>,
    /// What the chart shows, for screen readers.
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bar {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// The tooltip: `2026-11-22: 3 crashes`.
    pub title: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BarChart {
    pub width: f64,
    pub height: f64,
    pub plot: Plot,
    pub bars: Vec<Bar>,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
    pub label: String,
}

/// Rounds to a tenth: enough for SVG, and stable text in snapshots.
fn r(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// The smallest of 1, 2, 5 × 10^k that is at least `raw`.
pub(crate) fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let base = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * base).find(|&s| s >= raw * (1.0 - 1e-9)).unwrap_or(10.0 * base)
}

/// Ticks from 0 to at least `max` in steps of `step`: `(value, position)` pairs. A report
/// with an absurd sample time (1e308 ms) would ask for `usize::MAX` ticks: at most
/// `MAX_TICKS` are made.
fn ticks(max: f64, step: f64) -> Vec<f64> {
    const MAX_TICKS: usize = 20;
    let n = ((max / step).ceil().max(1.0) as usize).min(MAX_TICKS);
    (0..=n).map(|i| i as f64 * step).collect()
}

/// A step for byte values in whole units people read (B, KiB, MiB, GiB).
fn byte_step(max: f64) -> f64 {
    let unit = [1u64 << 30, 1 << 20, 1 << 10, 1].into_iter().map(|u| u as f64).find(|&u| max >= u).unwrap_or(1.0);
    nice_step(max / 5.0 / unit).max(1.0) * unit
}

/// `0 s`, `0.5 s`, `12 s`, `2 min`, `1 min 30 s`.
fn time_label(ms: f64, step_ms: f64) -> String {
    let s = ms / 1000.0;
    if step_ms >= 60_000.0 {
        let total = s.round() as u64;
        return match (total / 60, total % 60) {
            (m, 0) => format!("{m} min"),
            (m, rest) => format!("{m} min {rest} s"),
        };
    }
    if step_ms >= 1000.0 {
        format!("{s:.0} s")
    } else if step_ms >= 100.0 {
        format!("{s:.1} s")
    } else {
        format!("{s:.2} s")
    }
}

/// The memory timeline: tree RSS (`(ms since start, bytes)`) over the run, with the limit
/// and warning thresholds as lines. `None` without samples.
pub(crate) fn memory_chart(samples: &[(f64, u64)], limit: Option<u64>, warn: Option<u64>) -> Option<LineChart> {
    let samples: Vec<(f64, u64)> = samples.iter().copied().filter(|(t, _)| t.is_finite()).collect();
    if samples.is_empty() {
        return None;
    }
    let plot = PLOT;
    let t_end = samples.iter().map(|s| s.0).fold(0.0, f64::max);
    // Whole minutes past two minutes, else 1, 2, 5 × 10^k ms.
    let x_step = if t_end >= 120_000.0 {
        nice_step(t_end / 6.0 / 60_000.0).max(1.0) * 60_000.0
    } else {
        nice_step(t_end.max(1.0) / 6.0)
    };
    let x_max = (t_end / x_step).ceil().max(1.0) * x_step;
    let top = samples.iter().map(|s| s.1).chain(limit).chain(warn).max().unwrap_or(0).max(1) as f64;
    let y_step = byte_step(top);
    let y_max = (top / y_step).ceil().max(1.0) * y_step;
    let x = |t: f64| r(plot.x0 + (t.max(0.0) / x_max) * (plot.x1 - plot.x0));
    let y = |b: f64| r(plot.y1 - (b / y_max) * (plot.y1 - plot.y0));
    let points = samples.iter().map(|&(t, b)| format!("{},{}", x(t), y(b as f64))).collect::<Vec<_>>().join(" ");
    let dot = (samples.len() == 1).then(|| (x(samples[0].0), y(samples[0].1 as f64)));
    let x_ticks = ticks(x_max, x_step).into_iter().map(|t| Tick { at: x(t), label: time_label(t, x_step) }).collect();
    let y_ticks = ticks(y_max, y_step).into_iter().map(|b| Tick { at: y(b), label: readable_size(b as u64) }).collect();
    let mut rules = Vec::new();
    if let Some(limit) = limit {
        rules.push(Rule { y: y(limit as f64), label: format!("limit {}", readable_size(limit)), class: "limit" });
    }
    if let Some(warn) = warn {
        rules.push(Rule { y: y(warn as f64), label: format!("warn {}", readable_size(warn)), class: "warn" });
    }
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(0);
    Some(LineChart {
        width: WIDTH,
        height: HEIGHT,
        plot,
        points,
        dot,
        x_ticks,
        y_ticks,
        rules,
        label: format!(
            "resident memory of the tree over {}, peak {}",
            crate::units::count(samples.len() as u64, "sample", "samples"),
            readable_size(peak)
        ),
    })
}

/// Counts per time bucket as bars: `buckets` is `(label, count)`, oldest first, evenly
/// spaced in time; about six of the labels go on the axis.
pub(crate) fn bar_chart(buckets: &[(String, u64)], what: &str) -> Option<BarChart> {
    if buckets.is_empty() {
        return None;
    }
    let plot = PLOT;
    let top = buckets.iter().map(|b| b.1).max().unwrap_or(0).max(1) as f64;
    let y_step = nice_step(top / 5.0).max(1.0);
    let y_max = (top / y_step).ceil() * y_step;
    let slot = (plot.x1 - plot.x0) / buckets.len() as f64;
    let gap = if slot > 4.0 { slot * 0.15 } else { 0.0 };
    let y = |v: f64| r(plot.y1 - v / y_max * (plot.y1 - plot.y0));
    let bars = buckets
        .iter()
        .enumerate()
        .filter(|(_, (_, n))| *n > 0)
        .map(|(i, (label, n))| Bar {
            x: r(plot.x0 + i as f64 * slot + gap / 2.0),
            y: y(*n as f64),
            w: r((slot - gap).max(0.5)),
            h: r(plot.y1 - y(*n as f64)),
            title: format!("{label}: {}", crate::units::count(*n, "crash", "crashes")),
        })
        .collect();
    let every = buckets.len().div_ceil(6).max(1);
    let x_ticks = buckets
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(i, (label, _))| Tick { at: r(plot.x0 + (i as f64 + 0.5) * slot), label: label.clone() })
        .collect();
    let y_ticks = ticks(y_max, y_step).into_iter().map(|v| Tick { at: y(v), label: group_count(v as u64) }).collect();
    Some(BarChart {
        width: WIDTH,
        height: HEIGHT,
        plot,
        bars,
        x_ticks,
        y_ticks,
        label: format!("crashes {what}, {}", crate::units::count(buckets.len() as u64, "bucket", "buckets")),
    })
}

fn group_count(n: u64) -> String {
    crate::units::thousands(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn absurd_ranges_give_few_ticks() {
        // Found by a property test: this panicked with "capacity overflow".
        assert_eq!(ticks(1.7e308, 1.0).len(), 21);
        assert_eq!(ticks(f64::INFINITY, f64::INFINITY).len(), 2);
        assert_eq!(ticks(10.0, 5.0), vec![0.0, 5.0, 10.0]);
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(1.2), 2.0);
        assert_eq!(nice_step(37.0), 50.0);
        assert_eq!(nice_step(700.0), 1000.0);
        assert_eq!(nice_step(0.0), 1.0);
        assert_eq!(nice_step(f64::NAN), 1.0);
    }

    #[test]
    fn memory_is_scaled_into_the_plot() {
        let c = memory_chart(&[(0.0, 0), (500.0, 50 * MIB), (1000.0, 100 * MIB)], None, None).unwrap();
        // Starts at the bottom-left corner, ends at the top-right of the 100 MiB axis.
        assert_eq!(c.points, format!("{},{} {},{} {},{}", LEFT, PLOT.y1, 376.0, 109.0, PLOT.x1, PLOT.y0));
        assert_eq!(c.dot, None);
        let y: Vec<&str> = c.y_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(y, ["0 B", "20 MiB", "40 MiB", "60 MiB", "80 MiB", "100 MiB"]);
        let x: Vec<&str> = c.x_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(x, ["0.0 s", "0.2 s", "0.4 s", "0.6 s", "0.8 s", "1.0 s"]);
        for t in c.x_ticks.iter().chain(&c.y_ticks) {
            assert!(t.at >= 0.0 && t.at <= WIDTH, "{t:?}");
        }
    }

    #[test]
    fn limit_and_warn_lines_stretch_the_axis() {
        let c = memory_chart(&[(0.0, MIB), (100.0, 2 * MIB)], Some(8 * MIB), Some(4 * MIB)).unwrap();
        assert_eq!(c.rules.len(), 2);
        assert_eq!(c.rules[0].label, "limit 8.0 MiB");
        assert_eq!(c.rules[0].y, PLOT.y0, "the limit is the top of the axis");
        assert_eq!(c.rules[1].class, "warn");
        assert!(c.rules[1].y > c.rules[0].y && c.rules[1].y < PLOT.y1);
    }

    #[test]
    fn an_empty_timeline_has_no_chart() {
        assert_eq!(memory_chart(&[], Some(MIB), None), None);
        assert_eq!(bar_chart(&[], "per day"), None);
    }

    #[test]
    fn one_sample_is_a_dot() {
        let c = memory_chart(&[(0.0, 5 * MIB)], None, None).unwrap();
        assert_eq!(c.dot, Some((LEFT, PLOT.y0)));
        assert_eq!(c.points, format!("{LEFT},{}", PLOT.y0));
        assert!(c.x_ticks.len() >= 2, "a time axis even for one instant");
        let zero = memory_chart(&[(0.0, 0)], None, None).unwrap();
        assert_eq!(zero.dot, Some((LEFT, PLOT.y1)));
    }

    #[test]
    fn long_runs_read_in_minutes() {
        let c = memory_chart(&[(0.0, MIB), (300_000.0, MIB)], None, None).unwrap();
        assert_eq!(c.x_ticks.last().unwrap().label, "5 min");
    }

    #[test]
    fn bars_per_bucket() {
        let buckets: Vec<(String, u64)> = vec![("a".into(), 1), ("b".into(), 0), ("c".into(), 4)];
        let c = bar_chart(&buckets, "per day").unwrap();
        assert_eq!(c.bars.len(), 2, "empty buckets draw nothing");
        assert_eq!(c.bars[1].y, PLOT.y0);
        assert_eq!(c.bars[1].title, "c: 4 crashes");
        assert_eq!(c.bars[0].title, "a: 1 crash");
        let y: Vec<&str> = c.y_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(y, ["0", "1", "2", "3", "4"]);
    }
}
