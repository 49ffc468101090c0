//! Time, durations and business calendars.
//!
//! Everything in mentorflow that needs "now" asks a [`Clock`]; everything that
//! needs "later" asks a [`BusinessCalendar`] to add a [`Span`] to an instant.
//! Instants are always [`DateTime<Utc>`]; time zones only matter while a span
//! is being added, and are taken from the calendar's [`tz`](BusinessCalendar::tz).
//!
//! # Clocks
//!
//! * [`SystemClock`] reads the operating system's clock. It is the only place
//!   in the crate that reads system time, so a runtime built on a different
//!   clock is fully deterministic.
//! * [`ManualClock`] holds an instant that only changes when told to
//!   ([`set`](ManualClock::set), [`advance`](ManualClock::advance)). Clones
//!   share the same instant, so a test can keep one handle and give another
//!   to the runtime.
//!
//! # Spans
//!
//! A [`Span`] is a duration as written in workflow YAML. The text is trimmed
//! and case-insensitive, and consists of a positive whole number followed by
//! a unit, with or without a space between them:
//!
//! | Text | Span | Accepted unit spellings |
//! |------|------|-------------------------|
//! | `45s`, `45 seconds` | `Fixed(45)` | `s`, `sec`, `secs`, `second`, `seconds` |
//! | `30m`, `30 minutes` | `Fixed(1800)` | `m`, `min`, `mins`, `minute`, `minutes` |
//! | `24h`, `1 hour` | `Fixed(86400)`, `Fixed(3600)` | `h`, `hr`, `hrs`, `hour`, `hours` |
//! | `2 days`, `1d` | `Days(2)`, `Days(1)` | `d`, `day`, `days` |
//! | `1 week`, `2w` | `Days(7)`, `Days(14)` | `w`, `wk`, `wks`, `week`, `weeks` |
//! | `5 business days` | `BusinessDays(5)` | `business day`, `business days`, `business-day(s)` |
//! | `3 months` | `Months(3)` | `mo`, `month`, `months` |
//! | `1 quarter` | `Months(3)` | `quarter`, `quarters` |
//! | `1 year`, `2y` | `Months(12)`, `Months(24)` | `y`, `yr`, `yrs`, `year`, `years` |
//!
//! Note that `m` means minutes; use `mo` or `month` for months.
//!
//! Hours, minutes and seconds may be combined into one fixed span, e.g.
//! `1h30m`, `1h 30m` or `2 hours 30 minutes` (each unit at most once).
//! Calendar units (days, weeks, business days, months, quarters, years)
//! cannot be combined with anything else.
//!
//! Zero, negative and fractional amounts, unknown units and amounts too large
//! to represent are rejected with a [`SpanError`] that names the offending
//! text and lists the accepted forms.
//!
//! A span displays (and serializes) in a canonical form that parses back to
//! the same value: `Fixed` uses the largest unit among `h`, `m`, `s` that
//! divides it exactly (`"24h"`, `"90m"`, `"45s"`), and the calendar spans
//! use words (`"1 day"`, `"7 days"`, `"5 business days"`, `"3 months"`).
//!
//! # Adding a span to an instant
//!
//! [`BusinessCalendar::add`] interprets each kind of span as follows. "Local"
//! always means local to the calendar's time zone.
//!
//! * **`Fixed(secs)`** — exactly `secs` seconds of elapsed time. Time zones and
//!   daylight-saving changes have no effect: `24h` is always 86 400 seconds.
//! * **`Days(n)`** — the local date moves forward `n` calendar days and the
//!   local wall-clock time stays the same. Across a daylight-saving change
//!   `1 day` may therefore be 23 or 25 hours of elapsed time.
//! * **`BusinessDays(n)`** — starting from the instant's local date, step
//!   forward one calendar day at a time, counting only business days (days
//!   that are neither a weekend day nor a holiday), until `n` have been
//!   counted; the local wall-clock time stays the same. The starting day
//!   itself is never counted. So Friday 10:00 + `5 business days` is the next
//!   Friday 10:00; a holiday inside that window pushes the result one business
//!   day further (to Monday); and Saturday 10:00 + `1 business day` is Monday
//!   10:00 (the weekend start counts for nothing).
//! * **`Months(n)`** — the local date moves forward `n` months, with the day of
//!   the month clamped to the last day of the target month (Jan 31 + `1 month`
//!   is Feb 28, or Feb 29 in a leap year), at the same local wall-clock time.
//!
//! When the resulting local date and time do not exist or are ambiguous
//! because of a daylight-saving change, the rules of
//! [`BusinessCalendar::next_local_time`] apply:
//!
//! * a local time that **does not exist** (it falls in a spring-forward gap)
//!   moves forward by the length of the gap: on the day Europe/Paris jumps
//!   from 02:00 to 03:00, 02:30 becomes 03:30;
//! * a local time that **occurs twice** (it falls in an autumn fold) resolves
//!   to the earlier of the two instants.
//!
//! ## Recurring timers
//!
//! [`BusinessCalendar::add_times`] computes the `k`-th occurrence of a timer
//! that repeats `every: span`, counted from a fixed anchor. Every occurrence is
//! computed from the anchor rather than from the previous occurrence, so
//! nothing drifts:
//!
//! * `Months(n)`: occurrence `k` is the anchor plus `k × n` months, so a
//!   monthly timer anchored on Jan 31 fires on Feb 28, Mar 31, Apr 30, …
//!   rather than sticking to the 28th after February.
//! * `Days(n)` and `BusinessDays(n)`: occurrence `k` is the anchor plus
//!   `k × n` (business) days, at the anchor's local wall-clock time. This is
//!   the same as adding the span `k` times, except that an occurrence pushed
//!   forward by a daylight-saving gap does not move later occurrences: a daily
//!   02:30 timer fires at 03:30 on the spring-forward day and at 02:30 again
//!   the day after.
//! * `Fixed(secs)`: occurrence `k` is exactly `k × secs` seconds after the
//!   anchor.
//!
//! `k = 0` yields the anchor itself.
//!
//! ## Business calendars
//!
//! A [`BusinessCalendar`] has a time zone, a list of weekend days and a set of
//! holiday dates (local dates in that time zone). The default calendar is UTC
//! with a Saturday + Sunday weekend and no holidays. If the weekend lists all
//! seven days of the week, the weekend is ignored and every day that is not a
//! holiday is a business day (otherwise no business day would ever come).
//!
//! ## Never panicking
//!
//! None of these functions panic, whatever the input. Results that would lie
//! beyond the range chrono can represent saturate at
//! [`DateTime::<Utc>::MAX_UTC`] (or [`DateTime::<Utc>::MIN_UTC`] for a negative
//! `Fixed` span built by hand). Within a day of chrono's earliest instant,
//! where a local time may not be representable, calendar spans are counted in
//! UTC instead. As a last resort against pathological
//! calendars, a business-day computation that fails to finish within a large
//! step budget also saturates at `MAX_UTC`; with real holiday lists this never
//! happens, because whole weeks without holidays are skipped in one step.
//!
//! # Instants
//!
//! [`parse_instant`] reads instants written in workflow files or on the
//! command line: RFC 3339 (`2026-11-20T10:00:00Z`, `2026-11-20T10:00:00+01:00`),
//! `2026-11-20 10:00` or `2026-11-20T10:00` (optionally with seconds,
//! interpreted as UTC), and `2026-11-20` (midnight UTC).
//!
//! # Example
//!
//! ```
//! use chrono::NaiveDate;
//! use mentorflow::time::{parse_instant, BusinessCalendar, Span};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut cal = BusinessCalendar::new(BusinessCalendar::parse_tz("Europe/Paris")?);
//! let span: Span = "5 business days".parse()?;
//! assert_eq!(span, Span::BusinessDays(5));
//!
//! // Friday 20 November 2026, 10:00 in Paris (09:00 UTC).
//! let friday = parse_instant("2026-11-20T10:00:00+01:00")?;
//! assert_eq!(cal.add(friday, span), parse_instant("2026-11-27 09:00")?);
//!
//! // A holiday on Wednesday pushes the deadline to Monday.
//! cal.holidays.insert(NaiveDate::from_ymd_opt(2026, 11, 25).ok_or("bad date")?);
//! assert_eq!(cal.add(friday, span), parse_instant("2026-11-30 09:00")?);
//!
//! // "1 day" keeps the wall-clock time across the end of summer time.
//! let evening = parse_instant("2026-10-24T18:00:00+02:00")?;
//! assert_eq!(cal.add(evening, "1 day".parse()?), parse_instant("2026-10-25T18:00:00+01:00")?);
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Bound;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{
    DateTime, Datelike, Days, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone,
    Utc, Weekday,
};
use chrono_tz::{GapInfo, Tz};

