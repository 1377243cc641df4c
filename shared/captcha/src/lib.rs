//! Image CAPTCHA renderer: draws a short code as a small, noisy RGB PNG.
//!
//! Glyphs come from a hand-made stroke font so the crate needs no font files.
//! Each glyph is posed at random (rotation, shear, scale, offset), the whole
//! drawing is bent by a sine warp, and dark interference curves and speckles
//! cross it, so that OCR cannot separate the letters cleanly. Colours differ
//! in hue (which people see) far more than in lightness (which OCR
//! binarisation sees).

/// Characters a code may use: no 0/O, 1/I/L, so none can be mistaken for another.
pub const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

const WIDTH: usize = 160;
const HEIGHT: usize = 60;
/// Longer codes are cut so the drawing stays legible and its cost bounded.
const MAX_CHARS: usize = 8;

/// Stroke font on a grid x 0..=6, y 0..=9 (y grows downward). A glyph is a
/// list of polylines separated by spaces; each point is two digits "xy".
const FONT: [(u8, &str); 31] = [
    (b'A', "093069 1656"),
    (b'B', "0009 004051534404 045465685909"),
    (b'C', "6240200207294967"),
    (b'D', "00306366390900"),
    (b'E', "60000969 0454"),
    (b'F', "600009 0454"),
    (b'G', "62402002072949676535"),
    (b'H', "0009 6069 0464"),
    (b'J', "6067491907"),
    (b'K', "0009 6005 2369"),
    (b'M', "0900356069"),
    (b'N', "09006960"),
    (b'P', "09005061645505"),
    (b'Q', "204062674929070220 3669"),
    (b'R', "09005061645505 3569"),
    (b'S', "615010010314556668591908"),
    (b'T', "0060 3039"),
    (b'U', "000729496760"),
    (b'V', "003960"),
    (b'W', "0019345960"),
    (b'X', "0069 6009"),
    (b'Y', "003460 3439"),
    (b'Z', "00600969"),
    (b'2', "02204062630969"),
    (b'3', "01105061635424 546568591908"),
    (b'4', "59500666"),
    (b'5', "601014436567491908"),
    (b'6', "5020030729496766442406"),
    (b'7', "006029"),
    (b'8', "204051534424131120 145465685919080514"),
    (b'9', "1949666240200203254563"),
];

/// Drawn for characters outside the alphabet: a plain box, so nothing panics.
const UNKNOWN_GLYPH: &str = "0060690900";

type Pt = (f32, f32);
type Rgb = [f32; 3];

const WHITE: Rgb = [255.0; 3];

/// Renders `code` (characters from CODE_ALPHABET) as a PNG; `seed` drives the noise and distortion.
///
/// Lower-case letters are drawn as upper case, other characters as a box;
/// at most 8 characters are drawn (codes are six long).
pub fn render_png(code: &str, seed: [u8; 32]) -> Vec<u8> {
    encode(&render_captcha(code, seed))
}

/// The same CAPTCHA as `render_png`, centred on a white border `margin`
/// pixels wide (at most 100). For the OCR test only: tesseract's default page
/// segmentation needs a border, so this checks that the distortion, not the
/// tight crop, is what defeats it.
#[doc(hidden)]
pub fn render_png_with_margin(code: &str, seed: [u8; 32], margin: usize) -> Vec<u8> {
    encode(&render_captcha(code, seed).with_margin(margin.min(100)))
}

/// Clean black-on-white rendering of the same font with wide margins, for
/// the OCR test as a control: tesseract must be able to read this one.
#[doc(hidden)]
pub fn render_plain_png(code: &str) -> Vec<u8> {
    let chars = drawn_chars(code);
    let advance = 32.0;
    let margin = 20;
    // At least one cell wide: a PNG cannot be zero pixels wide.
    let mut canvas = Canvas::new(chars.len().max(1) * advance as usize, HEIGHT);
    canvas.fill(WHITE);
    let mut cov = Coverage::new(canvas.width, canvas.height);
    for (i, &c) in chars.iter().enumerate() {
        let pose = Pose {
            cx: advance * (i as f32 + 0.5),
            cy: HEIGHT as f32 / 2.0,
            sx: 4.0,
            sy: 4.0,
            angle: 0.0,
            shear: 0.0,
        };
        for points in glyph_lines(c, &pose) {
            let stroke = Stroke { points, width: 3.4 };
            draw_stroke(&mut canvas, &mut cov, &stroke, [0.0; 3]);
        }
    }
    encode(&canvas.with_margin(margin))
}

