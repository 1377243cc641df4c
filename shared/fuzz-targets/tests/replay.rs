//! Replays every committed fuzz input (`fuzz/corpus/<target>/` and the regressions kept in
//! `fuzz/artifacts/<target>/`) through its target, so `cargo test` holds what the fuzzing found.

use redline_fuzz_targets::TARGETS;
use std::path::{Path, PathBuf};

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_committed_input_passes_its_target() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    for (name, target) in TARGETS {
        let corpus = inputs(&fuzz.join("corpus").join(name));
        assert!(!corpus.is_empty(), "{name}: no committed corpus");
        for path in corpus
            .iter()
            .chain(&inputs(&fuzz.join("artifacts").join(name)))
        {
            let data = std::fs::read(path).expect("a readable input");
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name}: {} fails", path.display());
        }
    }
}