// ---------------------------------------------------------------------------
// Clocks
// ---------------------------------------------------------------------------

/// A source of the current instant.
///
/// The runtime never reads system time directly; it asks a `Clock`, so tests
/// and simulations can substitute a [`ManualClock`].
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The operating system's clock.
///
/// This is the only place in mentorflow that reads system time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to.
///
/// Clones share the same instant: setting or advancing one clone is visible
/// through all of them.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock standing at `t`.
    #[must_use]
    pub fn at(t: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(t)),
        }
    }

    /// Moves the clock (and all its clones) to `t`, forwards or backwards.
    pub fn set(&self, t: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = t;
    }

    /// Moves the clock (and all its clones) by `d`, which may be negative.
    ///
    /// Saturates at chrono's minimum and maximum instants instead of
    /// overflowing.
    pub fn advance(&self, d: chrono::Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now
            .checked_add_signed(d)
            .unwrap_or(if d < TimeDelta::zero() {
                DateTime::<Utc>::MIN_UTC
            } else {
                DateTime::<Utc>::MAX_UTC
            });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

// ---------------------------------------------------------------------------
// Spans
// ---------------------------------------------------------------------------

/// A duration as written in workflow YAML, such as `"48h"` or
/// `"5 business days"`.
///
/// See the [module documentation](self) for the accepted text forms and for
/// how each kind of span is added to an instant.
///
/// Serializes as its canonical display string (e.g. `"5 business days"`) and
/// deserializes from any accepted text form.
///
/// Parsing only ever produces positive amounts. Zero or negative values built
/// by hand still display (e.g. `"-1h"`) but do not parse back; adding a zero
/// span leaves an instant unchanged, and a negative `Fixed` span moves it
/// backwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Span {
    /// Exactly this many seconds of elapsed time (`"45s"`, `"30m"`, `"24h"`,
    /// `"1h30m"`).
    Fixed(i64),
    /// This many calendar days at the same local wall-clock time (`"2 days"`,
    /// `"1 week"`).
    Days(u32),
    /// This many business days at the same local wall-clock time
    /// (`"5 business days"`).
    BusinessDays(u32),
    /// This many months at the same local wall-clock time, with the day of the
    /// month clamped to the target month's length (`"3 months"`,
    /// `"1 quarter"`, `"1 year"`).
    Months(u32),
}

