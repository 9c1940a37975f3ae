//! Before watching: will the kernel let us? inotify needs one watch per directory, counted
//! against `fs.inotify.max_user_watches` for the whole user (editors and other watchers share
//! it). Running out shows up as missed events or "no space left on device"; users of Tilt,
//! Skaffold and Compose keep reporting it, so the fix is spelled out before it happens.

use std::path::Path;

/// Where Linux keeps the limit.
pub const MAX_USER_WATCHES: &str = "/proc/sys/fs/inotify/max_user_watches";

/// Above this share of the limit, other programs' watches make running out likely.
const HEADROOM: f64 = 0.5;

/// What the preflight found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Fine,
    /// Probably enough, but tight.
    Tight(String),
    /// Certainly not enough.
    TooLow(String),
}

/// The command lines that raise the limit now and for good.
pub fn fix(suggested: u64) -> String {
    format!(
        "raise it: `sudo sysctl fs.inotify.max_user_watches={suggested}`, and keep it across reboots with \
         `echo fs.inotify.max_user_watches={suggested} | sudo tee /etc/sysctl.d/60-nexus-dev.conf`; \
         or exclude big directories in .dockerignore or the component's `ignore:`"
    )
}

/// Judges `needed` watches against `limit` (pure).
pub fn judge(needed: u64, limit: u64) -> Verdict {
    let suggested = (needed.saturating_mul(4)).max(524_288);
    if needed >= limit {
        Verdict::TooLow(format!(
            "watching needs {needed} inotify watches but fs.inotify.max_user_watches is {limit}; {}",
            fix(suggested)
        ))
    } else if needed as f64 > limit as f64 * HEADROOM {
        Verdict::Tight(format!(
            "watching needs {needed} of the {limit} inotify watches this user may have (fs.inotify.max_user_watches), \
             and editors and other watchers share them; {}",
            fix(suggested)
        ))
    } else {
        Verdict::Fine
    }
}

/// Reads the limit; `None` where there is no inotify (not Linux).
pub fn read_limit(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_names_the_numbers_and_the_fix() {
        assert_eq!(judge(100, 8192), Verdict::Fine);
        let Verdict::Tight(m) = judge(5000, 8192) else { panic!() };
        assert!(m.contains("5000 of the 8192"), "{m}");
        let Verdict::TooLow(m) = judge(9000, 8192) else { panic!() };
        assert!(m.contains("needs 9000 inotify watches but fs.inotify.max_user_watches is 8192"), "{m}");
        assert!(m.contains("sudo sysctl fs.inotify.max_user_watches=524288"), "{m}");
        let Verdict::TooLow(m) = judge(400_000, 8192) else { panic!() };
        assert!(m.contains("=1600000"), "{m}");
    }

    #[test]
    fn the_limit_is_read_from_proc() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("max");
        std::fs::write(&f, "8192\n").unwrap();
        assert_eq!(read_limit(&f), Some(8192));
        assert_eq!(read_limit(&dir.path().join("nope")), None);
    }
}
