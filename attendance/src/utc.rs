//! Wall-clock times as ISO 8601 UTC text and milliseconds since 1970, the form the
//! database keeps them in so that both backends compare and order them as integers.
//!
//! Small on purpose: events carry `YYYY-MM-DDTHH:MM:SS.mmmZ` and people type
//! `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM`, so that is what is read; no time-zone database.

/// Parses `YYYY-MM-DD`, optionally followed by `T` (or a space) and `HH:MM`, `HH:MM:SS`
/// or `HH:MM:SS.fff…`, and then optionally `Z` or an offset `±HH:MM` / `±HHMM`.
/// Without an offset the time is taken as UTC.
pub fn parse(text: &str) -> Result<i64, String> {
    let bad = || format!("'{text}' is not an ISO 8601 time (e.g. 2026-12-03T12:00:06Z)");
    let t = text.trim();
    // `get`, not slicing: text that is not ASCII must be an error, not a panic.
    let (Some(date), Some(rest)) = (t.get(..10), t.get(10..)) else {
        return Err(bad());
    };
    let date: Vec<&str> = date.split('-').collect();
    let [y, m, d] = date[..] else { return Err(bad()) };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (year, month, day) = (
        num(y).ok_or_else(bad)?,
        num(m).ok_or_else(bad)?,
        num(d).ok_or_else(bad)?,
    );
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(bad());
    }
    let mut millis = days_from_civil(year, month, day) * 86_400_000;
    let Some(rest) = rest.strip_prefix(['T', 't', ' ']) else {
        return if rest.is_empty() { Ok(millis) } else { Err(bad()) };
    };
    // The clock part ends where the offset begins.
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(zone_at);
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let parts: Vec<&str> = hms.split(':').collect();
    let (h, mi, s) = match parts[..] {
        [h, mi] => (h, mi, "00"),
        [h, mi, s] => (h, mi, s),
        _ => return Err(bad()),
    };
    if [h, mi, s].iter().any(|p| p.len() != 2) {
        return Err(bad());
    }
    let (h, mi, s) = (
        num(h).ok_or_else(bad)?,
        num(mi).ok_or_else(bad)?,
        num(s).ok_or_else(bad)?,
    );
    // 60: a leap second, as ISO 8601 allows; it counts as the next second's start.
    if h > 23 || mi > 59 || s > 60 {
        return Err(bad());
    }
    millis += ((h * 60 + mi) * 60 + s) * 1000;
    if !fraction.is_empty() {
        if !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        // Milliseconds: the first three digits, padded; finer digits are dropped.
        let ms: String = fraction.chars().chain("000".chars()).take(3).collect();
        millis += num(&ms).ok_or_else(bad)?;
    }
    let offset = match zone {
        "" | "Z" | "z" => 0,
        z => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let digits = z[1..].replace(':', "");
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let (oh, om) = (num(&digits[..2]).ok_or_else(bad)?, num(&digits[2..]).ok_or_else(bad)?);
            if oh > 23 || om > 59 {
                return Err(bad());
            }
            sign * (oh * 60 + om) * 60_000
        }
    };
    Ok(millis - offset)
}

/// Milliseconds since 1970 as `2026-12-03T12:00:06.123Z`, as facejson writes them.
pub fn format(millis: i64) -> String {
    let days = millis.div_euclid(86_400_000);
    let ms_of_day = millis.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let (s, ms) = (ms_of_day / 1000, ms_of_day % 1000);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Days since 1970-01-01 to and from a proleptic Gregorian date: the era arithmetic of
// Howard Hinnant's `days_from_civil` / `civil_from_days`, exact for any year.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_facejson_writes_and_writes_it_back() {
        let t = "2026-12-03T12:00:06.123Z";
        let ms = parse(t).expect("parses");
        assert_eq!(format(ms), t);
        assert_eq!(parse("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(format(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            parse("2000-02-29T23:59:59.999Z").map(format).as_deref(),
            Ok("2000-02-29T23:59:59.999Z")
        );
    }

    #[test]
    fn reads_what_people_type() {
        let noon = parse("2026-12-03T12:00:00Z").expect("parses");
        assert_eq!(parse("2026-12-03"), Ok(noon - 12 * 3_600_000));
        assert_eq!(parse("2026-12-03 12:00"), Ok(noon));
        assert_eq!(parse("2026-12-03T13:00:00+01:00"), Ok(noon));
        assert_eq!(parse("2026-12-03T07:30-0430"), Ok(noon));
        assert_eq!(parse("2026-12-03T12:00:00.5"), Ok(noon + 500));
        assert_eq!(parse("2026-12-03T12:00:00.123456Z"), Ok(noon + 123));
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-02-29",
            "2026-12-3",
            "2026-12-03T25:00",
            "2026-12-03T12",
            "2026-12-03T12:00:00+1",
            "2026-12-03T12:00:00.x",
            "2026-12-03X",
            "+2026-12-03",
            "2026-12-03T12:00+1é",
            "é",
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.contains("ISO 8601"), "{e}");
        }
    }
}
