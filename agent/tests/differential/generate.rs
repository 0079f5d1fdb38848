//! A deterministic generator of malformed and odd configs: mutations of valid seeds and
//! documents built from a small grammar, over the categories where YAML parsers disagree
//! (empty keys, stray indicators, odd indentation, tabs, flow collections, anchors and
//! aliases, tags, merge keys, multi-document streams, BOMs, NUL bytes, YAML 1.1 scalars).
//! Case `i` is a pure function of `i`, so a difference is reproduced by its number.

/// xorshift64*: small, fast, good enough to spread cases.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const SEEDS: &[&str] = &[
    "nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - 192.168.0.0/16\ncidrLimit: 10\nmasqLinkLocal: true\nresyncInterval: 60s\n",
    "nonMasqueradeCIDRs: [fd00::/8, 10.0.0.0/8]\nmasqLinkLocalIPv6: yes\nresyncInterval: 1m30s\n",
    "{\"nonMasqueradeCIDRs\": [\"10.0.0.0/8\", \"172.16.0.0/12\"], \"masqLinkLocal\": false, \"resyncInterval\": \"500ms\", \"cidrLimit\": 5}\n",
    "# comment\nnonMasqueradeCIDRs:\n- 100.64.0.0/10\nmasqLinkLocal: on\n",
    "cidrLimit: 3\nnonMasqueradeCIDRs: &l [10.0.0.0/8]\nextra: *l\n",
    "---\nnonMasqueradeCIDRs: []\n...\n",
    "nonMasqueradeCIDRs: !!seq [\"10.0.0.0/8\"]\nresyncInterval: !!str 10s\n",
    "NonMasqueradeCIDRs:\n    - \"10.0.0.0/8\"\nMASQLINKLOCAL: false\n",
    "",
    "{}",
];

#[rustfmt::skip]
const KEYS: &[&str] = &[
    "nonMasqueradeCIDRs", "NONMASQUERADECIDRS", "nonmasqueradecidrs", "cidrLimit", "CidrLimit",
    "masqLinkLocal", "masqLinkLocalIPv6", "MasqLinkLocalIpv6", "resyncInterval",
    "resyncinterval", "unknown", "", "<<", "~", "null", "1", "true", "\"cidrLimit\"",
    "'resyncInterval'", "? cidrLimit", "ci\u{17f}", "\u{212a}ey", "cidrLimit ", "-",
];

#[rustfmt::skip]
const SCALARS: &[&str] = &[
    "10.0.0.0/8", "010.0.0.0/8", "10.0.0.0/08", "10.0.0.1/8", "::ffff:10.0.0.0/104",
    "::ffff:10.0.0.1/104", "FD00::/8", "fd00::/8", "fe80::%eth0/64", "::/0", "0.0.0.0/0",
    "10.0.0.0/+8", "10.0.0.0/33", "1.2.3.4/32", "::10.0.0.0/104", "\"10.0.0.0/8\"",
    "'10.0.0.0/8'", "0x1F", "0o17", "0O17", "017", "09", "1_000", "1e3", "5.0", "-1", "+5",
    "99999999999999999999", "-0b11", "0b11", "0B11", "yes", "no", "on", "off", "y", "N",
    "True", "FALSE", "\"true\"", "null", "~", "", "30s", "1m30s", "-5s", "0", "0s", "1.5h",
    "1\u{b5}s", "1us", ".5s", "1e3s", "\"30s\"", "'1h'", ".inf", "-.Inf", ".nan", "2001-12-14",
    "12:30", "!!str 5", "!!int 5", "!!float 5", "!!bool yes", "!!null ''", "|\n  10.0.0.0/8\n",
    ">-\n  30s\n", "[]", "{}", "[10.0.0.0/8, 172.16.0.0/12]", "{a: 1}", "&x 5", "*x", "\"\\u00e9\"",
    "\"\\ud800\"", "\"a\\x41\"", "'it''s'", "@foo", "`x", "%x", "!x 1", "! 5",
];

#[rustfmt::skip]
const FRAGMENTS: &[&str] = &[
    ": ", ":", "- ", "-", "? ", "?", ",", "[", "]", "{", "}", "#", "&a ", "*a", "!", "!!",
    "|", ">", "'", "\"", "%", "@", "`", "\t", "\n", "  ", "    ", "\r\n", "\r", "---\n",
    "...\n", "\u{feff}", "\0", "\u{85}", "\u{a0}", "\u{2028}", "<<: ", "<<: *a\n", "~", "\\",
    "\x01", "\x7f", "\u{fffd}", "\u{1f600}", " #", "\n  - ", "\n- ", ": |\n", ": >\n",
];

const HEADS: &[&str] = &["---\n", "--- ", "%YAML 1.1\n---\n", "# c\n"];
const TAILS: &[&str] = &["---\ncidrLimit: 1\n", "...\n", "\0", "\n---\n"];

