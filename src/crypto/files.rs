//! Key files: written once, readable by the owner only.

use std::path::Path;

use anyhow::Context;

/// Creates `path` with `bytes`, mode `0600` on Unix; fails if it exists. The file appears whole
/// or not at all (written aside, then linked into place), so a process starting at the same
/// moment never reads it half-written.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".{}.tmp", std::process::id()));
    let aside = std::path::PathBuf::from(aside);
    let _ = std::fs::remove_file(&aside);
    write_new(&aside, bytes).with_context(|| format!("creating {}", aside.display()))?;
    let linked = std::fs::hard_link(&aside, path);
    let _ = std::fs::remove_file(&aside);
    linked.with_context(|| format!("creating {}", path.display()))
}

#[cfg(unix)]
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn written_once_whole_and_never_over() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        super::write_private(&p, b"first").unwrap();
        assert!(super::write_private(&p, b"second").is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"first");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "nothing left aside");
    }
}
