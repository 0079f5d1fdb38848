//! A case's limits as numbers: the defaults, the profile key that overrides them, and
//! which limit a case hit.

/// The bounds of one case (profile key `limits: {pids, memory, output}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    /// Processes and threads at once, the implementation's init included.
    pub pids: u32,
    /// Memory (RAM; no swap) of all its processes together.
    pub memory_bytes: u64,
    /// The largest file it may write: its log is one, so this caps the output kept.
    pub output_bytes: u64,
}

impl LimitSettings {
    /// Ample for any agent (the reference uses a few threads and tens of MiB); small
    /// enough that a hostile one cannot take the host down with it.
    pub const DEFAULT: LimitSettings = LimitSettings {
        pids: 512,
        memory_bytes: 512 << 20,
        output_bytes: 16 << 20,
    };

    /// Refuses bounds too small for any implementation to start.
    pub fn check(&self) -> Result<(), String> {
        if self.pids < 8 {
            return Err(format!("pids: {} is too few (at least 8)", self.pids));
        }
        if self.memory_bytes < 16 << 20 {
            return Err(format!(
                "memory: {} is too little (at least 16Mi)",
                self.memory_bytes
            ));
        }
        if self.output_bytes < 64 << 10 {
            return Err(format!(
                "output: {} is too little (at least 64Ki)",
                self.output_bytes
            ));
        }
        Ok(())
    }
}

/// The profile key `limits: {pids, memory, output}`: each overrides its default.
/// `memory` and `output` are bytes, as a number or with a binary suffix (`256Mi`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsKey {
    #[serde(default)]
    pub pids: Option<u32>,
    #[serde(default)]
    pub memory: Option<ByteCount>,
    #[serde(default)]
    pub output: Option<ByteCount>,
}

/// A number of bytes as a profile writes it: `1048576` or `1Mi` (`Ki`, `Mi`, `Gi`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(untagged)]
pub enum ByteCount {
    Number(u64),
    Text(String),
}

impl ByteCount {
    pub fn bytes(&self) -> Result<u64, String> {
        let text = match self {
            ByteCount::Number(n) => return Ok(*n),
            ByteCount::Text(t) => t.trim(),
        };
        let (digits, shift) = [("Ki", 10), ("Mi", 20), ("Gi", 30)]
            .iter()
            .find_map(|(suffix, shift)| text.strip_suffix(suffix).map(|d| (d, *shift)))
            .unwrap_or((text, 0));
        digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(1 << shift))
            .ok_or_else(|| format!("{text:?} is not a number of bytes (like 512Mi, 64Ki, 1048576)"))
    }
}

impl LimitsKey {
    /// The settings it gives: the defaults, overridden; checked.
    pub fn settings(&self) -> Result<LimitSettings, String> {
        let d = LimitSettings::DEFAULT;
        let field = |key: &str, v: &Option<ByteCount>, default: u64| {
            v.as_ref()
                .map_or(Ok(default), ByteCount::bytes)
                .map_err(|e| format!("{key}: {e}"))
        };
        let settings = LimitSettings {
            pids: self.pids.unwrap_or(d.pids),
            memory_bytes: field("memory", &self.memory, d.memory_bytes)?,
            output_bytes: field("output", &self.output, d.output_bytes)?,
        };
        settings.check()?;
        Ok(settings)
    }
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Which limit a case's implementation ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitHit {
    Pids(u32),
    Memory(u64),
    Output(u64),
}

impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitHit::Pids(n) => write!(f, "the case's pids limit ({n})"),
            LimitHit::Memory(b) => write!(f, "the case's memory limit ({})", bytes(*b)),
            LimitHit::Output(b) => write!(f, "the case's output limit ({})", bytes(*b)),
        }
    }
}

/// `512 MiB`, `64 KiB`, or plain bytes.
pub fn bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_name_the_limit_and_its_value() {
        assert_eq!(
            LimitHit::Pids(512).to_string(),
            "the case's pids limit (512)"
        );
        assert_eq!(
            LimitHit::Memory(512 << 20).to_string(),
            "the case's memory limit (512 MiB)"
        );
        assert_eq!(
            LimitHit::Output(16 << 20).to_string(),
            "the case's output limit (16 MiB)"
        );
        assert_eq!(bytes(1000), "1000 bytes");
    }

    #[test]
    fn settings_too_small_to_start_are_refused() {
        assert!(LimitSettings::DEFAULT.check().is_ok());
        let few = LimitSettings {
            pids: 2,
            ..LimitSettings::DEFAULT
        };
        assert!(few.check().unwrap_err().contains("pids: 2"));
    }

    #[test]
    fn the_profile_key_overrides_defaults() {
        let key = LimitsKey {
            pids: Some(64),
            memory: Some(ByteCount::Text("256Mi".into())),
            output: Some(ByteCount::Number(1 << 20)),
        };
        let s = key.settings().unwrap();
        assert_eq!(
            (s.pids, s.memory_bytes, s.output_bytes),
            (64, 256 << 20, 1 << 20)
        );
        assert_eq!(
            LimitsKey::default().settings().unwrap(),
            LimitSettings::DEFAULT
        );
        let bad = LimitsKey {
            memory: Some(ByteCount::Text("lots".into())),
            ..Default::default()
        };
        assert_eq!(
            bad.settings().unwrap_err(),
            "memory: \"lots\" is not a number of bytes (like 512Mi, 64Ki, 1048576)"
        );
        let small = LimitsKey {
            output: Some(ByteCount::Text("1Ki".into())),
            ..Default::default()
        };
        assert_eq!(
            small.settings().unwrap_err(),
            "output: 1024 is too little (at least 64Ki)"
        );
    }
}