/// Why a text could not be parsed as a [`Span`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {text:?}: {message}")]
pub struct SpanError {
    /// The text that was rejected, exactly as given.
    pub text: String,
    /// What is wrong with it, followed by the accepted forms.
    pub message: String,
}

const ACCEPTED_SPANS: &str = "expected a positive whole number followed by a unit, \
     such as \"45s\", \"30m\", \"24h\", \"1h30m\", \"90 minutes\", \"2 days\", \"1 week\", \
     \"5 business days\", \"3 months\", \"1 quarter\" or \"1 year\"";

/// The units a span may be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Minutes,
    Hours,
    Days,
    Weeks,
    BusinessDays,
    Months,
    Quarters,
    Years,
}

impl Unit {
    /// Looks up a lower-case unit word (`"business day"` with one space).
    fn from_word(word: &str) -> Option<Self> {
        Some(match word {
            "s" | "sec" | "secs" | "second" | "seconds" => Self::Seconds,
            "m" | "min" | "mins" | "minute" | "minutes" => Self::Minutes,
            "h" | "hr" | "hrs" | "hour" | "hours" => Self::Hours,
            "d" | "day" | "days" => Self::Days,
            "w" | "wk" | "wks" | "week" | "weeks" => Self::Weeks,
            "business day" | "business days" => Self::BusinessDays,
            "mo" | "month" | "months" => Self::Months,
            "quarter" | "quarters" => Self::Quarters,
            "y" | "yr" | "yrs" | "year" | "years" => Self::Years,
            _ => return None,
        })
    }

    /// Seconds per unit for the fixed units, `None` for calendar units.
    fn seconds(self) -> Option<i64> {
        match self {
            Self::Seconds => Some(1),
            Self::Minutes => Some(60),
            Self::Hours => Some(3600),
            _ => None,
        }
    }
}

