//! Files of the data directory are the owner's alone (SPEC §11): the directory is 0700 and
//! every file in it 0600, whether it holds secrets, usage rows or the database.

use std::fs;
use std::io::Write;
use std::path::Path;

/// Creates `dir` (and parents) with mode 0700 for the last component.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    set_mode(dir, 0o700)
}

/// Writes `data` to a new or truncated file readable only by the owner (0600).
pub fn write_private_file(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = private_options().write(true).truncate(true).open(path)?;
    set_mode(path, 0o600)?;
    f.write_all(data)?;
    f.write_all(b"\n")?;
    f.sync_all()
}

/// Opens `path` for appending (and reading), creating it with mode 0600.
pub fn private_append(path: &Path) -> std::io::Result<fs::File> {
    private_options().read(true).append(true).open(path)
}

/// Makes `dir` 0700 and every regular file directly in it 0600 (for data directories made by
/// earlier versions, and for files created by libraries with the default mode). Sockets and
/// sub-directories are left as they are.
pub fn restrict_dir(dir: &Path) -> std::io::Result<()> {
    set_mode(dir, 0o700)?;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            set_mode(&entry.path(), 0o600)?;
        }
    }
    Ok(())
}

fn private_options() -> fs::OpenOptions {
    let mut opts = fs::OpenOptions::new();
    opts.create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_made_here_and_files_found_are_the_owners_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        create_private_dir(&dir).unwrap();
        private_append(&dir.join("a.jsonl")).unwrap();
        fs::write(dir.join("made-elsewhere.db"), b"x").unwrap();
        fs::set_permissions(
            dir.join("made-elsewhere.db"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        assert_eq!(mode(&dir.join("a.jsonl")), 0o600);
        restrict_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("made-elsewhere.db")), 0o600);
    }
}
