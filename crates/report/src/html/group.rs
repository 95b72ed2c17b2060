//! A crash group (one signature) as template rows: the summary, occurrences bucketed over
//! time, the tests involved, the list of occurrences.

use crate::html::chart::{bar_chart, BarChart};
use crate::html::view::{fact, Fact};
use crate::store::{GroupDetail, Occurrence};
use crate::units::{count, thousands};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Occurrences listed on the page; the count says how many more there were.
const MAX_OCCURRENCES: usize = 500;

/// `2026-11-22 07:06:32 UTC`, from milliseconds since the Unix epoch (a time before the
/// epoch, which no store holds, shows as the epoch on the page).
pub(crate) fn utc(ms: i64) -> String {
    crate::units::format_timestamp_ms(ms.max(0))
}

pub(crate) struct TestRow {
    pub nodeid: String,
    pub count: u64,
}

pub(crate) struct OccurrenceRow {
    pub run_id: i64,
    pub at: String,
    pub host: String,
    pub test: String,
    pub phase: String,
}

pub(crate) struct GroupView {
    /// `SIGSEGV (null-deref) in bbox`.
    pub title: String,
    pub facts: Vec<Fact>,
    pub message: Option<String>,
    pub chart: Option<BarChart>,
    /// `per hour`, `per day`, `per week`.
    pub bucket: &'static str,
    pub tests: Vec<TestRow>,
    pub occurrences: Vec<OccurrenceRow>,
    /// `… and 1,200 older occurrences`, when the list was cut.
    pub more: Option<String>,
}

pub(crate) fn group_view(g: &GroupDetail) -> GroupView {
    let s = &g.summary;
    let culprit = s.culprit_function.clone().unwrap_or_else(|| "??".into());
    let title = format!("{} ({}) in {culprit}", s.signal, s.kind);
    let mut facts = vec![fact("signature", s.signature.clone())];
    let mut add = |label: &'static str, value: String| facts.push(fact(label, value));
    add("kind", format!("{} ({})", s.kind, s.signal));
    add("culprit", culprit);
    if let Some(module) = &s.culprit_module {
        add("module", module.clone());
    }
    if let Some(file) = &s.culprit_file {
        let line = s.culprit_line.map(|l| format!(":{l}")).unwrap_or_default();
        add("source", format!("{file}{line}"));
    }
    add("crashes", thousands(s.count));
    add(
        "frequency",
        format!(
            "crashed in {} of {} since first seen",
            thousands(s.count),
            count(g.runs_since_first_seen, "run", "runs")
        ),
    );
    add("first seen", utc(s.first_seen_ms));
    add("last seen", utc(s.last_seen_ms));
    let (bucket, buckets) = buckets(&g.occurrences);
    let occurrences: Vec<OccurrenceRow> = g
        .occurrences
        .iter()
        .rev()
        .take(MAX_OCCURRENCES)
        .map(|o| OccurrenceRow {
            run_id: o.run_id,
            at: utc(o.at_ms),
            host: o.host.clone().unwrap_or_default(),
            test: o.test.clone().unwrap_or_default(),
            phase: o.phase.clone(),
        })
        .collect();
    let more = (g.occurrences.len() > MAX_OCCURRENCES).then(|| {
        let older = (g.occurrences.len() - MAX_OCCURRENCES) as u64;
        format!("… and {}", count(older, "older occurrence", "older occurrences"))
    });
    GroupView {
        title,
        facts,
        message: s.message.clone(),
        chart: bar_chart(&buckets, bucket),
        bucket,
        tests: tests(&s.tests, &g.occurrences),
        occurrences,
        more,
    }
}

/// The tests that crashed this way with how often: the summary's order (most recent
/// first), then any only the occurrences name.
fn tests(named: &[String], occurrences: &[Occurrence]) -> Vec<TestRow> {
    let mut rows: Vec<TestRow> = named.iter().map(|t| TestRow { nodeid: t.clone(), count: 0 }).collect();
    for test in occurrences.iter().filter_map(|o| o.test.as_ref()) {
        match rows.iter_mut().find(|r| &r.nodeid == test) {
            Some(row) => row.count += 1,
            None => rows.push(TestRow { nodeid: test.clone(), count: 1 }),
        }
    }
    rows
}

/// Occurrences counted per hour (span up to two days), per day (up to ~13 months) or per
/// week, every bucket from the first to the last, labelled by its start.
fn buckets(occurrences: &[Occurrence]) -> (&'static str, Vec<(String, u64)>) {
    let (Some(first), Some(last)) =
        (occurrences.iter().map(|o| o.at_ms).min(), occurrences.iter().map(|o| o.at_ms).max())
    else {
        return ("per day", Vec::new());
    };
    let span = last - first;
    let (what, size) = if span <= 2 * DAY_MS {
        ("per hour", HOUR_MS)
    } else if span <= 400 * DAY_MS {
        ("per day", DAY_MS)
    } else {
        ("per week", 7 * DAY_MS)
    };
    let start = first.div_euclid(size) * size;
    let n = usize::try_from((last - start).div_euclid(size) + 1).unwrap_or(1);
    let mut counts = vec![0u64; n];
    for o in occurrences {
        let i = usize::try_from((o.at_ms - start).div_euclid(size)).unwrap_or(0);
        if let Some(c) = counts.get_mut(i) {
            *c += 1;
        }
    }
    let label = |i: usize| {
        let text = utc(start + i as i64 * size);
        if size == HOUR_MS {
            // `11-22 07:00`
            format!("{}:00", &text[5..13])
        } else {
            text[..10].to_string()
        }
    };
    (what, counts.into_iter().enumerate().map(|(i, c)| (label(i), c)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Occurrence {
        Occurrence { run_id: 1, at_ms: ms, host: None, test: None, phase: "run".into() }
    }

    #[test]
    fn utc_text() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_795_849_592_123), "2026-11-28 07:06:32 UTC");
        assert_eq!(utc(-5), "1970-01-01 00:00:00 UTC");
    }

    #[test]
    fn hours_for_a_short_span_days_for_a_long_one() {
        let (what, b) = buckets(&[at(0), at(HOUR_MS / 2), at(3 * HOUR_MS + 1)]);
        assert_eq!(what, "per hour");
        let counts: Vec<u64> = b.iter().map(|x| x.1).collect();
        assert_eq!(counts, [2, 0, 0, 1]);
        assert_eq!(b[0].0, "01-01 00:00");
        let (what, b) = buckets(&[at(0), at(10 * DAY_MS)]);
        assert_eq!(what, "per day");
        assert_eq!(b.len(), 11);
        assert_eq!(b[10].0, "1970-01-11");
        let (what, _) = buckets(&[at(0), at(500 * DAY_MS)]);
        assert_eq!(what, "per week");
        assert!(buckets(&[]).1.is_empty());
    }
}
