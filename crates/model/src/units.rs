//! Sizes and durations as people type them (`512MiB`, `90s`) and as we print them.
//!
//! The command line and the config files share these parsers, so a value that works in one
//! works in the other. Pure functions, no I/O.

use std::time::Duration;

/// What a size or duration string may look like, for error messages.
const SIZE_FORMS: &str = "a size such as 512MiB, 2GiB, 1G or 100MB, or a number of bytes \
     (K/M/G/T and KiB/MiB/GiB/TiB are powers of 1024; KB/MB/GB/TB are powers of 1000)";
const DURATION_FORMS: &str = "a duration such as 90s, 5m, 1h, 1.5s, 250ms or 1h30m (units: ms, s, m, h, d)";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("invalid size {text:?}: expected {SIZE_FORMS}")]
    Size { text: String },
    #[error("size {text:?} is too large")]
    SizeOverflow { text: String },
    #[error("invalid duration {text:?}: expected {DURATION_FORMS}")]
    Duration { text: String },
    #[error("duration {text:?} has no unit: write {text}s for seconds or {text}ms for milliseconds")]
    DurationUnit { text: String },
    #[error("duration {text:?} is too long")]
    DurationOverflow { text: String },
}

/// Parses `512MiB`, `2GiB`, `1G`, `100MB`, `1.5GiB`, `1048576` (bytes) into bytes.
///
/// Single letters are binary, as in GNU tools and Docker (`1G` is 1024³), because a limit
/// written `4G` is almost always meant as 4 GiB; spelled-out decimal units (`100MB`) are
/// decimal. Case-insensitive; a space before the unit is allowed.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let bad = || UnitError::Size { text: text.to_owned() };
    let (number, unit) = split_number(text.trim()).ok_or_else(bad)?;
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(bad()),
    };
    // Whole numbers stay exact: 2^64-1 bytes would not survive a trip through f64.
    if let Ok(whole) = number.parse::<u64>() {
        return whole.checked_mul(multiplier).ok_or_else(|| UnitError::SizeOverflow { text: text.to_owned() });
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    let bytes = (value * multiplier as f64).round();
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(UnitError::SizeOverflow { text: text.to_owned() });
    }
    Ok(bytes as u64)
}

/// Parses `90s`, `5m`, `1h`, `1.5s`, `250ms`, `2d`, and sums like `1h30m` or `1m 30s`.
///
/// A bare number is refused (except `0`): `--memory-interval 100` could mean seconds or
/// milliseconds, and guessing wrong by a factor of 1000 is worse than asking.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let bad = || UnitError::Duration { text: text.to_owned() };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    if rest.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return match rest.parse::<f64>() {
            Ok(0.0) => Ok(Duration::ZERO),
            Ok(_) => Err(UnitError::DurationUnit { text: rest.to_owned() }),
            Err(_) => Err(bad()),
        };
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let after = after.trim_start();
        let unit_len = after.find(|c: char| !c.is_ascii_alphabetic() && c != 'µ').unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let value: f64 = number.parse().map_err(|_| bad())?;
        let seconds_per_unit = match unit.to_ascii_lowercase().as_str() {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86400.0,
            _ => return Err(bad()),
        };
        total += value * seconds_per_unit;
        rest = after.trim_start();
    }
    Duration::try_from_secs_f64(total).map_err(|_| UnitError::DurationOverflow { text: text.to_owned() })
}

/// Splits `1.5GiB` into (`1.5`, `GiB`); `None` when there is no number in front.
fn split_number(text: &str) -> Option<(&str, &str)> {
    let end = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    if end == 0 {
        return None;
    }
    Some((&text[..end], text[end..].trim_start()))
}

/// `512 MiB`, `1.2 GiB`, `900 B`: binary units, one decimal unless the value is whole.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    // Move up while the value would print as 1024.0 or more after rounding.
    while (value * 10.0).round() >= 10240.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let tenths = (value * 10.0).round();
    if tenths % 10.0 == 0.0 {
        format!("{} {}", tenths / 10.0, UNITS[unit])
    } else {
        format!("{:.1} {}", tenths / 10.0, UNITS[unit])
    }
}

/// `250ms`, `1.5s`, `45s`, `1m 30s`, `2h 5m`: short, and accepted back by `parse_duration`.
pub fn format_duration(duration: Duration) -> String {
    if duration.is_zero() {
        return "0s".to_owned();
    }
    let micros = duration.as_micros();
    if micros < 1000 {
        return format!("{}us", micros.max(1));
    }
    let millis = (duration.as_nanos() + 500_000) / 1_000_000;
    if millis < 1000 {
        return format!("{millis}ms");
    }
    let tenths = (duration.as_nanos() + 50_000_000) / 100_000_000;
    if tenths < 600 {
        return if tenths % 10 == 0 {
            format!("{}s", tenths / 10)
        } else {
            format!("{}.{}s", tenths / 10, tenths % 10)
        };
    }
    let mut seconds = (duration.as_nanos() + 500_000_000) / 1_000_000_000;
    let mut parts = Vec::new();
    for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
        if seconds >= size {
            parts.push(format!("{}{unit}", seconds / size));
            seconds %= size;
        }
    }
    parts.join(" ")
}

