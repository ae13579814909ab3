//! Drawing a face's box and its name/emotion label as a small BGRA sprite.
//!
//! Each face becomes one sprite covering its box (and its label where the label is
//! wider); the plugin hands sprites to GStreamer as overlay rectangles, so only the
//! pixels under faces are ever touched.

use crate::rect::Rect;
use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use std::sync::LazyLock;

static FONT_DATA: &[u8] = include_bytes!("fonts/DejaVuSansCondensed-Bold.ttf");
static FONT: LazyLock<Option<FontRef<'static>>> = LazyLock::new(|| FontRef::try_from_slice(FONT_DATA).ok());

/// Colour of faces nobody in the gallery matched (and of faces without identity).
pub const UNKNOWN_COLOUR: [u8; 3] = [150, 150, 150];

/// Well separated, saturated colours; person N gets entry N modulo the length.
const PALETTE: [[u8; 3]; 12] = [
    [230, 25, 75],
    [60, 180, 75],
    [0, 130, 200],
    [245, 130, 48],
    [145, 30, 180],
    [70, 240, 240],
    [240, 50, 230],
    [210, 245, 60],
    [255, 225, 25],
    [0, 128, 128],
    [170, 110, 40],
    [128, 0, 0],
];

/// The colour of a gallery person (`label_id`), or the neutral colour for unknown (< 0).
pub fn person_colour(label_id: i32) -> [u8; 3] {
    if label_id < 0 {
        UNKNOWN_COLOUR
    } else {
        PALETTE[label_id as usize % PALETTE.len()]
    }
}

/// What to draw for one face.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceLabel {
    /// x, y, width, height in frame pixels.
    pub bbox: Rect,
    /// RGB of the box and label panel.
    pub colour: [u8; 3],
    /// Lines at the bottom of the box, top to bottom (name, then emotion).
    pub lines: Vec<String>,
}

/// A rendered overlay: straight (not premultiplied) alpha, bytes B, G, R, A.
#[derive(Debug, Clone, PartialEq)]
pub struct Sprite {
    pub x: i32,
    pub y: i32,
    pub width: usize,
    pub height: usize,
    pub bgra: Vec<u8>,
}

impl Sprite {
    fn blend(&mut self, x: i32, y: i32, rgb: [u8; 3], alpha: f32) {
        if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height || alpha <= 0.0 {
            return;
        }
        let i = (y as usize * self.width + x as usize) * 4;
        let px = &mut self.bgra[i..i + 4];
        let da = px[3] as f32 / 255.0;
        let oa = alpha + da * (1.0 - alpha);
        let mix = |s: u8, d: u8| ((s as f32 * alpha + d as f32 * da * (1.0 - alpha)) / oa).round() as u8;
        px[0] = mix(rgb[2], px[0]);
        px[1] = mix(rgb[1], px[1]);
        px[2] = mix(rgb[0], px[2]);
        px[3] = (oa * 255.0).round() as u8;
    }

    fn fill(&mut self, x0: i32, y0: i32, x1: i32, y1: i32, rgb: [u8; 3], alpha: f32) {
        for y in y0.max(0)..y1.min(self.height as i32) {
            for x in x0.max(0)..x1.min(self.width as i32) {
                self.blend(x, y, rgb, alpha);
            }
        }
    }
}

/// Text height for a box: large enough to read, small enough for two lines to fit.
pub fn text_size(bbox: &Rect) -> f32 {
    (bbox.w.min(bbox.h) * 0.16).clamp(11.0, 48.0)
}

fn text_width(font: &FontRef<'static>, scale: PxScale, text: &str) -> f32 {
    let sf = font.as_scaled(scale);
    let mut w = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let g = sf.glyph_id(c);
        if let Some(p) = prev {
            w += sf.kern(p, g);
        }
        w += sf.h_advance(g);
        prev = Some(g);
    }
    w
}

fn draw_text(sprite: &mut Sprite, font: &FontRef<'static>, scale: PxScale, x: f32, top: f32, text: &str, rgb: [u8; 3]) {
    let sf = font.as_scaled(scale);
    let baseline = top + sf.ascent();
    let mut caret = x;
    let mut prev = None;
    for c in text.chars() {
        let id = sf.glyph_id(c);
        if let Some(p) = prev {
            caret += sf.kern(p, id);
        }
        prev = Some(id);
        let glyph = id.with_scale_and_position(scale, point(caret, baseline));
        caret += sf.h_advance(id);
        if let Some(outline) = font.outline_glyph(glyph) {
            let b = outline.px_bounds();
            outline.draw(|gx, gy, coverage| {
                sprite.blend(
                    b.min.x as i32 + gx as i32,
                    b.min.y as i32 + gy as i32,
                    rgb,
                    coverage.min(1.0),
                );
            });
        }
    }
}