/// Splits lower-case span text into `(amount, unit)` terms.
///
/// Errors are returned as the specific problem, without the accepted forms.
fn tokenize(lower: &str) -> Result<Vec<(u64, Unit)>, String> {
    let mut terms = Vec::new();
    let mut rest = lower.trim_start();
    while !rest.is_empty() {
        if rest.starts_with('-') {
            return Err("negative durations are not allowed".to_owned());
        }
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits_end == 0 {
            return Err(format!("expected a number at {rest:?}"));
        }
        let (digits, after) = rest.split_at(digits_end);
        if let Some(frac) = after.strip_prefix(['.', ',']) {
            if frac.starts_with(|c: char| c.is_ascii_digit()) {
                return Err("fractional amounts are not supported; use a smaller unit \
                     (e.g. \"90m\" instead of \"1.5h\")"
                    .to_owned());
            }
        }
        let amount: u64 = digits
            .parse()
            .map_err(|_| format!("the number {digits} is too large"))?;

        let after = after.trim_start();
        let word_end = after
            .find(|c: char| !c.is_alphabetic())
            .unwrap_or(after.len());
        if word_end == 0 {
            return Err(format!("missing unit after {digits}"));
        }
        let (word, mut after) = after.split_at(word_end);
        let mut word = word.to_owned();
        if word == "business" {
            let tail = after.trim_start_matches(|c: char| c.is_whitespace() || c == '-');
            let end = tail
                .find(|c: char| !c.is_alphabetic())
                .unwrap_or(tail.len());
            let (next, tail_rest) = tail.split_at(end);
            if !next.is_empty() {
                word = format!("business {next}");
                after = tail_rest;
            }
        }
        let unit = Unit::from_word(&word).ok_or_else(|| format!("unknown unit {word:?}"))?;
        terms.push((amount, unit));
        rest = after.trim_start();
    }
    Ok(terms)
}

/// The span for a single calendar-unit term, `Ok(None)` for fixed units.
fn calendar_span(amount: u64, unit: Unit) -> Result<Option<Span>, String> {
    let (make, factor): (fn(u32) -> Span, u64) = match unit {
        Unit::Seconds | Unit::Minutes | Unit::Hours => return Ok(None),
        Unit::Days => (Span::Days, 1),
        Unit::Weeks => (Span::Days, 7),
        Unit::BusinessDays => (Span::BusinessDays, 1),
        Unit::Months => (Span::Months, 1),
        Unit::Quarters => (Span::Months, 3),
        Unit::Years => (Span::Months, 12),
    };
    if amount == 0 {
        return Err(ZERO_SPAN.to_owned());
    }
    amount
        .checked_mul(factor)
        .and_then(|v| u32::try_from(v).ok())
        .map(|n| Some(make(n)))
        .ok_or_else(|| TOO_LARGE.to_owned())
}

const ZERO_SPAN: &str = "the duration must be greater than zero";
const TOO_LARGE: &str = "the amount is too large";

/// Builds a span from already tokenized terms.
fn span_from_terms(terms: &[(u64, Unit)]) -> Result<Span, String> {
    if terms.is_empty() {
        return Err("the text is empty".to_owned());
    }
    if let [(amount, unit)] = terms {
        if let Some(span) = calendar_span(*amount, *unit)? {
            return Ok(span);
        }
    }
    let too_large = || TOO_LARGE.to_owned();
    let mut total: i64 = 0;
    let mut seen: Vec<Unit> = Vec::new();
    for &(amount, unit) in terms {
        let Some(per_unit) = unit.seconds() else {
            return Err("days, weeks, business days, months, quarters and years \
                 cannot be combined with other units"
                .to_owned());
        };
        if seen.contains(&unit) {
            return Err("each of hours, minutes and seconds may appear only once".to_owned());
        }
        seen.push(unit);
        total = i64::try_from(amount)
            .ok()
            .and_then(|a| a.checked_mul(per_unit))
            .and_then(|secs| secs.checked_add(total))
            .ok_or_else(too_large)?;
    }
    if total == 0 {
        Err(ZERO_SPAN.to_owned())
    } else if total > max_fixed_seconds() {
        Err(too_large())
    } else {
        Ok(Span::Fixed(total))
    }
}

/// The largest number of seconds chrono can represent as a duration.
fn max_fixed_seconds() -> i64 {
    TimeDelta::MAX.num_seconds()
}

impl FromStr for Span {
    type Err = SpanError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_lowercase();
        tokenize(&lower)
            .and_then(|terms| span_from_terms(&terms))
            .map_err(|problem| SpanError {
                text: s.to_owned(),
                message: format!("{problem}; {ACCEPTED_SPANS}"),
            })
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn plural(n: u32) -> &'static str {
            if n == 1 {
                ""
            } else {
                "s"
            }
        }
        match *self {
            Span::Fixed(secs) if secs != 0 && secs % 3600 == 0 => write!(f, "{}h", secs / 3600),
            Span::Fixed(secs) if secs != 0 && secs % 60 == 0 => write!(f, "{}m", secs / 60),
            Span::Fixed(secs) => write!(f, "{secs}s"),
            Span::Days(n) => write!(f, "{n} day{}", plural(n)),
            Span::BusinessDays(n) => write!(f, "{n} business day{}", plural(n)),
            Span::Months(n) => write!(f, "{n} month{}", plural(n)),
        }
    }
}

