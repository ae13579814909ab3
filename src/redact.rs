//! Hiding a region of a frame: the pixel side of `faceredact`.
//!
//! A region is hidden in place, in the frame's own format, so that a face never passes
//! through an unredacted copy. Each plane is treated at its own resolution (the chroma
//! planes of I420 and NV12 at half size); the alpha byte of RGBA/BGRA is left alone so a
//! hidden face does not become transparent.
//!
//! How strong is strong enough: a blur or a pixelation is sized by the face's width, not
//! the region's, so that a small face at the back of a room is as unreadable as a large
//! one. [`BLUR_RADIUS_PER_WIDTH`] and [`PIXELATE_BLOCKS`] are chosen so that neither our
//! own recogniser nor the redaction scorer finds the face's detail afterwards
//! (EVALUATION.md, "Redaction").

use crate::frame::PixelFormat;
use crate::rect::Rect;
use anyhow::{Result, bail};

/// How a region is hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// A blur wide enough that eyes, nose and mouth are gone.
    #[default]
    Blur,
    /// Coarse blocks of the region's mean colour.
    Pixelate,
    /// A flat black box.
    Fill,
}

/// The blur's box radius as a fraction of the face's width: three box passes make a
/// near-Gaussian of about this standard deviation, a fifth of the face, well past the
/// scale of the eyes and mouth.
pub const BLUR_RADIUS_PER_WIDTH: f32 = 0.2;

/// Blocks across the face's width when pixelating: few enough that no block holds an eye
/// and its brow apart.
pub const PIXELATE_BLOCKS: f32 = 4.0;

/// One plane of a frame: which bytes of a pixel carry colour, at which subsampling, and
/// what "black" is there.
struct PlaneLayout {
    /// Bytes per pixel in this plane.
    pixel: usize,
    /// The byte offsets within a pixel to change, with the value a fill writes there.
    channels: &'static [(usize, u8)],
    /// Horizontal and vertical subsampling against the frame's size.
    sub: (usize, usize),
}

fn layouts(format: PixelFormat) -> &'static [PlaneLayout] {
    const LUMA: PlaneLayout = PlaneLayout {
        pixel: 1,
        channels: &[(0, 16)],
        sub: (1, 1),
    };
    const CHROMA: PlaneLayout = PlaneLayout {
        pixel: 1,
        channels: &[(0, 128)],
        sub: (2, 2),
    };
    match format {
        PixelFormat::I420 => &[LUMA, CHROMA, CHROMA],
        PixelFormat::Nv12 => &[
            LUMA,
            PlaneLayout {
                pixel: 2,
                channels: &[(0, 128), (1, 128)],
                sub: (2, 2),
            },
        ],
        PixelFormat::Rgb | PixelFormat::Bgr => &[PlaneLayout {
            pixel: 3,
            channels: &[(0, 0), (1, 0), (2, 0)],
            sub: (1, 1),
        }],
        // x is padding, written like a colour byte; a is alpha, left as it is.
        PixelFormat::Rgbx | PixelFormat::Bgrx => &[PlaneLayout {
            pixel: 4,
            channels: &[(0, 0), (1, 0), (2, 0), (3, 0)],
            sub: (1, 1),
        }],
        PixelFormat::Rgba | PixelFormat::Bgra => &[PlaneLayout {
            pixel: 4,
            channels: &[(0, 0), (1, 0), (2, 0)],
            sub: (1, 1),
        }],
    }
}

/// A writable frame: its format, size and planes (the layout of
/// [`crate::frame::FrameView`], mutable).
pub struct FrameMut<'a> {
    format: PixelFormat,
    width: usize,
    height: usize,
    planes: Vec<&'a mut [u8]>,
    strides: Vec<usize>,
}

impl<'a> FrameMut<'a> {
    /// Checks that every plane holds its rows.
    pub fn new(
        format: PixelFormat,
        width: usize,
        height: usize,
        planes: Vec<&'a mut [u8]>,
        strides: Vec<usize>,
    ) -> Result<Self> {
        let layouts = layouts(format);
        if planes.len() < layouts.len() || strides.len() < layouts.len() {
            bail!("{format:?} needs {} planes, got {}", layouts.len(), planes.len());
        }
        for (i, l) in layouts.iter().enumerate() {
            let (pw, ph) = (width.div_ceil(l.sub.0), height.div_ceil(l.sub.1));
            if ph > 0 && (strides[i] < pw * l.pixel || planes[i].len() < (ph - 1) * strides[i] + pw * l.pixel) {
                bail!("plane {i} of a {width}x{height} {format:?} frame is too short");
            }
        }
        Ok(Self {
            format,
            width,
            height,
            planes,
            strides,
        })
    }

