//! Function code the runner owns: immutable snapshots of binaries, and the only places new code
//! may come from. A published version runs a copy of the binary taken when it was published, in
//! a directory the runner owns (`--versions-dir`), so rebuilding `target/` never changes one.
//! `UpdateFunctionCode` names a file under a `--code-dir` the runner was started with; bytes
//! uploaded in a request are never run.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// One immutable copy of a binary.
#[derive(Debug)]
pub struct Snapshot {
    pub path: PathBuf,
    pub size: u64,
    sha256: OnceLock<String>,
}

impl Snapshot {
    /// Lambda's `CodeSha256`: the base64 SHA-256 of the code, read from the copy (which nothing
    /// changes), computed on first use.
    pub fn sha256(&self) -> String {
        self.sha256.get_or_init(|| sha256_of(&self.path)).clone()
    }
}

/// The base64 SHA-256 of a file (empty when it cannot be read), as Lambda's `CodeSha256`.
pub fn sha256_of(path: &Path) -> String {
    use base64::Engine;
    let mut hasher = Sha256::new();
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        use std::io::Read;
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buffer[..n]),
            Err(_) => return String::new(),
        }
    }
    base64::engine::general_purpose::STANDARD.encode(hasher.finalize())
}

/// Identifies a file's current content cheaply: device, inode, size and modification time. A
/// file rewritten in place or replaced gets another key.
type FileKey = (u64, u64, u64, i64, i64);

fn file_key(metadata: &std::fs::Metadata) -> FileKey {
    (
        metadata.dev(),
        metadata.ino(),
        metadata.size(),
        metadata.mtime(),
        metadata.mtime_nsec(),
    )
}

/// The runner-owned directory of snapshots. Snapshots of an unchanged file are shared (the
/// fixture template runs one binary as six functions), which is safe since none is ever written.
pub struct CodeStore {
    dir: PathBuf,
    /// Removed on shutdown when the runner made it.
    owned: bool,
    taken: Mutex<HashMap<FileKey, Arc<Snapshot>>>,
    code_dirs: Vec<PathBuf>,
}

impl CodeStore {
    /// `dir` is the `--versions-dir` (created if missing); without one, a fresh directory under
    /// the system's temporary directory, removed when the runner stops.
    pub fn new(dir: Option<&Path>, code_dirs: &[PathBuf]) -> Result<CodeStore, String> {
        let (dir, owned) = match dir {
            Some(dir) => (dir.to_path_buf(), false),
            None => (
                std::env::temp_dir().join(format!(
                    "redline-local-versions-{}-{}",
                    std::process::id(),
                    crate::ids::hex(8)
                )),
                true,
            ),
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("versions directory {}: {e}", dir.display()))?;
        let mut canonical = Vec::new();
        for code_dir in code_dirs {
            let path = std::fs::canonicalize(code_dir)
                .map_err(|e| format!("--code-dir {}: {e}", code_dir.display()))?;
            if !path.is_dir() {
                return Err(format!(
                    "--code-dir {} is not a directory",
                    code_dir.display()
                ));
            }
            canonical.push(path);
        }
        Ok(CodeStore {
            dir,
            owned,
            taken: Mutex::new(HashMap::new()),
            code_dirs: canonical,
        })
    }

