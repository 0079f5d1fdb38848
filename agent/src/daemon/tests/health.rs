//! What the loop records for `/healthz` and `/readyz`, and what it logs, round by round.

use super::*;

#[test]
fn health_follows_the_rounds_and_an_unchanged_error_is_logged_once() {
    let mut s = setup(false);
    let health = s.agent.health();
    assert!(health.readiness(Instant::now()).is_err());
    let logs = Arc::new(Mutex::new(Vec::<u8>::new()));
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || Sink(sink.clone()))
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        s.write("resyncInterval: 1s\n");
        let r = s.agent.sync();
        s.agent.report(r);
        assert!(health.readiness(Instant::now()).is_ok());
        s.write("resyncInterval: 1s\nnonMasqueradeCIDRs: [10.0.0.1/8]\n");
        for _ in 0..3 {
            let r = s.agent.sync();
            s.agent.report(r);
        }
        // Not ready at once, with the config's error; alive all the same.
        let unready = health.readiness(Instant::now()).unwrap_err();
        assert!(unready.contains("is not a network address"), "{unready}");
        assert!(health.liveness(Instant::now()).is_ok());
        s.write("resyncInterval: 1s\n");
        let r = s.agent.sync();
        s.agent.report(r);
    });
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert_eq!(
        text.matches("is not a network address").count(),
        1,
        "{text}"
    );
    assert_eq!(text.matches("recovered").count(), 1, "{text}");
}