    /// The samples of `rect` in plane `i` (x0, y0, x1, y1), clipped to the plane: every
    /// sample the rectangle touches.
    fn plane_rect(&self, i: usize, rect: Rect) -> Option<[usize; 4]> {
        let l = &layouts(self.format)[i];
        let (sx, sy) = (l.sub.0 as f32, l.sub.1 as f32);
        let (pw, ph) = (self.width.div_ceil(l.sub.0), self.height.div_ceil(l.sub.1));
        let [x0, y0, x1, y1] = rect.corners();
        let clip = |v: f32, s: f32, max: usize| ((v / s).max(0.0) as usize).min(max);
        let (x0, x1) = (clip(x0.floor(), sx, pw), clip(x1.ceil() + sx - 1.0, sx, pw));
        let (y0, y1) = (clip(y0.floor(), sy, ph), clip(y1.ceil() + sy - 1.0, sy, ph));
        (x1 > x0 && y1 > y0).then_some([x0, y0, x1, y1])
    }

    /// Hides `region` (frame pixels; clipped to the frame) by `method`, sized for a
    /// face `face_width` pixels wide, except inside the boxes in `keep`: the faces that
    /// show, whose pixels are theirs even where a hidden face's margin reaches over them.
    pub fn hide_except(&mut self, region: Rect, method: Method, face_width: f32, keep: &[Rect]) {
        let format = self.format;
        let pixel_size = |i: usize| layouts(format)[i].pixel;
        let mut kept = Vec::new();
        for i in 0..layouts(self.format).len() {
            for k in keep {
                let (Some(r), Some(c)) = (self.plane_rect(i, region), self.plane_rect(i, *k)) else {
                    continue;
                };
                let [x0, y0, x1, y1] = [r[0].max(c[0]), r[1].max(c[1]), r[2].min(c[2]), r[3].min(c[3])];
                if x1 <= x0 || y1 <= y0 {
                    continue;
                }
                let (stride, px) = (self.strides[i], pixel_size(i));
                let rows: Vec<Vec<u8>> = (y0..y1)
                    .map(|y| self.planes[i][y * stride + x0 * px..y * stride + x1 * px].to_vec())
                    .collect();
                kept.push((i, x0, y0, rows));
            }
        }
        self.hide(region, method, face_width);
        for (i, x0, y0, rows) in kept {
            let (stride, px) = (self.strides[i], pixel_size(i));
            for (dy, row) in rows.iter().enumerate() {
                let at = (y0 + dy) * stride + x0 * px;
                self.planes[i][at..at + row.len()].copy_from_slice(row);
            }
        }
    }

    /// Hides `region` (frame pixels; clipped to the frame) by `method`, sized for a
    /// face `face_width` pixels wide.
    pub fn hide(&mut self, region: Rect, method: Method, face_width: f32) {
        let face_width = face_width.max(1.0);
        for (i, l) in layouts(self.format).iter().enumerate() {
            let Some([x0, y0, x1, y1]) = self.plane_rect(i, region) else {
                continue;
            };
            let sx = l.sub.0 as f32;
            let mut area = PlaneArea {
                data: &mut *self.planes[i],
                stride: self.strides[i],
                pixel: l.pixel,
                x0,
                y0,
                w: x1 - x0,
                h: y1 - y0,
            };
            let face = face_width / sx;
            for &(channel, black) in l.channels {
                match method {
                    Method::Blur => area.blur(channel, (face * BLUR_RADIUS_PER_WIDTH).round().max(1.0) as usize),
                    Method::Pixelate => area.pixelate(channel, (face / PIXELATE_BLOCKS).round().max(2.0) as usize),
                    Method::Fill => area.fill(channel, black),
                }
            }
        }
    }
}

/// A rectangle of one plane, in that plane's samples.
struct PlaneArea<'p> {
    data: &'p mut [u8],
    stride: usize,
    pixel: usize,
    x0: usize,
    y0: usize,
    w: usize,
    h: usize,
}

