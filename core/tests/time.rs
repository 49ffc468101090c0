//! Integration tests for `mentorflow::time`.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use mentorflow::time::*;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("valid UTC instant")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
}

fn span(s: &str) -> Span {
    s.parse()
        .unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

fn span_err(s: &str) -> SpanError {
    match s.parse::<Span>() {
        Ok(v) => panic!("{s:?} should be rejected, got {v:?}"),
        Err(e) => e,
    }
}

fn paris() -> BusinessCalendar {
    BusinessCalendar::new(chrono_tz::Europe::Paris)
}

fn new_york() -> BusinessCalendar {
    BusinessCalendar::new(chrono_tz::America::New_York)
}

const MAX: DateTime<Utc> = DateTime::<Utc>::MAX_UTC;
const MIN: DateTime<Utc> = DateTime::<Utc>::MIN_UTC;

// ---------------------------------------------------------------------------
// Span parsing
// ---------------------------------------------------------------------------

#[test]
fn parses_compact_fixed_forms() {
    assert_eq!(span("24h"), Span::Fixed(24 * 3600));
    assert_eq!(span("48h"), Span::Fixed(48 * 3600));
    assert_eq!(span("30m"), Span::Fixed(30 * 60));
    assert_eq!(span("45s"), Span::Fixed(45));
    assert_eq!(span("1h30m"), Span::Fixed(5400));
    assert_eq!(span("1h 30m 15s"), Span::Fixed(5415));
    assert_eq!(span("2hr"), Span::Fixed(7200));
}

#[test]
fn parses_worded_fixed_forms() {
    assert_eq!(span("90 minutes"), Span::Fixed(5400));
    assert_eq!(span("1 minute"), Span::Fixed(60));
    assert_eq!(span("5 mins"), Span::Fixed(300));
    assert_eq!(span("10 min"), Span::Fixed(600));
    assert_eq!(span("1 hour"), Span::Fixed(3600));
    assert_eq!(span("3 hours"), Span::Fixed(3 * 3600));
    assert_eq!(span("3 hrs"), Span::Fixed(3 * 3600));
    assert_eq!(span("45 seconds"), Span::Fixed(45));
    assert_eq!(span("1 second"), Span::Fixed(1));
    assert_eq!(span("10 sec"), Span::Fixed(10));
    assert_eq!(span("20 secs"), Span::Fixed(20));
    assert_eq!(span("2 hours 30 minutes"), Span::Fixed(9000));
}

#[test]
fn parses_calendar_forms() {
    assert_eq!(span("1 day"), Span::Days(1));
    assert_eq!(span("2 days"), Span::Days(2));
    assert_eq!(span("3d"), Span::Days(3));
    assert_eq!(span("1 week"), Span::Days(7));
    assert_eq!(span("2 weeks"), Span::Days(14));
    assert_eq!(span("2w"), Span::Days(14));
    assert_eq!(span("1 business day"), Span::BusinessDays(1));
    assert_eq!(span("5 business days"), Span::BusinessDays(5));
    assert_eq!(span("5 business-days"), Span::BusinessDays(5));
    assert_eq!(span("1 month"), Span::Months(1));
    assert_eq!(span("3 months"), Span::Months(3));
    assert_eq!(span("2mo"), Span::Months(2));
    assert_eq!(span("1 quarter"), Span::Months(3));
    assert_eq!(span("2 quarters"), Span::Months(6));
    assert_eq!(span("1 year"), Span::Months(12));
    assert_eq!(span("2 years"), Span::Months(24));
}

#[test]
fn parsing_is_case_insensitive_and_trims() {
    assert_eq!(span("  5 Business Days\n"), Span::BusinessDays(5));
    assert_eq!(span("24H"), Span::Fixed(86400));
    assert_eq!(span("\t1 WEEK "), Span::Days(7));
    assert_eq!(span("1 Month"), Span::Months(1));
    assert_eq!(span("30   minutes"), Span::Fixed(1800));
}

#[test]
fn rejects_zero() {
    for text in ["0h", "0 days", "0 business days", "0 months", "0h0m", "00s"] {
        let e = span_err(text);
        assert_eq!(e.text, text);
        assert!(
            e.message.contains("greater than zero"),
            "{text}: {}",
            e.message
        );
    }
}

#[test]
fn rejects_negative() {
    for text in ["-5m", "-1 day", " -3 business days"] {
        let e = span_err(text);
        assert!(e.message.contains("negative"), "{text}: {}", e.message);
    }
}

#[test]
fn rejects_unknown_units() {
    let e = span_err("3 fortnights");
    assert_eq!(e.text, "3 fortnights");
    assert!(
        e.message.contains("unknown unit \"fortnights\""),
        "{}",
        e.message
    );
    let e = span_err("2 business hours");
    assert!(e.message.contains("\"business hours\""), "{}", e.message);
    let e = span_err("5 ms");
    assert!(e.message.contains("\"ms\""), "{}", e.message);
}

#[test]
fn rejects_overflow() {
    for text in [
        "99999999999999999999999 days",
        "4294967296 days",
        "1000000000 weeks",
        "400000000 years",
        "2000000000 quarters",
        "9223372036854775807h",
        "9223372036854776 s",
    ] {
        let e = span_err(text);
        assert!(e.message.contains("too large"), "{text}: {}", e.message);
    }
    // The largest values that still fit are accepted.
    assert_eq!(span("4294967295 days"), Span::Days(u32::MAX));
    assert_eq!(
        span("9223372036854775s"),
        Span::Fixed(9_223_372_036_854_775)
    );
    assert_eq!(span("357913941 years"), Span::Months(357_913_941 * 12));
}

#[test]
fn rejects_malformed_text() {
    let cases = [
        ("", "empty"),
        ("   ", "empty"),
        ("h", "expected a number"),
        ("five days", "expected a number"),
        ("5", "missing unit after 5"),
        ("1.5h", "fractional"),
        ("2,5 days", "fractional"),
        ("1 day 2h", "cannot be combined"),
        ("1 month 1 day", "cannot be combined"),
        ("1h 1h", "only once"),
        ("+5m", "expected a number"),
    ];
    for (text, needle) in cases {
        let e = span_err(text);
        assert!(e.message.contains(needle), "{text:?}: {}", e.message);
    }
}

#[test]
fn every_rejection_names_text_and_lists_accepted_forms() {
    for text in [
        "",
        "0h",
        "-1m",
        "3 fortnights",
        "4294967296 days",
        "1.5h",
        "1 day 1h",
    ] {
        let e = span_err(text);
        assert_eq!(e.text, text);
        for form in [
            "45s",
            "30m",
            "24h",
            "2 days",
            "1 week",
            "5 business days",
            "3 months",
        ] {
            assert!(e.message.contains(form), "{text:?}: {}", e.message);
        }
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!("invalid duration {text:?}: ")),
            "{shown}"
        );
    }
}