/// Writing a small, valid image into memory has no failure mode; should one
/// appear, an empty result is still better than a panic in a request handler.
fn encode(canvas: &Canvas) -> Vec<u8> {
    canvas.encode_png().unwrap_or_default()
}

/// Draws the CAPTCHA, back to front: background, texture, text, interference.
fn render_captcha(code: &str, seed: [u8; 32]) -> Canvas {
    let mut rng = Rng::from_seed(seed);
    let mut canvas = Canvas::new(WIDTH, HEIGHT);
    paint_background(&mut canvas, &mut rng);
    let warp = Warp::random(&mut rng);
    let mut cov = Coverage::new(WIDTH, HEIGHT);
    // Faint light curves: texture that OCR ignores at no cost, but that keeps
    // the background from being one colour a simple filter could remove.
    for _ in 0..3 {
        let colour = light_colour(&mut rng);
        let width = rng.range(0.8, 1.4);
        let line = interference_curve(&mut rng, width);
        draw_stroke(&mut canvas, &mut cov, &warp.apply(&line), colour);
    }
    for glyph in layout_glyphs(code, &mut rng) {
        for line in &glyph.lines {
            draw_stroke(&mut canvas, &mut cov, &warp.apply(line), glyph.colour);
        }
    }
    // Dark curves over the text: they join the letters into one blob for a
    // segmenter, while a person tells them from glyphs by weight and colour.
    for _ in 0..2 {
        let colour = dark_colour(&mut rng);
        let width = rng.range(1.4, 1.9);
        let line = interference_curve(&mut rng, width);
        draw_stroke(&mut canvas, &mut cov, &warp.apply(&line), colour);
    }
    add_speckles(&mut canvas, &mut cov, &mut rng);
    canvas
}

/// The characters to draw: upper-cased and capped at MAX_CHARS.
fn drawn_chars(code: &str) -> Vec<u8> {
    code.chars()
        .take(MAX_CHARS)
        .map(|c| match u8::try_from(c) {
            Ok(b) => b.to_ascii_uppercase(),
            Err(_) => b'?',
        })
        .collect()
}

/// Small non-cryptographic PRNG (splitmix64): the seed is already random,
/// this only stretches it into many draws.
struct Rng(u64);

impl Rng {
    fn from_seed(seed: [u8; 32]) -> Self {
        let mut rng = Rng(0x243F_6A88_85A3_08D3);
        // Fold every seed byte in, mixing after each word so that changes in
        // different words cannot cancel out.
        for chunk in seed.chunks_exact(8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            rng.0 ^= u64::from_le_bytes(word);
            rng.0 = rng.next_u64();
        }
        rng
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in [-amount, amount].
    fn signed(&mut self, amount: f32) -> f32 {
        self.range(-amount, amount)
    }
}

/// RGB image with float channels (0..=255) so blending does not band.
struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<Rgb>,
}

impl Canvas {
    fn new(width: usize, height: usize) -> Self {
        Canvas {
            width,
            height,
            pixels: vec![[0.0; 3]; width * height],
        }
    }

    fn fill(&mut self, colour: Rgb) {
        self.pixels.fill(colour);
    }

    /// A copy of this image centred on a white border `margin` pixels wide.
    fn with_margin(&self, margin: usize) -> Canvas {
        let mut out = Canvas::new(self.width + 2 * margin, self.height + 2 * margin);
        out.fill(WHITE);
        for y in 0..self.height {
            let row = &self.pixels[y * self.width..(y + 1) * self.width];
            let start = (y + margin) * out.width + margin;
            out.pixels[start..start + self.width].copy_from_slice(row);
        }
        out
    }