impl PlaneArea<'_> {
    fn offset(&self, x: usize, y: usize, channel: usize) -> usize {
        (self.y0 + y) * self.stride + (self.x0 + x) * self.pixel + channel
    }

    fn read(&self, channel: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.w * self.h);
        for y in 0..self.h {
            for x in 0..self.w {
                out.push(self.data[self.offset(x, y, channel)] as f32);
            }
        }
        out
    }

    fn write(&mut self, channel: usize, values: &[f32]) {
        for y in 0..self.h {
            for x in 0..self.w {
                let o = self.offset(x, y, channel);
                self.data[o] = values[y * self.w + x].round().clamp(0.0, 255.0) as u8;
            }
        }
    }

    fn fill(&mut self, channel: usize, value: u8) {
        for y in 0..self.h {
            for x in 0..self.w {
                let o = self.offset(x, y, channel);
                self.data[o] = value;
            }
        }
    }

    /// Three box passes each way: a near-Gaussian. Samples past the area's edge repeat
    /// its edge, so nothing of the face leaks out and nothing outside bleeds in.
    fn blur(&mut self, channel: usize, radius: usize) {
        let mut v = self.read(channel);
        let (w, h) = (self.w, self.h);
        let mut out = vec![0.0; v.len()];
        let mut sums = Vec::new();
        for _ in 0..3 {
            for (row, dst) in v.chunks_exact(w).zip(out.chunks_exact_mut(w)) {
                box_pass(row, radius, &mut sums, |x, m| dst[x] = m);
            }
            box_pass_rows(&out, &mut v, w, h, radius, &mut sums);
        }
        self.write(channel, &v);
    }

    /// Blocks of `block` samples, aligned to the area's corner, each its mean.
    fn pixelate(&mut self, channel: usize, block: usize) {
        let mut v = self.read(channel);
        let (w, h) = (self.w, self.h);
        for by in (0..h).step_by(block) {
            for bx in (0..w).step_by(block) {
                let (ex, ey) = ((bx + block).min(w), (by + block).min(h));
                let n = ((ex - bx) * (ey - by)) as f32;
                let mean = (by..ey)
                    .flat_map(|y| (bx..ex).map(move |x| (x, y)))
                    .map(|(x, y)| v[y * w + x])
                    .sum::<f32>()
                    / n;
                for y in by..ey {
                    v[y * w + bx..y * w + ex].fill(mean);
                }
            }
        }
        self.write(channel, &v);
    }
}

/// One box pass over `line` (edges repeated), handing each output to `put`.
fn box_pass(line: &[f32], radius: usize, sums: &mut Vec<f32>, mut put: impl FnMut(usize, f32)) {
    let n = line.len();
    let at = |i: isize| line[i.clamp(0, n as isize - 1) as usize];
    // Prefix sums over the line padded by `radius` repeats of each edge.
    sums.clear();
    sums.push(0.0);
    let mut acc = 0.0;
    for i in -(radius as isize)..(n + radius) as isize {
        acc += at(i);
        sums.push(acc);
    }
    let width = (2 * radius + 1) as f32;
    for x in 0..n {
        put(x, (sums[x + 2 * radius + 1] - sums[x]) / width);
    }
}