// ---------------------------------------------------------------------------
// Span display and serde
// ---------------------------------------------------------------------------

#[test]
fn display_is_canonical() {
    let cases = [
        (Span::Fixed(86400), "24h"),
        (Span::Fixed(3600), "1h"),
        (Span::Fixed(1800), "30m"),
        (Span::Fixed(5400), "90m"),
        (Span::Fixed(45), "45s"),
        (Span::Fixed(5415), "5415s"),
        (Span::Days(1), "1 day"),
        (Span::Days(2), "2 days"),
        (Span::Days(7), "7 days"),
        (Span::BusinessDays(1), "1 business day"),
        (Span::BusinessDays(5), "5 business days"),
        (Span::Months(1), "1 month"),
        (Span::Months(3), "3 months"),
    ];
    for (value, text) in cases {
        assert_eq!(value.to_string(), text);
    }
}

#[test]
fn display_round_trips() {
    let values = [
        Span::Fixed(1),
        Span::Fixed(59),
        Span::Fixed(60),
        Span::Fixed(3599),
        Span::Fixed(3600),
        Span::Fixed(86400 * 365),
        Span::Days(1),
        Span::Days(u32::MAX),
        Span::BusinessDays(1),
        Span::BusinessDays(42),
        Span::Months(1),
        Span::Months(u32::MAX),
    ];
    for value in values {
        assert_eq!(span(&value.to_string()), value);
    }
    for text in [
        "24h",
        "2 hours 30 minutes",
        "1 week",
        "1 quarter",
        "1 year",
        "5 Business Days",
        "90 minutes",
    ] {
        let value = span(text);
        assert_eq!(span(&value.to_string()), value, "{text}");
    }
}

#[test]
fn serde_uses_display_string() {
    let json = serde_json::to_string(&Span::BusinessDays(5)).expect("serializes");
    assert_eq!(json, "\"5 business days\"");
    let json =
        serde_json::to_string(&vec![Span::Fixed(5400), Span::Months(12)]).expect("serializes");
    assert_eq!(json, "[\"90m\",\"12 months\"]");

    let back: Span = serde_json::from_str("\"1 week\"").expect("deserializes");
    assert_eq!(back, Span::Days(7));
    let back: Span = serde_json::from_str("\"1h30m\"").expect("deserializes");
    assert_eq!(back, Span::Fixed(5400));

    let err = serde_json::from_str::<Span>("\"3 fortnights\"").expect_err("must fail");
    assert!(err.to_string().contains("fortnights"), "{err}");
    assert!(serde_json::from_str::<Span>("5").is_err());
}