    /// Copies `binary` into the store (or reuses the copy of the same unchanged file).
    pub fn snapshot(&self, binary: &Path) -> Result<Arc<Snapshot>, String> {
        let metadata =
            std::fs::metadata(binary).map_err(|e| format!("{}: {e}", binary.display()))?;
        if !metadata.is_file() {
            return Err(format!("{} is not a file", binary.display()));
        }
        let key = file_key(&metadata);
        if let Some(snapshot) = self.taken.lock().expect("not poisoned").get(&key) {
            return Ok(snapshot.clone());
        }
        let name = binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "code".into());
        let path = self.dir.join(format!("{}-{name}", crate::ids::hex(12)));
        std::fs::copy(binary, &path)
            .map_err(|e| format!("cannot copy {}: {e}", binary.display()))?;
        // Read-only, and executable whatever the source's mode: the runner runs its copy.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o555))
            .map_err(|e| format!("cannot protect {}: {e}", path.display()))?;
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let snapshot = Arc::new(Snapshot {
            path,
            size,
            sha256: OnceLock::new(),
        });
        self.taken
            .lock()
            .expect("not poisoned")
            .insert(key, snapshot.clone());
        Ok(snapshot)
    }

    /// The file `key` names under one of the `--code-dir`s: a relative path is looked up in each
    /// in order, an absolute one must lie inside one. Symbolic links and `..` are resolved first,
    /// so neither leads out.
    pub fn code_file(&self, key: &str) -> Result<PathBuf, CodeRefused> {
        if self.code_dirs.is_empty() {
            return Err(CodeRefused::NoCodeDirs);
        }
        let requested = Path::new(key);
        let candidates: Vec<PathBuf> = if requested.is_absolute() {
            vec![requested.to_path_buf()]
        } else {
            self.code_dirs.iter().map(|d| d.join(requested)).collect()
        };
        for candidate in candidates {
            let Ok(real) = std::fs::canonicalize(&candidate) else {
                continue;
            };
            if !self.code_dirs.iter().any(|dir| real.starts_with(dir)) {
                return Err(CodeRefused::Outside);
            }
            if real.is_file() {
                return Ok(real);
            }
        }
        Err(CodeRefused::NotFound)
    }

    /// Removes the directory if the runner made it.
    pub fn cleanup(&self) {
        if self.owned {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Why `UpdateFunctionCode` refused a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefused {
    NoCodeDirs,
    Outside,
    NotFound,
}

impl CodeRefused {
    pub fn message(self) -> &'static str {
        match self {
            CodeRefused::NoCodeDirs => {
                "The local runner takes code only from a --code-dir, and it was started without one."
            }
            CodeRefused::Outside => "S3Key names a file outside every --code-dir.",
            CodeRefused::NotFound => "S3Key names no file under any --code-dir.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("redline-code-{name}-{}", crate::ids::hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_snapshot_does_not_follow_its_source_and_unchanged_files_share_one() {
        let source_dir = scratch("source");
        let binary = source_dir.join("fn");
        std::fs::write(&binary, b"first").unwrap();
        let store = CodeStore::new(Some(&scratch("store")), &[]).unwrap();
        let first = store.snapshot(&binary).unwrap();
        assert!(Arc::ptr_eq(&first, &store.snapshot(&binary).unwrap()));
        std::fs::write(&binary, b"second, longer").unwrap();
        assert_eq!(std::fs::read(&first.path).unwrap(), b"first");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&first.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o555, "read-only and executable");
        let second = store.snapshot(&binary).unwrap();
        assert!(!Arc::ptr_eq(&first, &second));
        assert_ne!(first.sha256(), second.sha256());
        // echo -n first | sha256sum | xxd -r -p | base64
        assert_eq!(
            first.sha256(),
            "p5N7ZLjKpY8Dchu2us9ceMsjX+vg5wsbhM2ZVBRhoI4="
        );
    }

    #[test]
    fn code_comes_only_from_inside_a_code_dir() {
        let allowed = scratch("allowed");
        let elsewhere = scratch("elsewhere");
        std::fs::write(allowed.join("auth"), b"x").unwrap();
        std::fs::write(elsewhere.join("evil"), b"x").unwrap();
        std::os::unix::fs::symlink(elsewhere.join("evil"), allowed.join("link")).unwrap();
        let none = CodeStore::new(Some(&scratch("s1")), &[]).unwrap();
        assert_eq!(none.code_file("auth"), Err(CodeRefused::NoCodeDirs));
        let store = CodeStore::new(Some(&scratch("s2")), std::slice::from_ref(&allowed)).unwrap();
        let real = std::fs::canonicalize(allowed.join("auth")).unwrap();
        assert_eq!(store.code_file("auth"), Ok(real.clone()));
        assert_eq!(store.code_file(real.to_str().unwrap()), Ok(real));
        for outside in [
            "../".to_string() + elsewhere.file_name().unwrap().to_str().unwrap() + "/evil",
            "link".to_string(),
            elsewhere.join("evil").to_string_lossy().into_owned(),
        ] {
            assert_eq!(
                store.code_file(&outside),
                Err(CodeRefused::Outside),
                "{outside}"
            );
        }
        assert_eq!(store.code_file("missing"), Err(CodeRefused::NotFound));
    }
}