/// A time stored as milliseconds since the Unix epoch, as people read it:
/// `2026-11-22 10:41:03 UTC`.
pub fn format_timestamp_ms(ms: i64) -> String {
    let Ok(ms) = u64::try_from(ms) else {
        return format!("{ms} ms");
    };
    let time = std::time::UNIX_EPOCH + Duration::from_millis(ms);
    // RFC 3339 stops at the year 9999: a later time (a corrupt store row) is shown raw.
    let mut text = String::new();
    if std::fmt::Write::write_fmt(&mut text, format_args!("{}", humantime::format_rfc3339_seconds(time))).is_err() {
        return format!("{ms} ms");
    }
    format!("{} UTC", text.trim_end_matches('Z').replacen('T', " ", 1))
}

/// `15900` → `15,900`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 crash`, `0 crashes`, `1,000 threads`: a count with its noun in the right number. Every
/// count a report prints goes through here, so none reads `1 lines`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{} {many}", thousands(n))
    }
}

/// A report's milliseconds as a `Duration`: negative or NaN is zero, too long is the longest.
pub fn duration_from_ms(ms: f64) -> Duration {
    if ms.is_nan() || ms <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(Duration::MAX)
}

// The forms people read in reports (spaced, rounded for reading); the `format_*` forms
// above are the compact ones the options accept back.

/// For reports: `0.42 s`, `1.2 s`, `2 min 03 s`, from milliseconds.
pub fn readable_duration_ms(ms: f64) -> String {
    let s = (ms / 1000.0).max(0.0);
    if s < 1.0 {
        format!("{s:.2} s")
    } else if s < 60.0 {
        format!("{s:.1} s")
    } else {
        let total = s.round() as u64;
        format!("{} min {:02} s", total / 60, total % 60)
    }
}

/// A limit the user set, as they would have written it: `10 s`, `5 min`, `1 h`,
/// `1 min 30 s`; a limit with a fraction of a second reads like any other duration.
pub fn readable_limit_ms(ms: f64) -> String {
    if !(ms.is_finite() && ms >= 1000.0 && ms.fract() == 0.0 && ms % 1000.0 == 0.0) {
        return readable_duration_ms(ms);
    }
    let s = (ms / 1000.0) as u64;
    match (s / 3600, s % 3600 / 60, s % 60) {
        (h, 0, 0) if h > 0 => format!("{h} h"),
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        _ if s % 60 == 0 => format!("{} min", s / 60),
        _ => format!("{} min {:02} s", s / 60, s % 60),
    }
}

/// A memory size the way `--max-memory` takes it: `512 B`, `12 KiB`, `5.2 MiB`, `214 MiB`,
/// `1.1 GiB`.
pub fn readable_size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    const MIB: f64 = KIB * 1024.0;
    const GIB: f64 = MIB * 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} B")
    } else if b < MIB {
        format!("{:.0} KiB", b / KIB)
    } else if b < 10.0 * MIB {
        format!("{:.1} MiB", b / MIB)
    } else if b < GIB {
        format!("{:.0} MiB", b / MIB)
    } else {
        format!("{:.1} GiB", b / GIB)
    }
}

