//! The reference's parse path, as a child process: tools/reference-parse built with
//! Debian's Go and the reference's YAML libraries (GOPATH mode, nothing downloaded).

use crate::compare::Verdict;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where Debian's packages put the Go libraries the oracle imports.
pub const GOPATH: &str = "/usr/share/gocode";

/// Why the oracle cannot be built here, if it cannot.
pub fn missing_prerequisite() -> Option<String> {
    if Command::new("go").arg("version").output().is_err() {
        return Some(
            "Go is not installed (scripts/setup.sh --for-tests installs golang-go)".into(),
        );
    }
    for lib in ["github.com/ghodss/yaml", "gopkg.in/yaml.v2"] {
        if !Path::new(GOPATH).join("src").join(lib).exists() {
            return Some(format!(
                "{lib} is not in {GOPATH} (scripts/setup.sh --for-tests installs golang-github-ghodss-yaml-dev and golang-gopkg-yaml.v2-dev)"
            ));
        }
    }
    None
}

/// Builds the oracle into the test's scratch directory; its path.
pub fn build() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let bin = scratch.join("reference-parse");
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(root.join("tools/reference-parse"))
        .env("GO111MODULE", "off")
        .env("GOPATH", GOPATH)
        .env("GOFLAGS", "")
        .env("GOCACHE", scratch.join("gocache"))
        .env("GOTOOLCHAIN", "local")
        .output()
        .expect("run go build");
    assert!(
        out.status.success(),
        "go build tools/reference-parse: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// Runs the oracle over `inputs` in one batch; one verdict per input, in order.
pub fn run(bin: &Path, flags: &[&str], inputs: &[Vec<u8>]) -> Vec<Verdict> {
    let mut child = Command::new(bin)
        .arg("-batch")
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the oracle");
    let mut stdin = child.stdin.take().unwrap();
    let records: Vec<u8> = inputs
        .iter()
        .flat_map(|i| {
            let mut r = (i.len() as u32).to_be_bytes().to_vec();
            r.extend_from_slice(i);
            r
        })
        .collect();
    let writer = std::thread::spawn(move || {
        stdin.write_all(&records).expect("feed the oracle");
    });
    let verdicts: Vec<Verdict> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.expect("oracle output")).expect("oracle JSON"))
        .collect();
    writer.join().unwrap();
    assert!(child.wait().unwrap().success(), "the oracle failed");
    assert_eq!(verdicts.len(), inputs.len(), "one verdict per input");
    verdicts
}