/// The same pass down the columns of `src` (`w` by `h`, row-major) into `dst`, a row at
/// a time: a running sum of whole rows, which reads memory in order.
fn box_pass_rows(src: &[f32], dst: &mut [f32], w: usize, h: usize, radius: usize, acc: &mut Vec<f32>) {
    let row = |i: isize| {
        let y = i.clamp(0, h as isize - 1) as usize;
        &src[y * w..(y + 1) * w]
    };
    acc.clear();
    acc.resize(w, 0.0);
    for i in -(radius as isize)..=radius as isize {
        for (a, s) in acc.iter_mut().zip(row(i)) {
            *a += s;
        }
    }
    let width = (2 * radius + 1) as f32;
    for (y, out) in dst.chunks_exact_mut(w).enumerate() {
        if y > 0 {
            let (add, sub) = (row((y + radius) as isize), row(y as isize - radius as isize - 1));
            for ((a, s), d) in acc.iter_mut().zip(add).zip(sub) {
                *a += s - d;
            }
        }
        for (o, a) in out.iter_mut().zip(acc.iter()) {
            *o = a / width;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame of fine stripes (the detail a face has) in `format`, with its planes.
    /// The frame over planes made by [`striped`].
    fn frame_of<'a>(
        format: PixelFormat,
        w: usize,
        h: usize,
        planes: &'a mut [Vec<u8>],
        strides: &[usize],
    ) -> FrameMut<'a> {
        FrameMut::new(
            format,
            w,
            h,
            planes.iter_mut().map(|p| p.as_mut_slice()).collect(),
            strides.to_vec(),
        )
        .unwrap()
    }

    fn striped(format: PixelFormat, w: usize, h: usize) -> (Vec<Vec<u8>>, Vec<usize>) {
        let mut planes = Vec::new();
        let mut strides = Vec::new();
        for l in layouts(format) {
            let (pw, ph) = (w.div_ceil(l.sub.0), h.div_ceil(l.sub.1));
            let stride = pw * l.pixel + 3;
            let mut p = vec![0u8; stride * ph];
            for y in 0..ph {
                for x in 0..pw {
                    for c in 0..l.pixel {
                        p[y * stride + x * l.pixel + c] = if (x / 2 + y / 2) % 2 == 0 { 40 } else { 220 };
                    }
                }
            }
            planes.push(p);
            strides.push(stride);
        }
        (planes, strides)
    }

    /// The mean absolute difference between neighbouring samples: high for stripes,
    /// near 0 once they are gone.
    fn roughness(p: &[u8], stride: usize, pixel: usize, x0: usize, y0: usize, x1: usize, y1: usize) -> f32 {
        let mut total = 0.0;
        let mut n = 0.0;
        for y in y0..y1 {
            for x in x0..x1 - 1 {
                total += (p[y * stride + x * pixel] as f32 - p[y * stride + (x + 1) * pixel] as f32).abs();
                n += 1.0;
            }
        }
        total / n
    }

    #[test]
    fn every_method_removes_the_detail_in_every_format_and_nothing_outside() {
        let (w, h) = (64, 48);
        for format in PixelFormat::ALL {
            for method in [Method::Blur, Method::Pixelate, Method::Fill] {
                let (mut planes, strides) = striped(format, w, h);
                let before = planes.clone();
                let mut frame = frame_of(format, w, h, &mut planes, &strides);
                frame.hide(Rect::new(16.0, 8.0, 32.0, 32.0), method, 32.0);
                let luma = &layouts(format)[0];
                let inside = roughness(&planes[0], strides[0], luma.pixel, 18, 10, 46, 38);
                assert!(inside < 12.0, "{format:?} {method:?}: detail left {inside}");
                // Outside the region every byte is as it was.
                for (i, l) in layouts(format).iter().enumerate() {
                    let (pw, ph) = (w.div_ceil(l.sub.0), h.div_ceil(l.sub.1));
                    for y in 0..ph {
                        for x in 0..pw {
                            let (fx, fy) = (x * l.sub.0, y * l.sub.1);
                            if (16..48).contains(&fx) && (8..40).contains(&fy) {
                                continue;
                            }
                            for c in 0..l.pixel {
                                let o = y * strides[i] + x * l.pixel + c;
                                assert_eq!(planes[i][o], before[i][o], "{format:?} {method:?} plane {i} at {x},{y}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn alpha_is_kept_and_a_region_past_the_frame_is_clipped() {
        let (w, h) = (20, 10);
        let mut data = vec![255u8; w * h * 4];
        let mut frame = FrameMut::new(PixelFormat::Rgba, w, h, vec![data.as_mut_slice()], vec![w * 4]).unwrap();
        frame.hide(Rect::new(-5.0, -5.0, 100.0, 100.0), Method::Fill, 10.0);
        assert!(data.chunks(4).all(|p| p == [0, 0, 0, 255]));
    }

    #[test]
    fn a_kept_box_inside_the_region_is_left_as_it_was() {
        let (w, h) = (64, 48);
        for format in PixelFormat::ALL {
            let (mut planes, strides) = striped(format, w, h);
            let before = planes.clone();
            let mut frame = frame_of(format, w, h, &mut planes, &strides);
            frame.hide_except(
                Rect::new(0.0, 0.0, 40.0, 40.0),
                Method::Blur,
                30.0,
                &[Rect::new(20.0, 20.0, 30.0, 20.0)],
            );
            let luma = &layouts(format)[0];
            // Inside the kept box: untouched; in the rest of the region: smoothed.
            for y in 20..40 {
                for x in 20..40 {
                    let o = y * strides[0] + x * luma.pixel;
                    assert_eq!(planes[0][o], before[0][o], "{format:?} at {x},{y}");
                }
            }
            assert!(
                roughness(&planes[0], strides[0], luma.pixel, 2, 2, 18, 18) < 12.0,
                "{format:?}"
            );
        }
    }

    #[test]
    fn a_short_plane_is_refused() {
        let mut data = vec![0u8; 10];
        assert!(FrameMut::new(PixelFormat::Rgb, 20, 10, vec![data.as_mut_slice()], vec![60]).is_err());
    }

    #[test]
    fn a_flat_region_stays_flat_under_the_blur() {
        let mut data = vec![100u8; 30 * 30];
        let mut u = vec![128u8; 15 * 15];
        let mut v = vec![128u8; 15 * 15];
        let mut frame = FrameMut::new(
            PixelFormat::I420,
            30,
            30,
            vec![data.as_mut_slice(), u.as_mut_slice(), v.as_mut_slice()],
            vec![30, 15, 15],
        )
        .unwrap();
        frame.hide(Rect::new(3.0, 3.0, 20.0, 20.0), Method::Blur, 20.0);
        assert!(data.iter().all(|&b| b == 100));
    }
}