/// A document from the grammar: a mapping of a few entries, block or flow.
fn grammar(r: &mut Rng) -> String {
    let mut out = String::new();
    if r.chance(5) {
        out.push('\u{feff}');
    }
    if r.chance(10) {
        let head = *r.pick(HEADS);
        out.push_str(head);
    }
    let entries = 1 + r.below(5);
    let flow = r.chance(25);
    if flow {
        out.push('{');
    }
    for i in 0..entries {
        let key = *r.pick(KEYS);
        let value = value(r, 0);
        if flow {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&format!("{key}: {}", value.replace('\n', " ")));
        } else {
            let indent = if r.chance(5) {
                r.pick(&[" ", "\t", "  "]).to_string()
            } else {
                String::new()
            };
            let value = if r.chance(8) { block_scalar(r) } else { value };
            out.push_str(&format!("{indent}{key}: {value}\n"));
        }
    }
    // A file that ends without a line break (editors and `kubectl create --from-literal`
    // write them): it decides a block scalar's final break.
    if !flow && r.chance(15) {
        while out.ends_with('\n') {
            out.pop();
        }
    }
    if flow {
        out.push('}');
        if r.chance(50) {
            out.push('\n');
        }
    }
    if r.chance(8) {
        let tail = *r.pick(TAILS);
        out.push_str(tail);
    }
    out
}

/// A literal or folded block scalar with a chomping indicator and a few content lines.
fn block_scalar(r: &mut Rng) -> String {
    let header = *r.pick(&["|", ">", "|-", ">-", "|+", ">+", "|2", "> # c"]);
    let mut s = header.to_string();
    for _ in 0..1 + r.below(3) {
        let indent = *r.pick(&["  ", "  ", "   ", " ", "", "\t"]);
        let line = if r.chance(20) {
            ""
        } else if r.chance(50) {
            // Values whose meaning a final line break changes.
            *r.pick(&["30s", "1m30s", "10", "true", "10.0.0.0/8", "~"])
        } else {
            *r.pick(SCALARS)
        };
        s.push_str(&format!("\n{indent}{line}"));
    }
    s
}

fn value(r: &mut Rng, depth: usize) -> String {
    let anchor = if r.chance(8) { "&a " } else { "" };
    match r.below(if depth > 1 { 2 } else { 5 }) {
        0 | 1 => format!("{anchor}{}", r.pick(SCALARS)),
        2 => {
            let n = r.below(4);
            let items: Vec<String> = (0..n)
                .map(|_| value(r, depth + 1).replace('\n', " "))
                .collect();
            format!("{anchor}[{}]", items.join(", "))
        }
        3 => {
            let n = 1 + r.below(3);
            let mut s = anchor.trim_end().to_string();
            for _ in 0..n {
                let v = value(r, depth + 1).replace('\n', " ");
                let indent = r.pick(&["  ", "  ", "    ", "", "\t", " "]);
                s.push_str(&format!("\n{indent}- {v}"));
            }
            s
        }
        _ => {
            let key = r.pick(KEYS);
            format!(
                "{anchor}{{{key}: {}}}",
                value(r, depth + 1).replace('\n', " ")
            )
        }
    }
}

/// Mutates a seed a few times at byte level (kept as bytes: a cut may split a character).
fn mutate(r: &mut Rng, seed: &str) -> Vec<u8> {
    let mut b = seed.as_bytes().to_vec();
    for _ in 0..1 + r.below(4) {
        let at = r.below(b.len() + 1);
        match r.below(8) {
            0 | 1 => {
                let f = r.pick(FRAGMENTS).as_bytes();
                b.splice(at..at, f.iter().copied());
            }
            2 => {
                let end = (at + 1 + r.below(8)).min(b.len());
                if at < end {
                    b.drain(at..end);
                }
            }
            3 => {
                let s = r.pick(SCALARS).as_bytes();
                b.splice(at..at, s.iter().copied());
            }
            4 => {
                let k = r.pick(KEYS).as_bytes();
                b.splice(at..at, k.iter().copied());
            }
            5 => {
                // Duplicate a line.
                let text = String::from_utf8_lossy(&b).into_owned();
                let lines: Vec<&str> = text.split('\n').collect();
                let i = r.below(lines.len());
                let mut v = lines.clone();
                v.insert(i, lines[i]);
                b = v.join("\n").into_bytes();
            }
            6 => {
                let i = at.min(b.len().saturating_sub(1));
                if let Some(c) = b.get_mut(i) {
                    if c.is_ascii_alphabetic() {
                        *c ^= 0x20;
                    }
                }
            }
            _ => {
                let ws: &[u8] = r.pick(&[" ", "\t", "\n", "  ", "\r"]).as_bytes();
                b.splice(at..at, ws.iter().copied());
            }
        }
    }
    b
}

/// Case `i`.
pub fn case(i: u64) -> Vec<u8> {
    let mut r = Rng::new(i);
    if r.chance(45) {
        let seed = *r.pick(SEEDS);
        mutate(&mut r, seed)
    } else if r.chance(20) {
        let doc = grammar(&mut r);
        mutate(&mut r, &doc)
    } else {
        grammar(&mut r).into_bytes()
    }
}