    fn encode_png(&self) -> Result<Vec<u8>, png::EncodingError> {
        let data: Vec<u8> = self.pixels.iter().flat_map(|p| p.map(quantise)).collect();
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Balanced);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&data)?;
        writer.finish()?;
        Ok(out)
    }
}

/// Rounds a channel to one of 16 levels (multiples of 17): the banding is
/// invisible among the noise and roughly halves the compressed size.
fn quantise(c: f32) -> u8 {
    ((c / 17.0).round() * 17.0).clamp(0.0, 255.0) as u8
}

/// Per-pixel ink coverage of the stroke being drawn. Taking the maximum over
/// its segments keeps joints from being darkened twice.
struct Coverage {
    width: usize,
    height: usize,
    cov: Vec<f32>,
    /// Touched rectangle (x0, y0, x1, y1), exclusive ends, to blend and clear.
    dirty: (usize, usize, usize, usize),
}

impl Coverage {
    fn new(width: usize, height: usize) -> Self {
        Coverage {
            width,
            height,
            cov: vec![0.0; width * height],
            dirty: (width, height, 0, 0),
        }
    }

    fn stamp_segment(&mut self, a: Pt, b: Pt, half_width: f32) {
        let reach = half_width + 1.0;
        let x0 = clamp_index(a.0.min(b.0) - reach, self.width);
        let x1 = clamp_index(a.0.max(b.0) + reach + 1.0, self.width);
        let y0 = clamp_index(a.1.min(b.1) - reach, self.height);
        let y1 = clamp_index(a.1.max(b.1) + reach + 1.0, self.height);
        for y in y0..y1 {
            for x in x0..x1 {
                let d = segment_distance((x as f32 + 0.5, y as f32 + 0.5), a, b);
                // One pixel of linear falloff gives cheap anti-aliasing.
                let c = (half_width - d + 0.5).clamp(0.0, 1.0);
                let cell = &mut self.cov[y * self.width + x];
                *cell = cell.max(c);
            }
        }
        let d = &mut self.dirty;
        *d = (d.0.min(x0), d.1.min(y0), d.2.max(x1), d.3.max(y1));
    }

    /// Paints `colour` through the coverage onto the canvas, then clears it.
    fn flush(&mut self, canvas: &mut Canvas, colour: Rgb) {
        let (x0, y0, x1, y1) = self.dirty;
        for y in y0..y1 {
            for x in x0..x1 {
                let i = y * self.width + x;
                let c = std::mem::take(&mut self.cov[i]);
                let p = &mut canvas.pixels[i];
                for ch in 0..3 {
                    p[ch] += (colour[ch] - p[ch]) * c;
                }
            }
        }
        self.dirty = (self.width, self.height, 0, 0);
    }
}

/// Floors a coordinate into 0..=len, so out-of-image geometry is clipped.
fn clamp_index(v: f32, len: usize) -> usize {
    if v.is_nan() || v <= 0.0 {
        0
    } else {
        (v as usize).min(len)
    }
}

fn segment_distance(p: Pt, a: Pt, b: Pt) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (ex, ey) = (p.0 - (a.0 + t * dx), p.1 - (a.1 + t * dy));
    (ex * ex + ey * ey).sqrt()
}

/// A polyline with a pen width, in pixel coordinates.
struct Stroke {
    points: Vec<Pt>,
    width: f32,
}

fn draw_stroke(canvas: &mut Canvas, cov: &mut Coverage, stroke: &Stroke, colour: Rgb) {
    let half = stroke.width / 2.0;
    match stroke.points.as_slice() {
        [] => return,
        [p] => cov.stamp_segment(*p, *p, half),
        pts => {
            for pair in pts.windows(2) {
                cov.stamp_segment(pair[0], pair[1], half);
            }
        }
    }
    cov.flush(canvas, colour);
}

