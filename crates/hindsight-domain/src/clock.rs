//! Time as an input. The domain never reads the system clock; callers hand it a [`Clock`].

use std::sync::Mutex;

use jiff::Timestamp;

/// An instant cut to the microsecond, the precision both databases keep; every time that is
/// stored passes through here so that what is written reads back equal.
pub fn to_stored_precision(time: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(time.as_microsecond()).expect("a valid instant stays valid")
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