impl From<Span> for String {
    fn from(span: Span) -> Self {
        span.to_string()
    }
}

impl TryFrom<String> for Span {
    type Error = SpanError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

// ---------------------------------------------------------------------------
// Business calendars
// ---------------------------------------------------------------------------

/// A time zone, a weekend and a set of holidays: everything needed to add a
/// [`Span`] to an instant.
///
/// Holidays are local dates in [`tz`](Self::tz). See the
/// [module documentation](self) for the exact semantics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessCalendar {
    /// The time zone in which days, business days and months are counted.
    pub tz: Tz,
    /// The days of the week that are not business days. If all seven days are
    /// listed, the weekend is ignored.
    pub weekend: Vec<Weekday>,
    /// Local dates that are not business days.
    pub holidays: BTreeSet<NaiveDate>,
}

impl Default for BusinessCalendar {
    /// UTC, a Saturday + Sunday weekend, no holidays.
    fn default() -> Self {
        Self::new(Tz::UTC)
    }
}

/// Step budget for business-day counting beyond what any calendar needs; see
/// [`BusinessCalendar::add_business_days`].
const BUSINESS_DAY_STEP_BUDGET: usize = 100_000;

impl BusinessCalendar {
    /// A calendar in `tz` with a Saturday + Sunday weekend and no holidays.
    #[must_use]
    pub fn new(tz: Tz) -> Self {
        Self {
            tz,
            weekend: vec![Weekday::Sat, Weekday::Sun],
            holidays: BTreeSet::new(),
        }
    }

    /// Looks up an IANA time zone name such as `"Europe/Paris"` or `"UTC"`.
    ///
    /// Leading and trailing whitespace is ignored; the name itself is
    /// case-sensitive.
    ///
    /// # Errors
    ///
    /// A message naming the unknown zone and giving examples of valid names.
    pub fn parse_tz(name: &str) -> Result<Tz, String> {
        name.trim().parse::<Tz>().map_err(|_| {
            format!(
                "unknown time zone {name:?}: expected an IANA time zone name such as \
                 \"UTC\", \"Europe/Paris\" or \"America/New_York\""
            )
        })
    }

    /// Whether the local date `d` is a business day: not a holiday and not a
    /// weekend day (the weekend is ignored if it lists all seven days).
    #[must_use]
    pub fn is_business_day(&self, d: NaiveDate) -> bool {
        if self.holidays.contains(&d) {
            return false;
        }
        self.weekend_ignored() || !self.weekend.contains(&d.weekday())
    }

    /// Adds `span` to `t`; see the [module documentation](self) for the
    /// semantics of each kind of span.
    ///
    /// Never panics: a result beyond chrono's range saturates at
    /// [`DateTime::<Utc>::MAX_UTC`] (or `MIN_UTC` for a negative `Fixed`).
    #[must_use]
    pub fn add(&self, t: DateTime<Utc>, span: Span) -> DateTime<Utc> {
        self.add_times(t, span, 1)
    }

    /// An instant minus a span, the mirror of [`BusinessCalendar::add`]: `Fixed` subtracts
    /// elapsed time; `Days` and `Months` move the local date back keeping the local wall time
    /// (months clamp to the month's last day); `BusinessDays` steps back over business days.
    #[must_use]
    pub fn sub(&self, t: DateTime<Utc>, span: Span) -> DateTime<Utc> {
        let local = t.with_timezone(&self.tz);
        let (date, time) = (local.date_naive(), local.time());
        match span {
            Span::Fixed(secs) => t
                .checked_sub_signed(chrono::Duration::seconds(secs))
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
            Span::Days(n) => match date.checked_sub_days(chrono::Days::new(u64::from(n))) {
                Some(d) => self.next_local_time(d, time),
                None => DateTime::<Utc>::MIN_UTC,
            },
            Span::Months(n) => match date.checked_sub_months(chrono::Months::new(n)) {
                Some(d) => self.next_local_time(d, time),
                None => DateTime::<Utc>::MIN_UTC,
            },
            Span::BusinessDays(n) => {
                let all_weekend = self.weekend.len() >= 7;
                let mut d = date;
                let mut counted = 0;
                let mut steps = 0u32;
                while counted < n && steps < 400_000 {
                    match d.pred_opt() {
                        Some(p) => d = p,
                        None => return DateTime::<Utc>::MIN_UTC,
                    }
                    steps += 1;
                    if (all_weekend && !self.holidays.contains(&d)) || self.is_business_day(d) {
                        counted += 1;
                    }
                }
                self.next_local_time(d, time)
            }
        }
    }