/// Light background: a random gradient plus slow ripples, so there is no
/// single background colour to threshold away.
fn paint_background(canvas: &mut Canvas, rng: &mut Rng) {
    let from = light_colour(rng);
    let to = light_colour(rng);
    let ripples: Vec<(f32, f32, f32, f32)> = (0..3)
        .map(|_| {
            (
                rng.signed(0.12),
                rng.signed(0.12),
                rng.signed(3.2),
                rng.range(6.0, 14.0),
            )
        })
        .collect();
    for y in 0..canvas.height {
        for x in 0..canvas.width {
            let t = x as f32 / canvas.width as f32;
            let (fx, fy) = (x as f32, y as f32);
            let wobble: f32 = ripples
                .iter()
                .map(|&(kx, ky, phase, amp)| amp * (kx * fx + ky * fy + phase).sin())
                .sum();
            let p = &mut canvas.pixels[y * canvas.width + x];
            for ch in 0..3 {
                p[ch] = (from[ch] + (to[ch] - from[ch]) * t + wobble).clamp(0.0, 255.0);
            }
        }
    }
}

/// A random pastel: dark text and lines stay far from it in lightness.
fn light_colour(rng: &mut Rng) -> Rgb {
    [
        rng.range(190.0, 250.0),
        rng.range(190.0, 250.0),
        rng.range(190.0, 250.0),
    ]
}

/// A random dark colour for text and the lines that mimic it.
fn dark_colour(rng: &mut Rng) -> Rgb {
    let tint = (rng.next_u64() % 3) as usize;
    tinted_dark_colour(rng, tint)
}

/// A dark colour whose channel `tint` (0..3) is lifted: hues then differ
/// visibly for a person while lightness, all that OCR binarisation keeps,
/// stays low.
fn tinted_dark_colour(rng: &mut Rng, tint: usize) -> Rgb {
    let mut c = [
        rng.range(10.0, 90.0),
        rng.range(10.0, 90.0),
        rng.range(10.0, 90.0),
    ];
    c[tint % 3] += rng.range(40.0, 90.0);
    c
}

/// Smooth 2-D displacement applied to all dark geometry: bends baselines and
/// strokes so no glyph matches a font template.
struct Warp {
    ax: f32,
    kx: f32,
    px: f32,
    ay: f32,
    ky: f32,
    py: f32,
}

impl Warp {
    fn random(rng: &mut Rng) -> Self {
        Warp {
            ax: rng.range(0.8, 1.5),
            kx: rng.range(0.05, 0.09),
            px: rng.signed(3.2),
            ay: rng.range(2.0, 3.5),
            ky: rng.range(0.03, 0.06),
            py: rng.signed(3.2),
        }
    }

    fn map(&self, p: Pt) -> Pt {
        (
            p.0 + self.ax * (p.1 * self.kx + self.px).sin(),
            p.1 + self.ay * (p.0 * self.ky + self.py).sin(),
        )
    }

    /// Subdivides the stroke first so straight segments bend with the warp.
    fn apply(&self, stroke: &Stroke) -> Stroke {
        let mut points = Vec::new();
        for pair in stroke.points.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
            let steps = (len / 2.0).ceil().clamp(1.0, 200.0) as usize;
            for s in 0..steps {
                let t = s as f32 / steps as f32;
                points.push(self.map((a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)));
            }
        }
        if let Some(&last) = stroke.points.last() {
            points.push(self.map(last));
        }
        Stroke {
            points,
            width: stroke.width,
        }
    }
}

/// Where and how one glyph is drawn; sizes are pixels per font-grid unit.
struct Pose {
    cx: f32,
    cy: f32,
    sx: f32,
    sy: f32,
    angle: f32,
    shear: f32,
}

impl Pose {
    /// Grid point to pixels: centre, shear, scale, rotate, then place.
    fn place(&self, (gx, gy): Pt) -> Pt {
        let v = (gy - 4.5) * self.sy;
        let u = (gx - 3.0) * self.sx + self.shear * v;
        let (s, c) = self.angle.sin_cos();
        (self.cx + u * c - v * s, self.cy + u * s + v * c)
    }
}

