//! Datetime parsing and formatting the way Launchpad does it.
//!
//! Launchpad writes Python `isoformat()` (microseconds only when non-zero) and reads
//! `created_since_date` with zope.datetime, which accepts several spellings but rejects any
//! offset other than UTC. Debian changelogs use RFC 2822 dates. The simulator needs all
//! three, and keeping them here keeps the HTTP code free of string fiddling.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Formats like Python's `datetime.isoformat()` for a UTC datetime.
pub(crate) fn isoformat(t: DateTime<Utc>) -> String {
    let micros = t.timestamp_subsec_micros();
    if micros == 0 {
        t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        format!("{}.{micros:06}+00:00", t.format("%Y-%m-%dT%H:%M:%S"))
    }
}

/// Why a `created_since_date` was refused; the text is Launchpad's.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DateParamError {
    NotUtc,
    Unparseable,
}

/// Parses a datetime parameter as Launchpad accepts it: `2025-10-01T00:00:00Z`,
/// `…+00:00`, `2025-10-01 00:00:00+00:00`, `…+0000`, a bare `2025-10-01`, with or without
/// microseconds. A naive time is taken as UTC; any other offset is refused.
pub(crate) fn parse_datetime_param(value: &str) -> Result<DateTime<Utc>, DateParamError> {
    let value = value.trim();
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(date
            .and_hms_opt(0, 0, 0)
            .ok_or(DateParamError::Unparseable)?
            .and_utc());
    }
    let mut text = value.to_owned();
    if text.len() > 10 && text.as_bytes()[10] == b' ' {
        text.replace_range(10..11, "T");
    }
    let (naive_part, offset_minutes) = split_offset(&text)?;
    if offset_minutes != 0 {
        return Err(DateParamError::NotUtc);
    }
    let naive = NaiveDateTime::parse_from_str(naive_part, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(naive_part, "%Y-%m-%dT%H:%M"))
        .map_err(|_| DateParamError::Unparseable)?;
    Ok(naive.and_utc())
}

/// Parses a date given to lp-sim (a manifest's `published`, a control request's
/// `date_created`): RFC 3339 with any offset, or Launchpad's parameter spellings.
pub(crate) fn parse_any_date(value: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    parse_datetime_param(value).map_err(|_| format!("bad date {value:?}"))
}

/// Splits `…Z`, `…+HH:MM`, `…-HHMM` into the naive part and the offset in minutes.
fn split_offset(text: &str) -> Result<(&str, i32), DateParamError> {
    if let Some(naive) = text.strip_suffix('Z').or_else(|| text.strip_suffix('z')) {
        return Ok((naive, 0));
    }
    // Look for a sign after the time part (position > 10 skips the date's dashes).
    let Some(sign_at) = text
        .char_indices()
        .skip(11)
        .find(|(_, c)| *c == '+' || *c == '-')
        .map(|(i, _)| i)
    else {
        return Ok((text, 0));
    };
    let (naive, offset) = text.split_at(sign_at);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(DateParamError::Unparseable);
    }
    let hours: i32 = digits[..2]
        .parse()
        .map_err(|_| DateParamError::Unparseable)?;
    let minutes: i32 = digits[2..]
        .parse()
        .map_err(|_| DateParamError::Unparseable)?;
    Ok((naive, sign * (hours * 60 + minutes)))
}

/// Parses a Debian changelog trailer date (RFC 2822, e.g. `Mon, 19 Dec 2022 12:34:56 +0100`).
pub(crate) fn parse_changelog_date(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    DateTime::parse_from_rfc2822(value)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Formats a changelog trailer date (`Mon, 01 Jan 2024 00:00:00 +0000`).
pub(crate) fn changelog_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn isoformat_omits_zero_fraction() {
        let t = Utc.with_ymd_and_hms(2025, 10, 1, 0, 0, 0).unwrap();
        assert_eq!(isoformat(t), "2025-10-01T00:00:00+00:00");
        let t = t + chrono::Duration::microseconds(418205);
        assert_eq!(isoformat(t), "2025-10-01T00:00:00.418205+00:00");
    }

    #[test]
    fn launchpad_date_spellings() {
        let midnight = Utc.with_ymd_and_hms(2025, 10, 1, 0, 0, 0).unwrap();
        for ok in [
            "2025-10-01T00:00:00Z",
            "2025-10-01T00:00:00+00:00",
            "2025-10-01 00:00:00+00:00",
            "2025-10-01T00:00:00+0000",
            "2025-10-01",
            "2025-10-01T00:00:00",
            "2025-10-01T00:00:00.000000+00:00",
            "2025-10-01T00:00:00-00:00",
        ] {
            assert_eq!(parse_datetime_param(ok), Ok(midnight), "{ok}");
        }
        assert_eq!(
            parse_datetime_param("2025-10-01T00:00:00.5+00:00"),
            Ok(midnight + chrono::Duration::milliseconds(500))
        );
        assert_eq!(
            parse_datetime_param("2025-10-01T02:00:00+02:00"),
            Err(DateParamError::NotUtc)
        );
        assert_eq!(
            parse_datetime_param("yesterday"),
            Err(DateParamError::Unparseable)
        );
    }

    #[test]
    fn changelog_dates() {
        let t = parse_changelog_date("Mon, 19 Dec 2022 12:34:56 +0100").unwrap();
        assert_eq!(t, Utc.with_ymd_and_hms(2022, 12, 19, 11, 34, 56).unwrap());
        assert_eq!(changelog_date(t), "Mon, 19 Dec 2022 11:34:56 +0000");
        assert_eq!(parse_changelog_date("not a date"), None);
    }
}
