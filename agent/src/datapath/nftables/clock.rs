//! Where a round of the nftables datapath spends its time, step by step, for one debug
//! line per round: the round's total is what the daemon reports as "applied in". On a
//! loaded machine the wall time says little, so each step also gets this thread's CPU
//! time and how long it waited for a CPU while runnable (`/proc/thread-self/schedstat`):
//! what is left of the wall time is sleep (a lock, the kernel). Only measured while debug
//! logging is on: otherwise a round reads no clock and no file.

use std::time::{Duration, Instant};

/// This thread's CPU time (user and system: the kernel's commit runs in our send; a
/// child's, such as `nft --version`, is not in it).
pub fn thread_cpu() -> Duration {
    use nix::libc::{clock_gettime, timespec, CLOCK_THREAD_CPUTIME_ID};
    let mut ts = timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a pointer to a timespec we own.
    if unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// How long this thread has waited for a CPU while runnable (the second field of
/// `/proc/thread-self/schedstat`, in nanoseconds); zero when it cannot be read.
fn run_delay() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// A point in time, in the three clocks.
#[derive(Debug, Clone, Copy)]
struct Reading {
    wall: Instant,
    cpu: Duration,
    waited: Duration,
}

impl Reading {
    fn now() -> Reading {
        Reading {
            wall: Instant::now(),
            cpu: thread_cpu(),
            waited: run_delay(),
        }
    }

    /// (wall, CPU, waiting for a CPU) from `earlier` to `self`.
    fn since(&self, earlier: &Reading) -> [Duration; 3] {
        [
            self.wall - earlier.wall,
            self.cpu.saturating_sub(earlier.cpu),
            self.waited.saturating_sub(earlier.waited),
        ]
    }
}

/// The steps of one round, each with its wall time, CPU time and wait for a CPU; empty
/// (and free) when debug logging is off.
#[derive(Debug)]
pub struct RoundClock {
    start: Option<Reading>,
    last: Option<Reading>,
    steps: Vec<(&'static str, [Duration; 3])>,
}

impl RoundClock {
    pub fn start() -> RoundClock {
        Self::start_if(tracing::enabled!(tracing::Level::DEBUG))
    }

    /// A clock that measures only when `on`.
    pub fn start_if(on: bool) -> RoundClock {
        let start = on.then(Reading::now);
        RoundClock {
            start,
            last: start,
            steps: Vec::new(),
        }
    }

    /// Ends the step `name` (it began where the previous one ended).
    pub fn mark(&mut self, name: &'static str) {
        if let Some(last) = &self.last {
            let now = Reading::now();
            self.steps.push((name, now.since(last)));
            self.last = Some(now);
        }
    }

    /// The debug line: each step's wall time (CPU time, wait for a CPU), then the
    /// total's; `None` when the clock was off.
    pub fn summary(&self) -> Option<String> {
        let start = self.start.as_ref()?;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let mut out = String::new();
        for (name, [wall, cpu, waited]) in &self.steps {
            out.push_str(&format!(
                "{name} {:.3} ms ({:.3} CPU, {:.3} runnable), ",
                ms(*wall),
                ms(*cpu),
                ms(*waited)
            ));
        }
        let [wall, cpu, waited] = Reading::now().since(start);
        out.push_str(&format!(
            "total {:.3} ms ({:.3} ms of this thread's CPU, {:.3} ms waiting for a CPU)",
            ms(wall),
            ms(cpu),
            ms(waited)
        ));
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_every_step_in_order_and_the_total() {
        let mut clock = RoundClock::start_if(true);
        clock.mark("generation");
        clock.mark("batch");
        let line = clock.summary().unwrap();
        let g = line.find("generation ").unwrap();
        let b = line.find("batch ").unwrap();
        let t = line.find("total ").unwrap();
        assert!(g < b && b < t, "{line}");
        assert!(line.ends_with("ms waiting for a CPU)"), "{line}");
    }

    #[test]
    fn a_clock_that_is_off_measures_nothing() {
        let mut clock = RoundClock::start_if(false);
        clock.mark("generation");
        assert!(clock.steps.is_empty());
        assert_eq!(clock.summary(), None);
    }
}
