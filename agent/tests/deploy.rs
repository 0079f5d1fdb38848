//! The DaemonSet manifest in deploy/ stays what the reference's is (ConfigMap at
//! /etc/config, hostNetwork, only NET_ADMIN and NET_RAW), its liveness probe asks
//! /healthz and its readiness probe /readyz, both on the agent's --health-address (so a
//! bad config makes the pod unready and never restarts it); the example ConfigMap is a
//! config the agent accepts.

use serde_json::Value;
use std::path::Path;

fn load(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn daemonset_matches_the_reference_and_probes_healthz_and_readyz() {
    let ds = load("ip-masq-agent.yaml");
    assert_eq!(ds["kind"], "DaemonSet");
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    let c = &pod["containers"][0];
    let caps = &c["securityContext"]["capabilities"];
    assert_eq!(caps["drop"], serde_json::json!(["ALL"]));
    assert_eq!(caps["add"], serde_json::json!(["NET_ADMIN", "NET_RAW"]));
    assert_eq!(c["securityContext"]["privileged"], false);
    assert_eq!(c["volumeMounts"][0]["mountPath"], "/etc/config");
    let vol = &pod["volumes"][0]["configMap"];
    assert_eq!(vol["items"][0]["path"], "ip-masq-agent");
    assert_eq!(vol["optional"], true);
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        let address = format!(
            "--health-address={}:{}",
            get["host"].as_str().unwrap(),
            get["port"]
        );
        assert!(
            args.contains(&address.as_str()),
            "{probe}: {args:?} lacks {address}"
        );
    }
}

#[test]
fn example_configmap_is_a_valid_config() {
    let cm = load("configmap.yaml");
    let text = cm["data"]["config"].as_str().unwrap();
    let parsed =
        ip_masq_agent::config::parse(text.as_bytes(), &Default::default()).expect("valid config");
    assert_eq!(parsed.config.non_masquerade_cidrs.len(), 3);
    assert!(parsed.warnings.is_empty());
}
