//! Liveness and readiness as the rounds go. The server is tested over HTTP inside a
//! network namespace (agent/tests/in_namespace/health.rs), never on the machine's own
//! loopback.

use super::*;

const PERIOD: Duration = Duration::from_secs(1);
const BUDGET: Duration = Duration::from_secs(3);

#[test]
fn readiness_follows_the_applied_rules() {
    let h = Health::new(BUDGET);
    let t0 = Instant::now();
    assert_eq!(
        h.readiness(t0).unwrap_err(),
        "no successful sync yet".to_string()
    );
    h.failed(t0, "restore failed", false, PERIOD);
    assert!(h
        .readiness(t0)
        .unwrap_err()
        .contains("last error: restore failed"));
    h.succeeded(t0, PERIOD);
    assert!(h.readiness(t0 + Duration::from_millis(1999)).is_ok());
    h.failed(t0, "restore failed", false, PERIOD);
    // Still within two periods of the last success.
    assert!(h.readiness(t0 + Duration::from_millis(1500)).is_ok());
    let e = h.readiness(t0 + Duration::from_millis(2500)).unwrap_err();
    assert!(
        e.contains("more than two resync periods") && e.contains("restore failed"),
        "{e}"
    );
}

#[test]
fn an_invalid_config_is_unready_at_once_and_alive() {
    let h = Health::new(BUDGET);
    let t0 = Instant::now();
    h.succeeded(t0, PERIOD);
    h.failed(t0, "invalid config: bad CIDR", true, PERIOD);
    let e = h.readiness(t0).unwrap_err();
    assert!(
        e.contains("config invalid") && e.contains("bad CIDR"),
        "{e}"
    );
    // The loop keeps running its rounds: alive, however long the config stays bad.
    for n in 1..10 {
        let t = t0 + PERIOD * n;
        h.failed(t, "invalid config: bad CIDR", true, PERIOD);
        assert!(h.liveness(t).is_ok());
    }
    h.succeeded(t0 + PERIOD * 10, PERIOD);
    assert!(h.readiness(t0 + PERIOD * 10).is_ok());
}

#[test]
fn liveness_fails_only_when_the_loop_stops_being_seen() {
    let h = Health::new(BUDGET);
    let t0 = Instant::now();
    h.succeeded(t0, PERIOD);
    // A round may run for the command timeout on top of two periods.
    h.round_started(t0 + PERIOD);
    assert!(h.liveness(t0 + PERIOD + PERIOD * 2 + BUDGET).is_ok());
    let e = h
        .liveness(t0 + PERIOD + PERIOD * 2 + BUDGET + Duration::from_millis(1))
        .unwrap_err();
    assert!(e.contains("the loop was last seen"), "{e}");
}