/// One glyph's strokes and their shared colour.
struct Glyph {
    lines: Vec<Stroke>,
    colour: Rgb,
}

/// Poses each character at random along a tight baseline: neighbours often
/// touch, which defeats OCR's character segmentation.
fn layout_glyphs(code: &str, rng: &mut Rng) -> Vec<Glyph> {
    let chars = drawn_chars(code);
    let n = chars.len().max(1) as f32;
    let advance = ((WIDTH as f32 - 20.0) / n).min(24.0);
    let start = (WIDTH as f32 - advance * n) / 2.0;
    // Neighbours get different tints so touching glyphs stay apart to a person.
    let first_tint = (rng.next_u64() % 3) as usize;
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let pose = Pose {
                cx: start + advance * (i as f32 + 0.5) + rng.signed(1.5),
                cy: HEIGHT as f32 / 2.0 + rng.signed(3.0),
                sx: rng.range(3.0, 3.4),
                sy: rng.range(3.4, 3.9),
                angle: rng.signed(0.25),
                shear: rng.signed(0.2),
            };
            let width = rng.range(2.8, 3.6);
            let lines = glyph_lines(c, &pose)
                .into_iter()
                .map(|points| Stroke { points, width })
                .collect();
            Glyph {
                lines,
                colour: tinted_dark_colour(rng, first_tint + i),
            }
        })
        .collect()
}

/// The font polylines of `c` placed by `pose`, in pixels.
fn glyph_lines(c: u8, pose: &Pose) -> Vec<Vec<Pt>> {
    let spec = FONT
        .iter()
        .find(|(ch, _)| *ch == c)
        .map_or(UNKNOWN_GLYPH, |(_, spec)| spec);
    spec.split(' ')
        .map(|line| {
            line.as_bytes()
                .chunks_exact(2)
                .map(|xy| pose.place((grid(xy[0]), grid(xy[1]))))
                .collect()
        })
        .collect()
}

fn grid(digit: u8) -> f32 {
    f32::from(digit.saturating_sub(b'0'))
}

/// A cubic Bézier from the left edge to the right edge, wandering through
/// the text band, as a polyline.
fn interference_curve(rng: &mut Rng, width: f32) -> Stroke {
    let h = HEIGHT as f32;
    let w = WIDTH as f32;
    let p = [
        (rng.range(-10.0, 30.0), rng.range(0.2 * h, 0.8 * h)),
        (rng.range(0.2 * w, 0.5 * w), rng.range(-0.2 * h, 1.2 * h)),
        (rng.range(0.5 * w, 0.8 * w), rng.range(-0.2 * h, 1.2 * h)),
        (rng.range(w - 30.0, w + 10.0), rng.range(0.2 * h, 0.8 * h)),
    ];
    let points = (0..=40)
        .map(|i| {
            let t = i as f32 / 40.0;
            let m = 1.0 - t;
            let (b0, b1, b2, b3) = (m * m * m, 3.0 * m * m * t, 3.0 * m * t * t, t * t * t);
            (
                b0 * p[0].0 + b1 * p[1].0 + b2 * p[2].0 + b3 * p[3].0,
                b0 * p[0].1 + b1 * p[1].1 + b2 * p[2].1 + b3 * p[3].1,
            )
        })
        .collect();
    Stroke { points, width }
}