// ---------------------------------------------------------------------------
// Fixed and Days
// ---------------------------------------------------------------------------

#[test]
fn fixed_is_exact_elapsed_time_across_dst() {
    let cal = paris();
    let t = utc(2026, 3, 28, 12, 0);
    assert_eq!(cal.add(t, span("24h")), t + Duration::hours(24));
    let t = utc(2026, 10, 24, 12, 0);
    assert_eq!(cal.add(t, span("48h")), t + Duration::hours(48));
    assert_eq!(cal.add(t, span("45s")), t + Duration::seconds(45));
}

#[test]
fn days_in_paris_keep_wall_clock_across_dst() {
    let cal = paris();
    // Spring: Sat 28 Mar 2026 10:00 CET (09:00Z) -> Sun 29 Mar 10:00 CEST (08:00Z).
    let t = utc(2026, 3, 28, 9, 0);
    let r = cal.add(t, Span::Days(1));
    assert_eq!(r, utc(2026, 3, 29, 8, 0));
    assert_eq!(r - t, Duration::hours(23));
    // Autumn: Sat 24 Oct 2026 10:00 CEST (08:00Z) -> Sun 25 Oct 10:00 CET (09:00Z).
    let t = utc(2026, 10, 24, 8, 0);
    let r = cal.add(t, Span::Days(1));
    assert_eq!(r, utc(2026, 10, 25, 9, 0));
    assert_eq!(r - t, Duration::hours(25));
    // A week spanning the change.
    assert_eq!(cal.add(t, span("1 week")), utc(2026, 10, 31, 9, 0));
}

#[test]
fn days_in_new_york_keep_wall_clock_across_dst() {
    let cal = new_york();
    // Spring: 7 Mar 2026 09:00 EST (14:00Z) -> 8 Mar 09:00 EDT (13:00Z).
    let t = utc(2026, 3, 7, 14, 0);
    let r = cal.add(t, Span::Days(1));
    assert_eq!(r, utc(2026, 3, 8, 13, 0));
    assert_eq!(r - t, Duration::hours(23));
    // Autumn: 31 Oct 2026 09:00 EDT (13:00Z) -> 1 Nov 09:00 EST (14:00Z).
    let t = utc(2026, 10, 31, 13, 0);
    let r = cal.add(t, Span::Days(1));
    assert_eq!(r, utc(2026, 11, 1, 14, 0));
    assert_eq!(r - t, Duration::hours(25));
}

#[test]
fn days_in_utc_calendar_are_24_hours() {
    let cal = BusinessCalendar::default();
    let t = utc(2026, 3, 28, 9, 0);
    assert_eq!(cal.add(t, span("2 days")), t + Duration::days(2));
}

#[test]
fn days_preserve_sub_second_precision() {
    let cal = paris();
    let t = utc(2026, 5, 1, 9, 0) + Duration::milliseconds(123);
    assert_eq!(cal.add(t, Span::Days(1)), t + Duration::days(1));
}

// ---------------------------------------------------------------------------
// Gaps and folds
// ---------------------------------------------------------------------------

#[test]
fn nonexistent_local_time_moves_forward_by_gap() {
    // Paris jumps 02:00 CET -> 03:00 CEST on 29 Mar 2026: 02:30 -> 03:30 CEST = 01:30Z.
    assert_eq!(
        paris().next_local_time(date(2026, 3, 29), time(2, 30)),
        utc(2026, 3, 29, 1, 30)
    );
    // New York jumps 02:00 EST -> 03:00 EDT on 8 Mar 2026: 02:30 -> 03:30 EDT = 07:30Z.
    assert_eq!(
        new_york().next_local_time(date(2026, 3, 8), time(2, 30)),
        utc(2026, 3, 8, 7, 30)
    );
    // The first non-existent minute maps onto the end of the gap.
    assert_eq!(
        paris().next_local_time(date(2026, 3, 29), time(2, 0)),
        utc(2026, 3, 29, 1, 0)
    );
}

