//! Timestamps and LiteLLM's duration strings (`30s`, `30m`, `30h`, `30d`,
//! `2w`, `1mo`), used for key expiry and budget windows.

use chrono::{DateTime, Months, SecondsFormat, SubsecRound, Utc};

/// A point in time, UTC.
pub type Timestamp = DateTime<Utc>;

/// Now, to the microsecond (what the database keeps, so records read back equal).
pub fn now() -> Timestamp {
    Utc::now().trunc_subsecs(6)
}

/// A system time as a [`Timestamp`], to the microsecond.
pub fn from_system(t: std::time::SystemTime) -> Timestamp {
    DateTime::<Utc>::from(t).trunc_subsecs(6)
}

/// When a budget window starting `now` ends, aligned as LiteLLM aligns it
/// (UTC, resets at midnight): `Ns`/`Nm`/`Nh` at the next multiple of N
/// within the day, else at midnight (`30m` at 11:11 ends 11:30); `1d` at the next midnight;
/// `7d` (`1w`) at the next Monday's midnight; `30d` and `1mo` on the 1st of
/// next month; other `Nd` (and `Nw`) N days after today's midnight; other
/// month counts N months after the 1st of this month.
pub fn next_reset(now: &Timestamp, span: Span) -> Timestamp {
    use chrono::{Datelike, Duration, NaiveTime, Timelike};
    let midnight = now.date_naive().and_time(NaiveTime::MIN).and_utc();
    let first_of_month = |months: u32| {
        let first = now.date_naive().with_day(1).unwrap_or(now.date_naive()).and_time(NaiveTime::MIN).and_utc();
        first.checked_add_months(Months::new(months)).unwrap_or(first)
    };
    match span {
        Span::Months(m) => first_of_month(m.max(1)),
        Span::Seconds(s) if s == 30 * 86_400 => first_of_month(1),
        Span::Seconds(s) if s == 7 * 86_400 => {
            let days_to_monday = 7 - i64::from(now.weekday().num_days_from_monday());
            midnight + Duration::days(days_to_monday)
        }
        Span::Seconds(s) if s % 86_400 == 0 => midnight + Duration::days(s / 86_400),
        Span::Seconds(s) => {
            // A multiple of the unit within the day: seconds, minutes or hours.
            let unit = if s % 3600 == 0 {
                3600
            } else if s % 60 == 0 {
                60
            } else {
                1
            };
            let n = s / unit;
            let into_day = i64::from(now.num_seconds_from_midnight()) / unit;
            let next = (into_day / n + 1) * n * unit;
            // Past the end of the day: the next midnight.
            midnight + Duration::seconds(next.min(86_400))
        }
    }
}

/// The stored form: RFC 3339 UTC with microseconds, fixed width, so
/// timestamps order correctly as text in either database.
pub fn to_db(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Reads the stored form (or any RFC 3339 text).
pub fn from_db(text: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// The UTC day of a timestamp, `YYYY-MM-DD`.
pub fn day(t: &Timestamp) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// A LiteLLM duration: a count and a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// Seconds.
    Seconds(i64),
    /// Calendar months (`mo`).
    Months(u32),
}

/// Parses `30s`, `30m`, `30h`, `30d`, `2w` or `1mo` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Span, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("'{text}' is not a duration: expected a number and a unit such as 30s, 30m, 30h, 30d, 2w or 1mo"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        "w" => n * 7 * 86_400,
        "mo" => return u32::try_from(n).map(Span::Months).map_err(|_| format!("'{text}': too many months")),
        other => return Err(format!("'{text}' has an unknown unit '{other}': use s, m, h, d, w or mo")),
    };
    if n <= 0 {
        return Err(format!("'{text}' must be positive"));
    }
    Ok(Span::Seconds(secs))
}

/// `from` plus a duration.
pub fn add(from: &Timestamp, span: Span) -> Timestamp {
    match span {
        Span::Seconds(s) => *from + chrono::Duration::seconds(s),
        Span::Months(m) => from.checked_add_months(Months::new(m)).unwrap_or(*from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Span::Seconds(30)));
        assert_eq!(parse_duration("30m"), Ok(Span::Seconds(1800)));
        assert_eq!(parse_duration("2h"), Ok(Span::Seconds(7200)));
        assert_eq!(parse_duration("30d"), Ok(Span::Seconds(30 * 86_400)));
        assert_eq!(parse_duration("1w"), Ok(Span::Seconds(7 * 86_400)));
        assert_eq!(parse_duration("1mo"), Ok(Span::Months(1)));
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("0d").is_err());
        let at = |s: &str| from_db(s).expect("parses");
        // LiteLLM's aligned windows.
        let now = at("2026-11-18T11:11:07Z"); // a Wednesday
        assert_eq!(to_db(&next_reset(&now, Span::Seconds(1800))), "2026-11-18T11:30:00.000000Z");
        assert_eq!(to_db(&next_reset(&now, Span::Seconds(3600))), "2026-11-18T12:00:00.000000Z");
        assert_eq!(to_db(&next_reset(&now, Span::Seconds(30))), "2026-11-18T11:11:30.000000Z");
        assert_eq!(to_db(&next_reset(&now, Span::Seconds(86_400))), "2026-11-19T00:00:00.000000Z");
        assert_eq!(to_db(&next_reset(&now, Span::Seconds(7 * 86_400))), "2026-11-23T00:00:00.000000Z");
        assert_eq!(to_db(&next_reset(&now, Span::Seconds(30 * 86_400))), "2026-12-01T00:00:00.000000Z");
        assert_eq!(to_db(&next_reset(&now, Span::Months(1))), "2026-12-01T00:00:00.000000Z");
        assert_eq!(to_db(&next_reset(&now, Span::Seconds(10 * 86_400))), "2026-11-28T00:00:00.000000Z");
        assert!(next_reset(&now, Span::Seconds(2)) > now);
        let t = from_db("2026-01-31T00:00:00Z").expect("parses");
        assert_eq!(to_db(&add(&t, Span::Months(1))), "2026-02-28T00:00:00.000000Z");
        assert_eq!(day(&t), "2026-01-31");
    }
}