/// Dots of random light and dark colours: dark ones add false ink, light ones
/// nick the strokes.
fn add_speckles(canvas: &mut Canvas, cov: &mut Coverage, rng: &mut Rng) {
    for _ in 0..110 {
        let p = (rng.range(0.0, WIDTH as f32), rng.range(0.0, HEIGHT as f32));
        let colour = if rng.unit() < 0.5 {
            dark_colour(rng)
        } else {
            light_colour(rng)
        };
        let dot = Stroke {
            points: vec![p],
            width: rng.range(1.0, 2.2),
        };
        draw_stroke(canvas, cov, &dot, colour);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNATURE: &[u8] = &[0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n'];

    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("valid PNG header");
        let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
        let info = reader.next_frame(&mut buf).expect("valid PNG data");
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn seed(n: u8) -> [u8; 32] {
        let mut s = [0u8; 32];
        s[0] = n;
        s[31] = n.wrapping_mul(7);
        s
    }

    #[test]
    fn output_is_a_png_of_the_expected_size() {
        let bytes = render_png("AB23XY", seed(1));
        assert!(bytes.starts_with(SIGNATURE));
        let (w, h, data) = decode(&bytes);
        assert_eq!((w as usize, h as usize), (WIDTH, HEIGHT));
        assert_eq!(data.len(), WIDTH * HEIGHT * 3);
    }

    #[test]
    fn output_is_small() {
        let bytes = render_png("KM7P9Q", seed(2));
        assert!(bytes.len() < 9_000, "{} bytes", bytes.len());
    }

    #[test]
    fn same_seed_gives_same_image() {
        assert_eq!(render_png("HJK345", seed(3)), render_png("HJK345", seed(3)));
    }

    #[test]
    fn different_seeds_give_different_images() {
        assert_ne!(render_png("HJK345", seed(4)), render_png("HJK345", seed(5)));
    }

    #[test]
    fn every_seed_byte_matters() {
        let base = render_png("ABCDEF", [0; 32]);
        for i in 0..32 {
            let mut s = [0; 32];
            s[i] = 1;
            assert_ne!(render_png("ABCDEF", s), base, "seed byte {i} ignored");
        }
    }

    #[test]
    fn the_code_changes_the_image() {
        assert_ne!(render_png("AAAAAA", seed(6)), render_png("BBBBBB", seed(6)));
    }

    #[test]
    fn odd_input_does_not_panic() {
        for code in ["", "a", "abc?!é漢字", "\0\u{FFFF}", &"Z".repeat(10_000)] {
            let bytes = render_png(code, seed(7));
            assert_eq!(decode(&bytes).0 as usize, WIDTH);
            assert!(render_plain_png(code).starts_with(SIGNATURE));
        }
    }

    #[test]
    fn font_covers_the_alphabet_with_well_formed_glyphs() {
        for &c in CODE_ALPHABET {
            let (_, spec) = FONT.iter().find(|(ch, _)| *ch == c).expect("glyph");
            for line in spec.split(' ') {
                assert!(
                    line.len() >= 4 && line.len() % 2 == 0,
                    "{}: {line}",
                    c as char
                );
                assert!(line.bytes().all(|b| b.is_ascii_digit() && b <= b'9'));
                let xs = line.bytes().step_by(2);
                assert!(xs.into_iter().all(|x| x <= b'6'), "{}: x > 6", c as char);
            }
        }
        assert_eq!(FONT.len(), CODE_ALPHABET.len());
    }

    #[test]
    fn plain_rendering_is_black_on_white_with_a_border() {
        let (w, h, data) = decode(&render_plain_png("ABC"));
        assert_eq!((w, h), (3 * 32 + 40, HEIGHT as u32 + 40));
        assert!(data.iter().all(|&b| b % 17 == 0), "quantised");
        assert!(data.contains(&0));
        assert_eq!(&data[..3], &[255, 255, 255]);
    }

    #[test]
    fn margin_variant_surrounds_the_same_captcha_with_white() {
        let (w, h, framed) = decode(&render_png_with_margin("AB23XY", seed(8), 10));
        assert_eq!((w as usize, h as usize), (WIDTH + 20, HEIGHT + 20));
        assert_eq!(&framed[..3], &[255, 255, 255]);
        let (_, _, bare) = decode(&render_png("AB23XY", seed(8)));
        let row = 3 * WIDTH;
        let inner = 3 * (10 * (WIDTH + 20) + 10);
        assert_eq!(&framed[inner..inner + row], &bare[..row]);
        let (w, _, _) = decode(&render_png_with_margin("A", seed(8), usize::MAX));
        assert_eq!(w as usize, WIDTH + 200);
    }
}