#[test]
fn ambiguous_local_time_takes_earlier_instant() {
    // Paris 25 Oct 2026 02:30 happens at 00:30Z (CEST) and 01:30Z (CET).
    assert_eq!(
        paris().next_local_time(date(2026, 10, 25), time(2, 30)),
        utc(2026, 10, 25, 0, 30)
    );
    // New York 1 Nov 2026 01:30 happens at 05:30Z (EDT) and 06:30Z (EST).
    assert_eq!(
        new_york().next_local_time(date(2026, 11, 1), time(1, 30)),
        utc(2026, 11, 1, 5, 30)
    );
}

#[test]
fn ordinary_local_times_resolve_plainly() {
    assert_eq!(
        paris().next_local_time(date(2026, 7, 14), time(9, 0)),
        utc(2026, 7, 14, 7, 0)
    );
    assert_eq!(
        BusinessCalendar::default().next_local_time(date(2026, 11, 20), time(10, 0)),
        utc(2026, 11, 20, 10, 0)
    );
}

#[test]
fn days_landing_in_gap_or_fold_follow_the_rules() {
    let cal = paris();
    // 28 Mar 02:30 CET (01:30Z) + 1 day = 29 Mar 02:30, which does not exist -> 03:30 CEST.
    assert_eq!(
        cal.add(utc(2026, 3, 28, 1, 30), Span::Days(1)),
        utc(2026, 3, 29, 1, 30)
    );
    // 24 Oct 02:30 CEST (00:30Z) + 1 day = 25 Oct 02:30, ambiguous -> earlier (00:30Z).
    assert_eq!(
        cal.add(utc(2026, 10, 24, 0, 30), Span::Days(1)),
        utc(2026, 10, 25, 0, 30)
    );
    // Starting from the *second* 02:30 (01:30Z) on 25 Oct, + 1 day = 26 Oct 02:30 CET.
    assert_eq!(
        cal.add(utc(2026, 10, 25, 1, 30), Span::Days(1)),
        utc(2026, 10, 26, 1, 30)
    );
}

// ---------------------------------------------------------------------------
// Business days
// ---------------------------------------------------------------------------

#[test]
fn friday_plus_five_business_days_is_next_friday() {
    let cal = BusinessCalendar::default();
    let friday = utc(2026, 11, 20, 10, 0);
    assert_eq!(
        cal.add(friday, span("5 business days")),
        utc(2026, 11, 27, 10, 0)
    );
    assert_eq!(
        cal.add(friday, span("1 business day")),
        utc(2026, 11, 23, 10, 0)
    );
    assert_eq!(
        cal.add(friday, span("10 business days")),
        utc(2026, 12, 4, 10, 0)
    );
}

#[test]
fn holiday_inside_window_pushes_one_more_business_day() {
    let mut cal = BusinessCalendar::default();
    let friday = utc(2026, 11, 20, 10, 0);
    cal.holidays.insert(date(2026, 11, 25)); // Wednesday
    assert_eq!(
        cal.add(friday, Span::BusinessDays(5)),
        utc(2026, 11, 30, 10, 0)
    );
    // A holiday on a weekend day changes nothing more.
    cal.holidays.insert(date(2026, 11, 28)); // Saturday
    assert_eq!(
        cal.add(friday, Span::BusinessDays(5)),
        utc(2026, 11, 30, 10, 0)
    );
    // A holiday on the landing day pushes further.
    cal.holidays.insert(date(2026, 11, 30));
    assert_eq!(
        cal.add(friday, Span::BusinessDays(5)),
        utc(2026, 12, 1, 10, 0)
    );
    // A holiday after the window is irrelevant.
    cal.holidays.insert(date(2026, 12, 25));
    assert_eq!(
        cal.add(friday, Span::BusinessDays(5)),
        utc(2026, 12, 1, 10, 0)
    );
}

#[test]
fn starting_on_weekend_counts_nothing_for_the_weekend() {
    let cal = BusinessCalendar::default();
    let saturday = utc(2026, 11, 21, 10, 0);
    let sunday = utc(2026, 11, 22, 10, 0);
    assert_eq!(
        cal.add(saturday, Span::BusinessDays(1)),
        utc(2026, 11, 23, 10, 0)
    );
    assert_eq!(
        cal.add(sunday, Span::BusinessDays(1)),
        utc(2026, 11, 23, 10, 0)
    );
    assert_eq!(
        cal.add(saturday, Span::BusinessDays(5)),
        utc(2026, 11, 27, 10, 0)
    );
}

