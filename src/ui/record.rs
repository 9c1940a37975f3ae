//! Where a running dashboard is: a file in the daemon's state directory, readable by its user
//! only (the URL carries the session token), for `nexus-dev ui` to print.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The page, with the token.
    pub url: String,
    /// The daemon serving it.
    pub pid: u32,
}

/// Writes `record` to `path` (0600), whole or not at all.
pub fn write(path: &Path, record: &Record) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::File::options().write(true).create_new(true).mode(0o600).open(&tmp)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(&serde_json::to_vec_pretty(record)?)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

pub fn read(path: &Path) -> std::io::Result<Record> {
    Ok(serde_json::from_slice(&std::fs::read(path)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_is_its_users_only_and_reads_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ui.json");
        let r = Record { url: "http://127.0.0.1:1/?token=ab".into(), pid: 7 };
        write(&path, &r).unwrap();
        write(&path, &r).unwrap();
        assert_eq!(read(&path).unwrap(), r);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }
}
