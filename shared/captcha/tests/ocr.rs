//! OCR resistance of image captchas: tesseract, with its default settings,
//! must read fewer than 10% of them, while it does read clean renderings of
//! the same font (the control, so a broken tesseract cannot pass vacuously).
//!
//! Needs the `tesseract` binary: `apt-get install -y tesseract-ocr`.

use redline_captcha::{render_plain_png, render_png, render_png_with_margin, CODE_ALPHABET};
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

const SAMPLES: usize = 100;
/// The contract: fewer than 10% of the samples may be read.
const MAX_READ: usize = SAMPLES / 10;
const CONTROLS: usize = 20;
/// Tesseract reads about 75% of the clean controls exactly; a quarter is a
/// floor that a working tesseract misses with negligible probability.
const MIN_CONTROLS_READ: usize = CONTROLS / 4;
/// The white border the controls have: tesseract's default page segmentation
/// finds no text without one, so the captchas are also tried with it.
const BORDER: usize = 20;
const INSTALL_HINT: &str = "run `apt-get install -y tesseract-ocr`";

/// Random codes and seeds from std's randomly keyed hasher: no new dependency.
struct Random {
    state: RandomState,
    counter: u64,
}

impl Random {
    fn next_u64(&mut self) -> u64 {
        self.counter += 1;
        self.state.hash_one(self.counter)
    }

    fn code(&mut self) -> String {
        (0..6)
            .map(|_| {
                let i = (self.next_u64() % CODE_ALPHABET.len() as u64) as usize;
                char::from(CODE_ALPHABET[i])
            })
            .collect()
    }

    fn seed(&mut self) -> [u8; 32] {
        let mut seed = [0u8; 32];
        for chunk in seed.chunks_exact_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        seed
    }
}

/// A temporary directory removed on drop, even when an assertion fails.
struct TempDir(PathBuf);

impl TempDir {
    fn new(random: &mut Random) -> Self {
        let name = format!(
            "redline-captcha-ocr-{}-{:x}",
            std::process::id(),
            random.next_u64()
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).expect("create the temp dir");
        TempDir(path)
    }

    fn write(&self, name: &str, png: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, png).expect("write an image");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Fails, never skips, when tesseract is missing: a skipped check would
/// silently stop guarding the contract.
fn require_tesseract() {
    match Command::new("tesseract").arg("--version").output() {
        Ok(out) => assert!(
            out.status.success(),
            "`tesseract --version` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            panic!("tesseract is not installed: {INSTALL_HINT}")
        }
        Err(e) => panic!("cannot run tesseract ({e}): {INSTALL_HINT}"),
    }
}

/// `tesseract <file> stdout` with default recognition settings, normalised
/// to upper-case alphanumerics. One OpenMP thread per process: the images
/// are read several at a time instead.
fn tesseract(path: &Path) -> String {
    let out = Command::new("tesseract")
        .arg(path)
        .arg("stdout")
        .env("OMP_THREAD_LIMIT", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run tesseract ({e}): {INSTALL_HINT}"));
    assert!(
        out.status.success(),
        "tesseract failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Reads every image, a few at a time, keeping the input order.
fn read_all(paths: &[PathBuf]) -> Vec<String> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let per_worker = paths.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .chunks(per_worker)
            .map(|chunk| scope.spawn(|| chunk.iter().map(|p| tesseract(p)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("an OCR worker panicked"))
            .collect()
    })
}

/// The codes that tesseract read exactly.
fn exact_reads(codes: &[String], reads: &[String]) -> Vec<String> {
    codes
        .iter()
        .zip(reads)
        .filter(|(code, read)| code == read)
        .map(|(code, _)| code.clone())
        .collect()
}

#[test]
fn tesseract_reads_fewer_than_a_tenth_of_image_captchas() {
    require_tesseract();
    let mut random = Random {
        state: RandomState::new(),
        counter: 0,
    };
    let dir = TempDir::new(&mut random);

    // Control: clean renderings of the same font must be readable, which
    // shows tesseract works and that the font itself is not what defeats it.
    let control_codes: Vec<String> = (0..CONTROLS).map(|_| random.code()).collect();
    let control_paths: Vec<PathBuf> = control_codes
        .iter()
        .enumerate()
        .map(|(i, code)| dir.write(&format!("control-{i}.png"), &render_plain_png(code)))
        .collect();
    let control_reads = read_all(&control_paths);
    let controls_read = exact_reads(&control_codes, &control_reads);
    println!(
        "tesseract read {}/{CONTROLS} clean control renderings",
        controls_read.len()
    );
    assert!(
        controls_read.len() >= MIN_CONTROLS_READ,
        "tesseract read only {}/{CONTROLS} clean renderings, so the captcha check \
         would prove nothing; codes vs reads: {:?}",
        controls_read.len(),
        control_codes.iter().zip(&control_reads).collect::<Vec<_>>()
    );

    // The captchas exactly as served, and again on the control's border.
    let mut codes = Vec::new();
    let mut served = Vec::new();
    let mut bordered = Vec::new();
    for i in 0..SAMPLES {
        let (code, seed) = (random.code(), random.seed());
        served.push(dir.write(&format!("captcha-{i}.png"), &render_png(&code, seed)));
        let framed = render_png_with_margin(&code, seed, BORDER);
        bordered.push(dir.write(&format!("bordered-{i}.png"), &framed));
        codes.push(code);
    }
    let served_read = exact_reads(&codes, &read_all(&served));
    let bordered_read = exact_reads(&codes, &read_all(&bordered));
    println!(
        "tesseract read {}/{SAMPLES} captchas as served, {}/{SAMPLES} with a {BORDER}px white border",
        served_read.len(),
        bordered_read.len()
    );
    assert!(
        served_read.len() < MAX_READ,
        "tesseract read {}/{SAMPLES} captchas (must be under {MAX_READ}): {served_read:?}",
        served_read.len()
    );
    assert!(
        bordered_read.len() < MAX_READ,
        "with a white border tesseract read {}/{SAMPLES} captchas (must be under {MAX_READ}): \
         {bordered_read:?}",
        bordered_read.len()
    );
}