#[test]
fn starting_on_holiday_counts_from_the_next_day() {
    let mut cal = BusinessCalendar::default();
    cal.holidays.insert(date(2026, 11, 24)); // Tuesday
    let tuesday = utc(2026, 11, 24, 10, 0);
    assert_eq!(
        cal.add(tuesday, Span::BusinessDays(1)),
        utc(2026, 11, 25, 10, 0)
    );
}

#[test]
fn custom_weekend_is_respected() {
    let mut cal = BusinessCalendar::new(chrono_tz::Asia::Dubai);
    cal.weekend = vec![Weekday::Fri, Weekday::Sat];
    // Thursday 2026-11-19 10:00 +04 (06:00Z) + 1 business day = Sunday 22nd.
    assert_eq!(
        cal.add(utc(2026, 11, 19, 6, 0), Span::BusinessDays(1)),
        utc(2026, 11, 22, 6, 0)
    );
    assert!(cal.is_business_day(date(2026, 11, 22)));
    assert!(!cal.is_business_day(date(2026, 11, 20)));
}

#[test]
fn business_days_in_paris_across_dst() {
    let cal = paris();
    // Fri 27 Mar 2026 10:00 CET (09:00Z) -> Mon 30 Mar 10:00 CEST (08:00Z).
    assert_eq!(
        cal.add(utc(2026, 3, 27, 9, 0), Span::BusinessDays(1)),
        utc(2026, 3, 30, 8, 0)
    );
    // Fri 23 Oct 2026 10:00 CEST (08:00Z) -> Mon 26 Oct 10:00 CET (09:00Z).
    assert_eq!(
        cal.add(utc(2026, 10, 23, 8, 0), Span::BusinessDays(1)),
        utc(2026, 10, 26, 9, 0)
    );
}

#[test]
fn business_days_in_new_york_across_dst() {
    let cal = new_york();
    // Fri 6 Mar 2026 09:00 EST (14:00Z) -> Mon 9 Mar 09:00 EDT (13:00Z).
    assert_eq!(
        cal.add(utc(2026, 3, 6, 14, 0), Span::BusinessDays(1)),
        utc(2026, 3, 9, 13, 0)
    );
    // Fri 30 Oct 2026 09:00 EDT (13:00Z) -> Mon 2 Nov 09:00 EST (14:00Z).
    assert_eq!(
        cal.add(utc(2026, 10, 30, 13, 0), Span::BusinessDays(1)),
        utc(2026, 11, 2, 14, 0)
    );
}

#[test]
fn business_days_use_the_local_date_not_the_utc_date() {
    let cal = new_york();
    // Sat 21 Nov 2026 01:00Z is still Friday 20:00 in New York.
    let t = utc(2026, 11, 21, 1, 0);
    // Friday evening + 1 business day = Monday 20:00 EST = Tue 01:00Z.
    assert_eq!(cal.add(t, Span::BusinessDays(1)), utc(2026, 11, 24, 1, 0));
}

#[test]
fn seven_day_weekend_does_not_hang() {
    let mut cal = BusinessCalendar {
        weekend: vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
            Weekday::Sun,
        ],
        ..BusinessCalendar::default()
    };
    // The weekend is ignored: every non-holiday day is a business day.
    assert!(cal.is_business_day(date(2026, 11, 21)));
    let t = utc(2026, 11, 20, 10, 0);
    assert_eq!(cal.add(t, Span::BusinessDays(5)), utc(2026, 11, 25, 10, 0));
    cal.holidays.insert(date(2026, 11, 22));
    assert!(!cal.is_business_day(date(2026, 11, 22)));
    assert_eq!(cal.add(t, Span::BusinessDays(5)), utc(2026, 11, 26, 10, 0));
    assert_eq!(cal.add(t, Span::BusinessDays(u32::MAX)), MAX);
}

#[test]
fn long_holiday_runs_and_huge_counts_finish() {
    let mut cal = BusinessCalendar::default();
    let start = date(2026, 1, 1);
    // Every day of 2026-2029 is a holiday.
    let mut d = start;
    while d < date(2030, 1, 1) {
        cal.holidays.insert(d);
        d = d.succ_opt().expect("in range");
    }
    // Thu 31 Dec 2025 + 1 business day = Tue 1 Jan 2030 (the first working day).
    let t = utc(2025, 12, 31, 10, 0);
    assert_eq!(cal.add(t, Span::BusinessDays(1)), utc(2030, 1, 1, 10, 0));
    // Large counts are computed without stepping day by day.
    let years = cal.add(t, Span::BusinessDays(1_000_000));
    assert!(years > utc(5000, 1, 1, 0, 0) && years < MAX, "{years}");
    assert_eq!(cal.add(t, Span::BusinessDays(u32::MAX)), MAX);
}