    /// The `k`-th occurrence of a timer repeating `every: span`, counted from
    /// `anchor` (`k = 1` is the same as [`add`](Self::add), `k = 0` is
    /// `anchor`).
    ///
    /// Every occurrence is computed from the anchor, so month ends do not
    /// drift (Jan 31 → Feb 28 → Mar 31) and day-based timers keep the
    /// anchor's local wall-clock time; see the [module documentation](self).
    ///
    /// Never panics; saturates like [`add`](Self::add).
    #[must_use]
    pub fn add_times(&self, anchor: DateTime<Utc>, span: Span, k: u32) -> DateTime<Utc> {
        let k64 = u64::from(k);
        match span {
            _ if k == 0 => anchor,
            Span::Fixed(secs) => add_seconds(anchor, i128::from(secs) * i128::from(k)),
            Span::Days(0) | Span::BusinessDays(0) | Span::Months(0) => anchor,
            Span::Days(n) => self.shift_local_date(anchor, |d| {
                d.checked_add_days(Days::new(u64::from(n) * k64))
            }),
            Span::BusinessDays(n) => {
                self.shift_local_date(anchor, |d| self.add_business_days(d, u64::from(n) * k64))
            }
            Span::Months(n) => self.shift_local_date(anchor, |d| {
                u32::try_from(u64::from(n) * k64)
                    .ok()
                    .and_then(|m| d.checked_add_months(Months::new(m)))
            }),
        }
    }

    /// Resolves the local `date` and `time` in [`tz`](Self::tz) to an instant.
    ///
    /// A local time that does not exist (daylight-saving gap) moves forward by
    /// the length of the gap (02:30 on a day that jumps from 02:00 to 03:00
    /// becomes 03:30); an ambiguous local time (autumn fold) resolves to the
    /// earlier instant.
    ///
    /// Never panics: a local time too close to the ends of chrono's range to
    /// be converted saturates at `MAX_UTC` or `MIN_UTC`.
    #[must_use]
    pub fn next_local_time(&self, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        let local = date.and_time(time);
        self.resolve_local(local).unwrap_or(if date.year() < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
    }

    /// Whether the weekend lists every day of the week and is thus ignored.
    fn weekend_ignored(&self) -> bool {
        self.weekend_len() == 7
    }

    /// The number of distinct weekend days.
    fn weekend_len(&self) -> u32 {
        self.weekend
            .iter()
            .fold(0u8, |days, d| days | (1 << d.num_days_from_monday()))
            .count_ones()
    }

    /// The local date and time of `t` in the calendar's zone, or `None` if it
    /// lies beyond chrono's range.
    fn to_local(&self, t: DateTime<Utc>) -> Option<NaiveDateTime> {
        let offset = self.tz.offset_from_utc_datetime(&t.naive_utc());
        t.naive_utc()
            .checked_add_offset(chrono::Offset::fix(&offset))
    }

    /// Converts a local date-time to UTC with the gap/fold rules, or `None` if
    /// the result lies beyond chrono's range.
    fn resolve_local(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self.tz.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            chrono::LocalResult::Ambiguous(a, b) => {
                Some(a.with_timezone(&Utc).min(b.with_timezone(&Utc)))
            }
            chrono::LocalResult::None => self.resolve_gap(local),
        }
    }

    /// Converts a local time inside a daylight-saving gap to UTC, moving it
    /// forward by the length of the gap; `None` if `local` is not in a gap
    /// (so it could not be converted because it is beyond chrono's range).
    fn resolve_gap(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        let gap = GapInfo::new(&local, &self.tz)?;
        match (gap.begin, gap.end) {
            // Reading the local time with the offset in force before the gap
            // lands after the gap, shifted by exactly the gap's length.
            (Some((_, before)), _) => local
                .checked_sub_offset(chrono::Offset::fix(&before))
                .map(|utc| utc.and_utc()),
            // No transition before the gap is known: use the gap's end.
            (None, Some(end)) => Some(end.with_timezone(&Utc)),
            (None, None) => None,
        }
    }

