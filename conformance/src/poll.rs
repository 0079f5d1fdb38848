//! The one bounded-polling loop of the runner: every wait has a deadline and says what it
//! waited for.

use std::time::{Duration, Instant};

/// How often a condition is re-checked: short against the resync intervals fixtures use
/// (100 ms and up), long enough that a case's polling costs little CPU.
pub const EVERY: Duration = Duration::from_millis(20);

/// The suite-wide cap on any single wait, whatever a fixture or profile asks for: a
/// value that would wait longer is rejected when it loads.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// A wait that ran out of time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timed out after {waited:?} waiting for {what}")]
pub struct TimedOut {
    pub what: String,
    pub waited: Duration,
}

/// Calls `check` every `every` until it yields `Some`, an error, or `limit` has passed.
/// `check` runs at least once, and once more at the deadline, so a condition that holds
/// at the last moment is not reported as a timeout.
pub fn until<T, E>(
    what: impl FnOnce() -> String,
    limit: Duration,
    every: Duration,
    mut check: impl FnMut() -> Result<Option<T>, E>,
) -> Result<Result<T, TimedOut>, E> {
    let started = Instant::now();
    let deadline = started + limit;
    loop {
        if let Some(v) = check()? {
            return Ok(Ok(v));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Err(TimedOut {
                what: what(),
                waited: now - started,
            }));
        }
        std::thread::sleep(every.min(deadline - now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_first_value_and_times_out_with_a_reason() {
        let mut n = 0;
        let got: Result<Result<u32, TimedOut>, ()> = until(
            || "n to reach 3".into(),
            Duration::from_secs(5),
            Duration::ZERO,
            || {
                n += 1;
                Ok((n == 3).then_some(n))
            },
        );
        assert_eq!(got, Ok(Ok(3)));
        let never: Result<Result<(), TimedOut>, ()> = until(
            || "something that never happens".into(),
            Duration::from_millis(30),
            Duration::from_millis(10),
            || Ok(None),
        );
        let err = never.unwrap().unwrap_err();
        assert!(err.waited >= Duration::from_millis(30));
        assert!(err.to_string().contains("something that never happens"));
    }

    #[test]
    fn errors_stop_the_wait_at_once() {
        let r: Result<Result<(), TimedOut>, &str> =
            until(String::new, Duration::from_secs(60), EVERY, || Err("gone"));
        assert_eq!(r, Err("gone"));
    }
}