// ---------------------------------------------------------------------------
// Months and recurrence
// ---------------------------------------------------------------------------

#[test]
fn months_clamp_to_month_end() {
    let cal = BusinessCalendar::default();
    assert_eq!(
        cal.add(utc(2026, 1, 31, 10, 0), span("1 month")),
        utc(2026, 2, 28, 10, 0)
    );
    assert_eq!(
        cal.add(utc(2026, 3, 31, 10, 0), span("1 month")),
        utc(2026, 4, 30, 10, 0)
    );
    assert_eq!(
        cal.add(utc(2026, 11, 30, 10, 0), span("3 months")),
        utc(2027, 2, 28, 10, 0)
    );
    assert_eq!(
        cal.add(utc(2026, 5, 15, 10, 0), span("1 quarter")),
        utc(2026, 8, 15, 10, 0)
    );
}

#[test]
fn months_handle_leap_years() {
    let cal = BusinessCalendar::default();
    assert_eq!(
        cal.add(utc(2028, 1, 31, 10, 0), Span::Months(1)),
        utc(2028, 2, 29, 10, 0)
    );
    assert_eq!(
        cal.add(utc(2024, 2, 29, 10, 0), span("1 year")),
        utc(2025, 2, 28, 10, 0)
    );
    assert_eq!(
        cal.add(utc(2024, 2, 29, 10, 0), span("4 years")),
        utc(2028, 2, 29, 10, 0)
    );
    assert_eq!(
        cal.add(utc(2024, 2, 29, 10, 0), Span::Days(365)),
        utc(2025, 2, 28, 10, 0)
    );
}

#[test]
fn months_keep_local_wall_clock_across_dst() {
    let cal = paris();
    // 15 Jan 2026 10:00 CET (09:00Z) + 6 months = 15 Jul 10:00 CEST (08:00Z).
    assert_eq!(
        cal.add(utc(2026, 1, 15, 9, 0), Span::Months(6)),
        utc(2026, 7, 15, 8, 0)
    );
}

#[test]
fn add_times_months_do_not_drift() {
    let cal = BusinessCalendar::default();
    let anchor = utc(2026, 1, 31, 10, 0);
    let monthly = Span::Months(1);
    assert_eq!(cal.add_times(anchor, monthly, 1), utc(2026, 2, 28, 10, 0));
    assert_eq!(cal.add_times(anchor, monthly, 2), utc(2026, 3, 31, 10, 0));
    assert_eq!(cal.add_times(anchor, monthly, 3), utc(2026, 4, 30, 10, 0));
    assert_eq!(cal.add_times(anchor, monthly, 12), utc(2027, 1, 31, 10, 0));
    assert_eq!(cal.add_times(anchor, monthly, 25), utc(2028, 2, 29, 10, 0));
    assert_eq!(
        cal.add_times(anchor, Span::Months(3), 2),
        utc(2026, 7, 31, 10, 0)
    );
    // Repeated `add` would drift to the 28th.
    let repeated = cal.add(cal.add(anchor, monthly), monthly);
    assert_eq!(repeated, utc(2026, 3, 28, 10, 0));
}

#[test]
fn add_times_zero_and_one() {
    let mut cal = paris();
    cal.holidays.insert(date(2026, 11, 25));
    let anchor = utc(2026, 11, 20, 9, 0);
    for s in [
        Span::Fixed(3600),
        Span::Days(2),
        Span::BusinessDays(5),
        Span::Months(1),
    ] {
        assert_eq!(cal.add_times(anchor, s, 0), anchor, "{s}");
        assert_eq!(cal.add_times(anchor, s, 1), cal.add(anchor, s), "{s}");
    }
}

#[test]
fn add_times_matches_repeated_add_for_other_spans() {
    let mut cal = paris();
    cal.holidays
        .extend([date(2026, 12, 25), date(2027, 1, 1), date(2027, 4, 5)]);
    let anchor = utc(2026, 11, 20, 9, 0); // Friday 10:00 CET
    for s in [
        Span::Fixed(5400),
        Span::Fixed(86400),
        Span::Days(1),
        Span::Days(7),
        Span::BusinessDays(1),
        Span::BusinessDays(3),
    ] {
        let mut t = anchor;
        for k in 1..=80 {
            t = cal.add(t, s);
            assert_eq!(cal.add_times(anchor, s, k), t, "{s} k={k}");
        }
    }
}