    /// Moves the local date of `t` forward with `shift`, keeping the local
    /// wall-clock time; saturates at `MAX_UTC` when the result is out of
    /// range.
    fn shift_local_date(
        &self,
        t: DateTime<Utc>,
        shift: impl FnOnce(NaiveDate) -> Option<NaiveDate>,
    ) -> DateTime<Utc> {
        let shifted = match self.to_local(t) {
            Some(local) => {
                shift(local.date()).and_then(|date| self.resolve_local(date.and_time(local.time())))
            }
            // The local time of `t` is only unrepresentable within a day of
            // either end of chrono's range. Near the end, any calendar span
            // overflows anyway; near the start, count in UTC instead.
            None if t.year() < 0 => {
                shift(t.date_naive()).map(|date| date.and_time(t.time()).and_utc())
            }
            None => None,
        };
        shifted.unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The date `n` business days after `start` (not counting `start`), or
    /// `None` if it lies beyond chrono's range or the step budget runs out.
    ///
    /// Whole weeks are skipped at once (a week always contains the same
    /// number of non-weekend days, minus the holidays falling on them), so
    /// the number of steps is bounded by a small multiple of the number of
    /// holidays, whatever `n` is.
    fn add_business_days(&self, start: NaiveDate, n: u64) -> Option<NaiveDate> {
        let ignore_weekend = self.weekend_ignored();
        // Business days in any 7 consecutive days, ignoring holidays.
        let per_week: u64 = if ignore_weekend {
            7
        } else {
            u64::from(7 - self.weekend_len())
        };
        let mut budget =
            BUSINESS_DAY_STEP_BUDGET.saturating_add(self.holidays.len().saturating_mul(8));
        let mut date = start;
        let mut remaining = n;
        while remaining > 0 {
            budget = budget.checked_sub(1)?;
            let weeks = (remaining - 1) / per_week;
            if weeks > 0 {
                let target = date.checked_add_days(Days::new(weeks.checked_mul(7)?))?;
                let closed = self
                    .holidays
                    .range((Bound::Excluded(date), Bound::Included(target)))
                    .filter(|h| ignore_weekend || !self.weekend.contains(&h.weekday()))
                    .count() as u64;
                // `closed` never exceeds `weeks * per_week`, which is below
                // `remaining`, so at least one business day remains.
                remaining = remaining.saturating_sub((weeks * per_week).saturating_sub(closed));
                date = target;
            } else {
                date = date.succ_opt()?;
                if self.is_business_day(date) {
                    remaining -= 1;
                }
            }
        }
        Some(date)
    }
}

/// `t + secs` seconds, saturating at chrono's range.
fn add_seconds(t: DateTime<Utc>, secs: i128) -> DateTime<Utc> {
    let saturated = if secs < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    };
    i64::try_from(secs)
        .ok()
        .and_then(TimeDelta::try_seconds)
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(saturated)
}

// ---------------------------------------------------------------------------
// Instants
// ---------------------------------------------------------------------------