/// Two sizes that must not read the same when they differ (a peak just over its limit):
/// the second in whole MiB when [`size`] would round them alike.
pub fn size_apart(reference: u64, bytes: u64) -> String {
    if readable_size(reference) != readable_size(bytes) || reference == bytes {
        return readable_size(bytes);
    }
    format!("{} ({} MiB)", readable_size(bytes), thousands(bytes.div_ceil(1 << 20)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(15_900), "15,900");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(count(1, "line", "lines"), "1 line");
        assert_eq!(count(0, "line", "lines"), "0 lines");
        assert_eq!(count(1000, "process", "processes"), "1,000 processes");
    }

    #[test]
    fn timestamps() {
        assert_eq!(format_timestamp_ms(1_763_808_063_000), "2025-11-22 10:41:03 UTC");
        assert_eq!(format_timestamp_ms(-5), "-5 ms");
        // Past the year 9999 (found by a property test: it panicked).
        assert_eq!(format_timestamp_ms(253_402_300_800_000), "253402300800000 ms");
        assert_eq!(format_timestamp_ms(i64::MAX), format!("{} ms", i64::MAX));
    }

    #[test]
    fn report_milliseconds_as_durations() {
        assert_eq!(duration_from_ms(1500.0), Duration::from_millis(1500));
        assert_eq!(duration_from_ms(f64::NAN), Duration::ZERO);
        assert_eq!(duration_from_ms(-3.0), Duration::ZERO);
        assert_eq!(duration_from_ms(f64::INFINITY), Duration::MAX);
        assert_eq!(duration_from_ms(1e300), Duration::MAX);
    }

    #[test]
    fn sizes_binary_decimal_and_plain() {
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("100MB"), Ok(100_000_000));
        assert_eq!(parse_size("100mb"), Ok(100_000_000));
        assert_eq!(parse_size("1048576"), Ok(1_048_576));
        assert_eq!(parse_size("10 KiB"), Ok(10_240));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("64b"), Ok(64));
    }

    #[test]
    fn bad_sizes_name_the_accepted_forms() {
        for text in ["", "MiB", "12XB", "-5MiB", "1.2.3G", "ten"] {
            let err = parse_size(text).unwrap_err().to_string();
            assert!(err.contains("512MiB") && err.contains("powers of 1024"), "{text}: {err}");
        }
        assert!(matches!(parse_size("20000000T"), Err(UnitError::SizeOverflow { .. })));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2 MIN"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations() {
        assert!(matches!(parse_duration("90"), Err(UnitError::DurationUnit { .. })));
        assert!(parse_duration("90").unwrap_err().to_string().contains("90s"));
        for text in ["", "s", "5 fortnights", "-5s", "1..5s", "5s garbage"] {
            let err = parse_duration(text).unwrap_err().to_string();
            assert!(err.contains("90s, 5m, 1h"), "{text}: {err}");
        }
        assert!(parse_duration("1e300d").is_err());
        assert!(matches!(parse_duration("1e300s"), Err(UnitError::Duration { .. })));
        assert!(matches!(parse_duration("99999999999999999999999d"), Err(UnitError::DurationOverflow { .. })));
    }

    #[test]
    fn formats_sizes() {
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_size(1023), "1023 B");
        assert_eq!(format_size(1024), "1 KiB");
        assert_eq!(format_size(512 << 20), "512 MiB");
        assert_eq!(format_size(1_288_490_189), "1.2 GiB");
        assert_eq!(format_size((1 << 30) - 1), "1 GiB");
        assert_eq!(format_size(u64::MAX), "16 EiB");
    }

    #[test]
    fn formats_durations_that_parse_back() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_micros(20), "20us"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(10), "10s"),
            (Duration::from_secs(90), "1m 30s"),
            (Duration::from_secs(300), "5m"),
            (Duration::from_secs(3600), "1h"),
            (Duration::from_secs(90061), "1d 1h 1m 1s"),
        ];
        for (duration, text) in cases {
            assert_eq!(format_duration(duration), text);
            assert_eq!(parse_duration(text), Ok(duration), "{text}");
        }
        assert_eq!(format_duration(Duration::from_millis(999_960)), "16m 40s");
        assert_eq!(format_duration(Duration::from_millis(59_960)), "1m");
    }

    #[test]
    fn durations_and_counts() {
        assert_eq!(readable_duration_ms(420.0), "0.42 s");
        assert_eq!(readable_duration_ms(1234.0), "1.2 s");
        assert_eq!(readable_duration_ms(123_000.0), "2 min 03 s");
        assert_eq!(count(1, "crash", "crashes"), "1 crash");
        assert_eq!(count(3, "crash", "crashes"), "3 crashes");
    }

    #[test]
    fn limits_and_sizes() {
        assert_eq!(readable_limit_ms(10_000.0), "10 s");
        assert_eq!(readable_limit_ms(90_000.0), "1 min 30 s");
        assert_eq!(readable_limit_ms(300_000.0), "5 min");
        assert_eq!(readable_limit_ms(3_600_000.0), "1 h");
        assert_eq!(readable_limit_ms(5_400_000.0), "90 min");
        assert_eq!(readable_limit_ms(1500.0), "1.5 s");
        assert_eq!(readable_limit_ms(f64::NAN), "0.00 s");
        assert_eq!(readable_size(512), "512 B");
        assert_eq!(readable_size(12 * 1024), "12 KiB");
        assert_eq!(readable_size(5_452_595), "5.2 MiB");
        assert_eq!(readable_size(214 << 20), "214 MiB");
        assert_eq!(readable_size(1 << 30), "1.0 GiB");
        assert_eq!(readable_size(1_181_116_006), "1.1 GiB");
        assert_eq!(size_apart(1 << 30, (1 << 30) + (3 << 19)), "1.0 GiB (1,026 MiB)");
        assert_eq!(size_apart(1 << 30, 1_181_116_006), "1.1 GiB");
    }
}