#[test]
fn add_times_days_across_gap_keep_anchor_wall_clock() {
    let cal = paris();
    // A daily timer at 02:30 CET, anchored on 27 Mar 2026 (01:30Z).
    let anchor = utc(2026, 3, 27, 1, 30);
    let daily = Span::Days(1);
    assert_eq!(cal.add_times(anchor, daily, 1), utc(2026, 3, 28, 1, 30));
    // 29 Mar 02:30 does not exist: fires at 03:30 CEST.
    assert_eq!(cal.add_times(anchor, daily, 2), utc(2026, 3, 29, 1, 30));
    // And back to 02:30 (now CEST) the next day.
    assert_eq!(cal.add_times(anchor, daily, 3), utc(2026, 3, 30, 0, 30));
}

// ---------------------------------------------------------------------------
// Saturation
// ---------------------------------------------------------------------------

#[test]
fn saturates_near_chrono_max_without_panicking() {
    let near_max = MAX - Duration::hours(1);
    let zones = [
        Tz::UTC,
        chrono_tz::Pacific::Kiritimati,
        chrono_tz::America::New_York,
        chrono_tz::Europe::Paris,
    ];
    let spans = [
        Span::Fixed(7200),
        Span::Fixed(i64::MAX),
        Span::Days(1),
        Span::Days(u32::MAX),
        Span::BusinessDays(1),
        Span::BusinessDays(u32::MAX),
        Span::Months(1),
        Span::Months(u32::MAX),
    ];
    for tz in zones {
        let cal = BusinessCalendar::new(tz);
        for s in spans {
            for t in [near_max, MAX] {
                assert_eq!(cal.add(t, s), MAX, "{tz} {s} {t}");
                assert_eq!(cal.add_times(t, s, u32::MAX), MAX, "{tz} {s} {t}");
            }
            // Far from the limit, huge spans saturate too.
            let now = utc(2026, 1, 1, 0, 0);
            let huge = matches!(
                s,
                Span::Fixed(i64::MAX)
                    | Span::Days(u32::MAX)
                    | Span::BusinessDays(u32::MAX)
                    | Span::Months(u32::MAX)
            );
            if huge {
                assert_eq!(cal.add(now, s), MAX, "{tz} {s}");
            }
            assert_eq!(cal.add_times(now, s, u32::MAX), MAX, "{tz} {s}");
        }
        // Resolving local times at the ends of the range does not panic.
        let late = cal.next_local_time(NaiveDate::MAX, NaiveTime::MIN);
        assert!(late <= MAX);
        let early = cal.next_local_time(NaiveDate::MIN, NaiveTime::MIN);
        assert!(early >= MIN);
    }
}

#[test]
fn negative_fixed_spans_saturate_at_min() {
    let cal = BusinessCalendar::default();
    let t = utc(2026, 1, 1, 0, 0);
    assert_eq!(cal.add(t, Span::Fixed(-3600)), t - Duration::hours(1));
    assert_eq!(cal.add(MIN, Span::Fixed(-1)), MIN);
    assert_eq!(cal.add(t, Span::Fixed(i64::MIN)), MIN);
    assert_eq!(cal.add_times(t, Span::Fixed(-86400), u32::MAX), MIN);
}

#[test]
fn calendar_spans_near_chrono_min_move_forward() {
    for tz in [
        Tz::UTC,
        chrono_tz::America::New_York,
        chrono_tz::Pacific::Kiritimati,
    ] {
        let cal = BusinessCalendar::new(tz);
        for s in [Span::Days(1), Span::BusinessDays(1), Span::Months(1)] {
            let r = cal.add(MIN, s);
            assert!(r > MIN && r < MIN + Duration::days(40), "{tz} {s} {r}");
        }
        assert_eq!(cal.add(MIN, Span::Days(2)), MIN + Duration::days(2), "{tz}");
    }
}

#[test]
fn zero_spans_built_by_hand_are_identity() {
    let cal = paris();
    // The second 02:30 of the autumn fold must not be moved to the first.
    let t = utc(2026, 10, 25, 1, 30);
    for s in [
        Span::Fixed(0),
        Span::Days(0),
        Span::BusinessDays(0),
        Span::Months(0),
    ] {
        assert_eq!(cal.add(t, s), t, "{s}");
        assert_eq!(cal.add_times(t, s, 7), t, "{s}");
    }
}

// ---------------------------------------------------------------------------
// Clocks
// ---------------------------------------------------------------------------