/// Parses an instant written in a workflow file or on the command line.
///
/// Accepted forms:
///
/// * RFC 3339: `2026-11-20T10:00:00Z`, `2026-11-20T10:00:00+01:00`,
///   `2026-11-20T10:00:00.5-05:00`;
/// * a UTC date and time: `2026-11-20 10:00`, `2026-11-20T10:00`, optionally
///   with seconds (`2026-11-20 10:00:30`);
/// * a date alone, meaning midnight UTC: `2026-11-20`.
///
/// Surrounding whitespace is ignored.
///
/// # Errors
///
/// A message naming the text and listing the accepted forms.
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    const NAIVE_FORMATS: [&str; 4] = [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ];
    let text = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in NAIVE_FORMATS {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_time(NaiveTime::MIN).and_utc());
    }
    Err(format!(
        "invalid instant {s:?}: expected RFC 3339 (e.g. \"2026-11-20T10:00:00Z\" or \
         \"2026-11-20T10:00:00+01:00\"), a UTC date and time (\"2026-11-20 10:00\" or \
         \"2026-11-20T10:00\") or a date (\"2026-11-20\", meaning midnight UTC)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn tokenize_splits_terms() {
        assert_eq!(
            tokenize("1h 30m"),
            Ok(vec![(1, Unit::Hours), (30, Unit::Minutes)])
        );
        assert_eq!(
            tokenize("2hours30minutes"),
            Ok(vec![(2, Unit::Hours), (30, Unit::Minutes)])
        );
        assert_eq!(
            tokenize("5 business-days"),
            Ok(vec![(5, Unit::BusinessDays)])
        );
        assert_eq!(
            tokenize("5 business   day"),
            Ok(vec![(5, Unit::BusinessDays)])
        );
        assert_eq!(tokenize(""), Ok(vec![]));
    }

    #[test]
    fn tokenize_reports_problems() {
        let err = |s: &str| tokenize(s).expect_err("should fail");
        assert!(err("-5m").contains("negative"));
        assert!(err("1.5h").contains("fractional"));
        assert!(err("5").contains("missing unit after 5"));
        assert!(err("h").contains("expected a number"));
        assert!(err("5 fortnights").contains("\"fortnights\""));
        assert!(err("5 business hours").contains("\"business hours\""));
        assert!(err("5 business").contains("unknown unit \"business\""));
        assert!(err("5 business-").contains("unknown unit \"business\""));
        assert!(err("５h").contains("expected a number"));
        assert!(err("1ħ").contains("unknown unit \"ħ\""));
        assert!(err("1h-").contains("negative"));
        assert!(err("99999999999999999999999s").contains("too large"));
    }

    #[test]
    fn span_from_terms_rules() {
        assert_eq!(span_from_terms(&[(1, Unit::Weeks)]), Ok(Span::Days(7)));
        assert_eq!(span_from_terms(&[(1, Unit::Years)]), Ok(Span::Months(12)));
        assert_eq!(span_from_terms(&[(2, Unit::Quarters)]), Ok(Span::Months(6)));
        assert_eq!(
            span_from_terms(&[(1, Unit::Hours), (0, Unit::Minutes)]),
            Ok(Span::Fixed(3600))
        );
        assert!(span_from_terms(&[(1, Unit::Days), (1, Unit::Hours)]).is_err());
        assert!(span_from_terms(&[(1, Unit::Hours), (1, Unit::Hours)]).is_err());
        assert!(span_from_terms(&[(u64::from(u32::MAX), Unit::Weeks)]).is_err());
        assert!(span_from_terms(&[(u64::MAX, Unit::Hours)]).is_err());
        assert!(span_from_terms(&[]).is_err());
    }

    #[test]
    fn weekend_len_ignores_duplicates() {
        let cal = BusinessCalendar {
            weekend: vec![Weekday::Sat, Weekday::Sat, Weekday::Sun],
            ..BusinessCalendar::default()
        };
        assert_eq!(cal.weekend_len(), 2);
        assert!(!cal.weekend_ignored());
    }

    /// Day-by-day reference implementation of business-day counting.
    fn step_business_days(cal: &BusinessCalendar, start: NaiveDate, n: u64) -> NaiveDate {
        let mut d = start;
        let mut left = n;
        while left > 0 {
            d = d.succ_opt().expect("in range");
            if cal.is_business_day(d) {
                left -= 1;
            }
        }
        d
    }

    #[test]
    fn business_day_week_skipping_matches_stepping() {
        use Weekday::*;
        let weekends = [
            vec![],
            vec![Sat, Sun],
            vec![Fri, Sat],
            vec![Sun],
            vec![Mon, Tue, Wed, Thu, Fri, Sat],
            vec![Mon, Tue, Wed, Thu, Fri, Sat, Sun],
        ];
        // Scattered holidays plus a dense block, some on weekend days.
        let mut holidays: BTreeSet<NaiveDate> =
            [date(2026, 12, 25), date(2026, 12, 26), date(2027, 1, 1)].into();
        let mut d = date(2027, 2, 1);
        while d < date(2027, 3, 15) {
            holidays.insert(d);
            d = d.succ_opt().expect("in range");
        }
        for weekend in weekends {
            let cal = BusinessCalendar {
                weekend,
                holidays: holidays.clone(),
                ..BusinessCalendar::default()
            };
            for start in [date(2026, 11, 20), date(2026, 12, 24), date(2027, 2, 10)] {
                for n in 0..150 {
                    assert_eq!(
                        cal.add_business_days(start, n),
                        Some(step_business_days(&cal, start, n)),
                        "weekend {:?}, start {start}, n {n}",
                        cal.weekend
                    );
                }
            }
        }
    }

    #[test]
    fn business_days_beyond_range_is_none() {
        let cal = BusinessCalendar::default();
        assert_eq!(cal.add_business_days(date(2026, 1, 1), u64::MAX), None);
    }

    #[test]
    fn to_local_beyond_range_is_none() {
        let cal = BusinessCalendar::new(Tz::Pacific__Kiritimati);
        assert_eq!(cal.to_local(DateTime::<Utc>::MAX_UTC), None);
    }
}
