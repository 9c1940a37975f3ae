//! One writer per capability at a time, across processes (issue #11, item 3): two applies of
//! one spec at once would each find no user pool and each create one. The lock is a file under
//! the state directory, per account, region and owner, held with `flock` for the run; the
//! kernel releases it when the process dies, so a killed apply never blocks the next.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::time::Duration;

use crate::model::ownership::Owner;

/// Held while a run writes; released when dropped.
#[derive(Debug)]
pub struct WriterLock(#[allow(dead_code)] File);

fn path(owner: &Owner, account: &str, region: &str) -> PathBuf {
    // Dots never occur in the parts (DNS labels, a region, digits): the name is unambiguous.
    crate::input::settings::state_dir()
        .join("locks")
        .join(format!("{account}.{region}.{}.{}.lock", owner.capability, owner.environment))
}

/// The regions in which `owner`'s resources in `account` were written from this machine (each
/// run leaves its lock file behind): where to look for what a region change left behind.
pub fn regions(owner: &Owner, account: &str) -> Vec<String> {
    let dir = crate::input::settings::state_dir().join("locks");
    let suffix = format!(".{}.{}.lock", owner.capability, owner.environment);
    let prefix = format!("{account}.");
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_prefix(&prefix)?.strip_suffix(&suffix).map(str::to_owned))
        .filter(|r| !r.contains('.'))
        .collect();
    out.sort();
    out
}

/// Forgets that `owner` wrote in `region` (nothing of it is left there).
pub fn forget(owner: &Owner, account: &str, region: &str) {
    let _ = std::fs::remove_file(path(owner, account, region));
}

/// Takes the lock of `owner`'s resources in `account` and `region`, waiting for another run that
/// holds it (saying so once, with its pid).
pub async fn acquire(owner: &Owner, account: &str, region: &str) -> std::io::Result<WriterLock> {
    hold(&path(owner, account, region), &format!("is changing {owner}")).await
}

/// Takes the lock file at `path`, waiting while another process holds it and saying once that
/// another nexus-dev run (with its pid) `doing`.
pub async fn hold(path: &std::path::Path, doing: &str) -> std::io::Result<WriterLock> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let mut file = File::options().create(true).truncate(false).read(true).write(true).mode(0o600).open(path)?;
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {
                if !said {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    let pid = holder.trim().parse::<u32>().map(|p| p.to_string()).unwrap_or_else(|_| "unknown".into());
                    tracing::warn!("waiting: another nexus-dev run (pid {pid}) {doing}");
                    said = true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "{}", std::process::id())?;
    Ok(WriterLock(file))
}
