//! Time as an input. The domain never reads the system clock; callers hand it a [`Clock`].

use std::sync::Mutex;

use jiff::Timestamp;

/// An instant cut to the microsecond, the precision both databases keep; every time that is
/// stored passes through here so that what is written reads back equal.
pub fn to_stored_precision(time: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(time.as_microsecond()).expect("a valid instant stays valid")
}

/// The first instant Hindsight keeps: 1970-01-01T00:00:00Z. Every time a person or a client
/// gives (incident times, timeline events, meetings, filters) lies from here …
pub const EARLIEST: Timestamp = Timestamp::UNIX_EPOCH;

/// … up to, not including, 9999-01-01T00:00:00Z, which leaves room for the arithmetic on
/// times (due dates, reminders) within what every part can represent.
pub const END: Timestamp = Timestamp::constant(253_370_764_800, 0);

/// The range, as error messages state it.
pub const RANGE_TEXT: &str = "from 1970-01-01 to 9998-12-31 (UTC)";

/// Whether Hindsight keeps this time.
pub fn in_range(time: Timestamp) -> bool {
    (EARLIEST..END).contains(&time)
}

/// A source of the current instant.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// A clock that stands still until moved, for tests.
#[derive(Debug)]
pub struct FixedClock(Mutex<Timestamp>);

impl FixedClock {
    pub fn new(now: Timestamp) -> Self {
        Self(Mutex::new(now))
    }

    pub fn set(&self, now: Timestamp) {
        *self.0.lock().expect("clock lock") = now;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().expect("clock lock")
    }
}