#[test]
fn manual_clock_is_shared_between_clones() {
    let clock = ManualClock::at(utc(2026, 11, 20, 10, 0));
    let other = clock.clone();
    let shared: Box<dyn Clock> = Box::new(clock.clone());
    clock.advance(Duration::minutes(30));
    assert_eq!(other.now(), utc(2026, 11, 20, 10, 30));
    other.set(utc(2027, 1, 1, 0, 0));
    assert_eq!(clock.now(), utc(2027, 1, 1, 0, 0));
    assert_eq!(shared.now(), utc(2027, 1, 1, 0, 0));
    clock.advance(Duration::days(-1));
    assert_eq!(shared.now(), utc(2026, 12, 31, 0, 0));
}

#[test]
fn manual_clock_is_usable_across_threads() {
    let clock = ManualClock::at(utc(2026, 1, 1, 0, 0));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let c = clock.clone();
            std::thread::spawn(move || c.advance(Duration::hours(1)))
        })
        .collect();
    for h in handles {
        h.join().expect("thread finished");
    }
    assert_eq!(clock.now(), utc(2026, 1, 1, 4, 0));
}

#[test]
fn manual_clock_advance_saturates() {
    let clock = ManualClock::at(MAX - Duration::seconds(1));
    clock.advance(Duration::days(1));
    assert_eq!(clock.now(), MAX);
    clock.set(MIN);
    clock.advance(Duration::days(-1));
    assert_eq!(clock.now(), MIN);
}

#[test]
fn system_clock_reads_current_time() {
    let before = Utc::now();
    let now = SystemClock.now();
    let after = Utc::now();
    assert!(before <= now && now <= after);
}

// ---------------------------------------------------------------------------
// Calendars and instants
// ---------------------------------------------------------------------------

#[test]
fn default_calendar_and_time_zones() {
    let cal = BusinessCalendar::default();
    assert_eq!(cal.tz, Tz::UTC);
    assert_eq!(cal.weekend, vec![Weekday::Sat, Weekday::Sun]);
    assert!(cal.holidays.is_empty());
    assert_eq!(cal, BusinessCalendar::new(Tz::UTC));
    assert!(cal.is_business_day(date(2026, 11, 20)));
    assert!(!cal.is_business_day(date(2026, 11, 21)));
    assert!(!cal.is_business_day(date(2026, 11, 22)));

    assert_eq!(
        BusinessCalendar::parse_tz("Europe/Paris"),
        Ok(chrono_tz::Europe::Paris)
    );
    assert_eq!(BusinessCalendar::parse_tz(" UTC "), Ok(Tz::UTC));
    let e = BusinessCalendar::parse_tz("Mars/Olympus_Mons").expect_err("unknown zone");
    assert!(e.contains("\"Mars/Olympus_Mons\""), "{e}");
    assert!(e.contains("Europe/Paris"), "{e}");
    assert!(BusinessCalendar::parse_tz("").is_err());
}

#[test]
fn parse_instant_accepts_documented_forms() {
    let ten = utc(2026, 11, 20, 10, 0);
    assert_eq!(parse_instant("2026-11-20T10:00:00Z"), Ok(ten));
    assert_eq!(parse_instant("2026-11-20T11:00:00+01:00"), Ok(ten));
    assert_eq!(parse_instant("2026-11-20T05:00:00-05:00"), Ok(ten));
    assert_eq!(
        parse_instant("2026-11-20T10:00:00.250Z"),
        Ok(ten + Duration::milliseconds(250))
    );
    assert_eq!(parse_instant("2026-11-20 10:00"), Ok(ten));
    assert_eq!(parse_instant("2026-11-20T10:00"), Ok(ten));
    assert_eq!(
        parse_instant("2026-11-20 10:00:30"),
        Ok(ten + Duration::seconds(30))
    );
    assert_eq!(
        parse_instant("2026-11-20T10:00:30"),
        Ok(ten + Duration::seconds(30))
    );
    assert_eq!(parse_instant("2026-11-20"), Ok(utc(2026, 11, 20, 0, 0)));
    assert_eq!(parse_instant("  2026-11-20 10:00\n"), Ok(ten));
}

#[test]
fn parse_instant_rejects_other_text() {
    for text in [
        "",
        "tomorrow",
        "2026-13-01",
        "2026-02-30",
        "2026-11-20 25:00",
        "20/11/2026",
        "2026-11-20T10",
        "2026-11-20 10:00 UTC",
    ] {
        let e = parse_instant(text).expect_err(text);
        assert!(e.contains(&format!("{text:?}")), "{e}");
        assert!(e.contains("RFC 3339"), "{e}");
        assert!(e.contains("2026-11-20 10:00"), "{e}");
    }
}