/// Renders one face's box and label, clipped to a `frame_w`×`frame_h` frame.
/// Returns `None` when nothing of it falls inside the frame.
pub fn render_face(label: &FaceLabel, frame_w: usize, frame_h: usize) -> Option<Sprite> {
    let [bx, by, bw, bh] = label.bbox.xywh();
    let thick = (bw.min(bh) / 50.0).round().clamp(2.0, 6.0) as i32;
    let size = text_size(&label.bbox);
    let scale = PxScale::from(size);
    let font = FONT.as_ref();
    let pad = (size * 0.2).ceil();
    let line_h = (size * 1.15).ceil();
    let text_w = font.map_or(0.0, |f| {
        label.lines.iter().map(|l| text_width(f, scale, l)).fold(0.0, f32::max)
    });
    let panel_w = (text_w + 2.0 * pad).max(bw);
    let panel_h = if label.lines.is_empty() {
        0.0
    } else {
        line_h * label.lines.len() as f32 + 2.0 * pad
    };
    // The panel sits inside the bottom of the box, or below it when the box is too short.
    let panel_y = if panel_h <= bh { by + bh - panel_h } else { by + bh };

    // Sprite rectangle = box ∪ panel, clipped to the frame.
    let x0 = bx.floor().max(0.0) as i32;
    let y0 = by.floor().max(0.0) as i32;
    let x1 = ((bx + panel_w.max(bw)).ceil() as i32).min(frame_w as i32);
    let y1 = ((panel_y + panel_h).max(by + bh).ceil() as i32).min(frame_h as i32);
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let (w, h) = ((x1 - x0) as usize, (y1 - y0) as usize);
    let mut s = Sprite {
        x: x0,
        y: y0,
        width: w,
        height: h,
        bgra: vec![0; w * h * 4],
    };
    let (ox, oy) = (bx - x0 as f32, by - y0 as f32);
    let (l, t) = (ox.round() as i32, oy.round() as i32);
    let (r, b) = ((ox + bw).round() as i32, (oy + bh).round() as i32);
    // Box outline.
    s.fill(l, t, r, t + thick, label.colour, 1.0);
    s.fill(l, b - thick, r, b, label.colour, 1.0);
    s.fill(l, t, l + thick, b, label.colour, 1.0);
    s.fill(r - thick, t, r, b, label.colour, 1.0);
    if let (Some(font), false) = (font, label.lines.is_empty()) {
        // A dark tint of the person's colour under white text reads on any background.
        let dark = label.colour.map(|c| (c as f32 * 0.45) as u8);
        let py = panel_y - y0 as f32;
        s.fill(
            l,
            py.round() as i32,
            (ox + panel_w).round() as i32,
            (py + panel_h).round() as i32,
            dark,
            0.82,
        );
        for (i, line) in label.lines.iter().enumerate() {
            draw_text(
                &mut s,
                font,
                scale,
                ox + pad,
                py + pad + i as f32 * line_h,
                line,
                [255, 255, 255],
            );
        }
    }
    Some(s)
}

/// White lines of `text_px`-high text on a dark translucent panel, at (0, 0): for
/// notices drawn over a picture (face-rtsp's "no signal" banner). `None` without a font
/// or without lines.
pub fn render_panel(lines: &[String], text_px: f32) -> Option<Sprite> {
    let font = FONT.as_ref()?;
    if lines.is_empty() {
        return None;
    }
    let scale = PxScale::from(text_px.max(6.0));
    let pad = (text_px * 0.5).ceil();
    let line_h = (text_px * 1.25).ceil();
    let text_w = lines.iter().map(|l| text_width(font, scale, l)).fold(0.0, f32::max);
    let (w, h) = (
        (text_w + 2.0 * pad).ceil() as usize,
        (line_h * lines.len() as f32 + 2.0 * pad).ceil() as usize,
    );
    let mut s = Sprite {
        x: 0,
        y: 0,
        width: w,
        height: h,
        bgra: vec![0; w * h * 4],
    };
    s.fill(0, 0, w as i32, h as i32, [20, 20, 20], 0.78);
    for (i, line) in lines.iter().enumerate() {
        draw_text(&mut s, font, scale, pad, pad + i as f32 * line_h, line, [255, 255, 255]);
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sprite_has_the_box_and_white_text() {
        let label = FaceLabel {
            bbox: Rect::new(10.0, 20.0, 120.0, 150.0),
            colour: [230, 25, 75],
            lines: vec!["Ada".into(), "happy".into()],
        };
        let s = render_face(&label, 640, 360).expect("inside the frame");
        assert_eq!((s.x, s.y), (10, 20));
        assert!(s.width >= 120 && s.height >= 150);
        // Top-left corner is the box colour, opaque (B, G, R, A).
        assert_eq!(&s.bgra[0..4], &[75, 25, 230, 255]);
        // Some pixels are (nearly) white text.
        let white = s
            .bgra
            .chunks(4)
            .filter(|p| p[0] > 240 && p[1] > 240 && p[2] > 240 && p[3] > 200)
            .count();
        assert!(white > 20, "only {white} white pixels");
        // The middle of the box is untouched (transparent).
        let mid = ((75 * s.width) + 60) * 4;
        assert_eq!(s.bgra[mid + 3], 0);
    }

    #[test]
    fn faces_outside_the_frame_draw_nothing_and_edges_are_clipped() {
        let label = FaceLabel {
            bbox: Rect::new(700.0, 10.0, 50.0, 50.0),
            colour: UNKNOWN_COLOUR,
            lines: vec![],
        };
        assert!(render_face(&label, 640, 360).is_none());
        let label = FaceLabel {
            bbox: Rect::new(600.0, 330.0, 100.0, 100.0),
            colour: UNKNOWN_COLOUR,
            lines: vec!["unknown".into()],
        };
        let s = render_face(&label, 640, 360).expect("partly inside");
        assert!(s.x as usize + s.width <= 640 && s.y as usize + s.height <= 360);
    }

    #[test]
    fn a_panel_holds_its_lines_in_white_on_dark() {
        let lines = vec!["door: no signal since 09:14:03".to_string(), "reconnecting".to_string()];
        let s = render_panel(&lines, 20.0).expect("a font is built in");
        assert!(s.width > 200 && s.height >= 50, "{}x{}", s.width, s.height);
        let white = s
            .bgra
            .chunks(4)
            .filter(|p| p[0] > 240 && p[1] > 240 && p[2] > 240)
            .count();
        let dark = s.bgra.chunks(4).filter(|p| p[0] < 40 && p[3] > 150).count();
        assert!(white > 100 && dark > white, "white {white}, dark {dark}");
        assert!(render_panel(&[], 20.0).is_none());
    }
}
