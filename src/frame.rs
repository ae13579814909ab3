//! Read-only views of video frames in the raw formats cameras and decoders produce,
//! and the samplers that pull just the pixels a model needs out of them.
//!
//! Nothing here converts a whole frame: the detector reads one downscaled copy, the
//! aligner reads 112×112 warped pixels per face, the emotion model 64×64 grey pixels.

use anyhow::{Result, bail};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    I420,
    Nv12,
    Rgb,
    Bgr,
    Rgba,
    Bgra,
    Rgbx,
    Bgrx,
}

impl PixelFormat {
    /// All formats the engine reads, in the order the elements advertise them.
    pub const ALL: [PixelFormat; 8] = [
        PixelFormat::I420,
        PixelFormat::Nv12,
        PixelFormat::Rgb,
        PixelFormat::Bgr,
        PixelFormat::Rgba,
        PixelFormat::Bgra,
        PixelFormat::Rgbx,
        PixelFormat::Bgrx,
    ];

    /// Byte offsets of R, G, B and the pixel size, for packed RGB formats.
    fn packed_layout(self) -> Option<(usize, usize, usize, usize)> {
        match self {
            Self::Rgb => Some((0, 1, 2, 3)),
            Self::Bgr => Some((2, 1, 0, 3)),
            Self::Rgba | Self::Rgbx => Some((0, 1, 2, 4)),
            Self::Bgra | Self::Bgrx => Some((2, 1, 0, 4)),
            Self::I420 | Self::Nv12 => None,
        }
    }

    pub fn n_planes(self) -> usize {
        match self {
            Self::I420 => 3,
            Self::Nv12 => 2,
            _ => 1,
        }
    }
}

/// Which YUV→RGB matrix a YUV frame was encoded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum YuvMatrix {
    Bt601,
    #[default]
    Bt709,
}

/// A borrowed frame: plane slices and strides exactly as mapped from the buffer.
#[derive(Debug, Clone, Copy)]
pub struct FrameView<'a> {
    pub format: PixelFormat,
    pub width: usize,
    pub height: usize,
    planes: [&'a [u8]; 3],
    strides: [usize; 3],
    yuv: Yuv,
}

/// Precomputed YUV→RGB coefficients (applied to Y' and centred Cb/Cr).
#[derive(Debug, Clone, Copy)]
struct Yuv {
    y_off: f32,
    y_mul: f32,
    c_mul: f32,
    rv: f32,
    gu: f32,
    gv: f32,
    bu: f32,
}

impl Yuv {
    fn new(matrix: YuvMatrix, full_range: bool) -> Self {
        let (kr, kb) = match matrix {
            YuvMatrix::Bt601 => (0.299, 0.114),
            YuvMatrix::Bt709 => (0.2126, 0.0722),
        };
        let kg = 1.0 - kr - kb;
        let (y_off, y_mul, c_mul) = if full_range {
            (0.0, 1.0, 1.0)
        } else {
            (16.0, 255.0 / 219.0, 255.0 / 224.0)
        };
        Self {
            y_off,
            y_mul,
            c_mul,
            rv: 2.0 * (1.0 - kr),
            gu: -2.0 * (1.0 - kb) * kb / kg,
            gv: -2.0 * (1.0 - kr) * kr / kg,
            bu: 2.0 * (1.0 - kb),
        }
    }
}

impl<'a> FrameView<'a> {
    /// Wraps planes and strides as mapped; checks every row the samplers may touch exists.
    pub fn new(
        format: PixelFormat,
        width: usize,
        height: usize,
        planes: &[&'a [u8]],
        strides: &[usize],
    ) -> Result<Self> {
        let n = format.n_planes();
        if width == 0 || height == 0 {
            bail!("empty frame {width}x{height}");
        }
        if planes.len() < n || strides.len() < n {
            bail!("{format:?} needs {n} planes, got {}", planes.len().min(strides.len()));
        }
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        let need: [(usize, usize); 3] = match format {
            PixelFormat::I420 => [(width, height), (cw, ch), (cw, ch)],
            PixelFormat::Nv12 => [(width, height), (cw * 2, ch), (0, 0)],
            f => {
                let px = f.packed_layout().map_or(0, |l| l.3);
                [(width * px, height), (0, 0), (0, 0)]
            }
        };
        let mut p: [&[u8]; 3] = [&[], &[], &[]];
        let mut s = [0usize; 3];
        for i in 0..n {
            let (row_bytes, rows) = need[i];
            if strides[i] < row_bytes || planes[i].len() < strides[i] * (rows - 1) + row_bytes {
                bail!("plane {i} of a {width}x{height} {format:?} frame is too small");
            }
            p[i] = planes[i];
            s[i] = strides[i];
        }
        Ok(Self {
            format,
            width,
            height,
            planes: p,
            strides: s,
            yuv: Yuv::new(YuvMatrix::default(), false),
        })
    }

    /// A tightly or loosely packed single-plane frame (RGB family).
    pub fn packed(format: PixelFormat, width: usize, height: usize, data: &'a [u8], stride: usize) -> Result<Self> {
        Self::new(format, width, height, &[data], &[stride])
    }

    /// A view of a decoded RGB image (gallery photos, benchmark images).
    pub fn from_rgb_image(img: &'a image::RgbImage) -> Result<Self> {
        let (w, h) = (img.width() as usize, img.height() as usize);
        Self::packed(PixelFormat::Rgb, w, h, img.as_raw(), w * 3)
    }

    /// Sets how YUV samples are turned into RGB (ignored for RGB formats).
    pub fn with_yuv(mut self, matrix: YuvMatrix, full_range: bool) -> Self {
        self.yuv = Yuv::new(matrix, full_range);
        self
    }

    /// RGB at an integer pixel, 0..255.
    #[inline]
    pub fn rgb(&self, x: usize, y: usize) -> [f32; 3] {
        let (yy, u, v) = match self.format {
            PixelFormat::I420 => {
                let yy = self.planes[0][y * self.strides[0] + x];
                let ci = (y / 2) * self.strides[1] + x / 2;
                let u = self.planes[1][ci];
                let v = self.planes[2][(y / 2) * self.strides[2] + x / 2];
                (yy, u, v)
            }
            PixelFormat::Nv12 => {
                let yy = self.planes[0][y * self.strides[0] + x];
                let ci = (y / 2) * self.strides[1] + (x / 2) * 2;
                (yy, self.planes[1][ci], self.planes[1][ci + 1])
            }
            f => {
                let (r, g, b, px) = f.packed_layout().unwrap_or((0, 1, 2, 3));
                let row = &self.planes[0][y * self.strides[0] + x * px..];
                return [row[r] as f32, row[g] as f32, row[b] as f32];
            }
        };
        let c = &self.yuv;
        let l = (yy as f32 - c.y_off) * c.y_mul;
        let cb = (u as f32 - 128.0) * c.c_mul;
        let cr = (v as f32 - 128.0) * c.c_mul;
        [
            (l + c.rv * cr).clamp(0.0, 255.0),
            (l + c.gu * cb + c.gv * cr).clamp(0.0, 255.0),
            (l + c.bu * cb).clamp(0.0, 255.0),
        ]
    }

    /// Grey level at an integer pixel (the luma OpenCV's BGR→GRAY gives), 0..255.
    #[inline]
    pub fn grey(&self, x: usize, y: usize) -> f32 {
        match self.format {
            // For YUV the luma plane is the grey image already; only the range differs.
            PixelFormat::I420 | PixelFormat::Nv12 => {
                let yy = self.planes[0][y * self.strides[0] + x] as f32;
                ((yy - self.yuv.y_off) * self.yuv.y_mul).clamp(0.0, 255.0)
            }
            _ => {
                let [r, g, b] = self.rgb(x, y);
                0.299 * r + 0.587 * g + 0.114 * b
            }
        }
    }

    /// Bilinear RGB at a sub-pixel position (pixel centres at integer + 0.5);
    /// positions outside the frame read as black, like OpenCV's constant border.
    #[inline]
    pub fn rgb_bilinear(&self, fx: f32, fy: f32) -> [f32; 3] {
        self.bilinear(fx, fy, [0.0; 3], |x, y| self.rgb(x, y))
    }

    #[inline]
    pub fn grey_bilinear(&self, fx: f32, fy: f32) -> f32 {
        self.bilinear(fx, fy, [0.0; 1], |x, y| [self.grey(x, y)])[0]
    }

    #[inline]
    fn bilinear<const N: usize>(
        &self,
        fx: f32,
        fy: f32,
        border: [f32; N],
        px: impl Fn(usize, usize) -> [f32; N],
    ) -> [f32; N] {
        let x = fx - 0.5;
        let y = fy - 0.5;
        let x0 = x.floor();
        let y0 = y.floor();
        let (ax, ay) = (x - x0, y - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        let (w, h) = (self.width as i64, self.height as i64);
        if x0 < -1 || y0 < -1 || x0 >= w || y0 >= h {
            return border;
        }
        let tap = |xi: i64, yi: i64| -> [f32; N] {
            if xi < 0 || yi < 0 || xi >= w || yi >= h {
                border
            } else {
                px(xi as usize, yi as usize)
            }
        };
        // One row of the blend: a sample on a column of pixel centres reads one pixel,
        // not two, and one on a row of centres reads one row, since the blend would
        // weigh the rest by exactly 0. Integer downscales (1280 -> 640, 1920 -> 640)
        // sample only centres, so the detector's resize reads a quarter of the pixels.
        let row = |yi: i64| -> [f32; N] {
            let left = tap(x0, yi);
            if ax == 0.0 {
                return left;
            }
            let right = tap(x0 + 1, yi);
            std::array::from_fn(|c| left[c] + (right[c] - left[c]) * ax)
        };
        let top = row(y0);
        if ay == 0.0 {
            return top;
        }
        let bottom = row(y0 + 1);
        std::array::from_fn(|c| top[c] + (bottom[c] - top[c]) * ay)
    }

    /// Averages `taps`×`taps` bilinear samples over the source footprint of one output pixel,
    /// so strong downscales do not alias (a face at 1080p shrunk 3× stays a face).
    #[inline]
    fn area_rgb(&self, cx: f32, cy: f32, sx: f32, sy: f32, taps: usize) -> [f32; 3] {
        if taps <= 1 {
            return self.rgb_bilinear(cx, cy);
        }
        let mut acc = [0.0f32; 3];
        let inv = 1.0 / taps as f32;
        for j in 0..taps {
            let fy = cy + sy * ((j as f32 + 0.5) * inv - 0.5);
            for i in 0..taps {
                let fx = cx + sx * ((i as f32 + 0.5) * inv - 0.5);
                let p = self.rgb_bilinear(fx, fy);
                acc[0] += p[0];
                acc[1] += p[1];
                acc[2] += p[2];
            }
        }
        let n = (taps * taps) as f32;
        [acc[0] / n, acc[1] / n, acc[2] / n]
    }

    /// The whole frame scaled to `out_w`×`out_h`, written as planar BGR 0..255 into the
    /// top-left of a `pad_w`×`pad_h` CHW buffer (the rest stays zero): YuNet's input.
    pub fn resize_bgr_planar(&self, out_w: usize, out_h: usize, pad_w: usize, pad_h: usize) -> Vec<f32> {
        let whole = [0.0, 0.0, self.width as f32, self.height as f32];
        self.crop_bgr_planar(whole, out_w, out_h, pad_w, pad_h)
    }

    /// The rectangle (x, y, w, h) of the frame scaled to `out_w`×`out_h`, laid out as
    /// [`resize_bgr_planar`](Self::resize_bgr_planar) lays out the whole frame. Parts of
    /// the rectangle outside the frame are black, as YuNet's padding is.
    pub fn crop_bgr_planar(&self, rect: [f32; 4], out_w: usize, out_h: usize, pad_w: usize, pad_h: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; 3 * pad_w * pad_h];
        let sx = rect[2] / out_w as f32;
        let sy = rect[3] / out_h as f32;
        let taps = (sx.max(sy) - 0.25).ceil().clamp(1.0, 4.0) as usize;
        let plane = pad_w * pad_h;
        for y in 0..out_h.min(pad_h) {
            let cy = rect[1] + (y as f32 + 0.5) * sy;
            for x in 0..out_w.min(pad_w) {
                let cx = rect[0] + (x as f32 + 0.5) * sx;
                let [r, g, b] = self.area_rgb(cx, cy, sx, sy, taps);
                let i = y * pad_w + x;
                out[i] = b;
                out[plane + i] = g;
                out[2 * plane + i] = r;
            }
        }
        out
    }

    /// Planar RGB 0..255 of size `out_w`×`out_h`, each output pixel (x, y) read at
    /// `m · (x + 0.5, y + 0.5, 1)` in the frame: the warp used for face alignment.
    pub fn warp_rgb_planar(&self, m: &[[f32; 3]; 2], out_w: usize, out_h: usize) -> Vec<f32> {
        let plane = out_w * out_h;
        let mut out = vec![0.0f32; 3 * plane];
        // Average several taps when the face is much larger than the output (no aliasing).
        let scale = (m[0][0] * m[0][0] + m[1][0] * m[1][0]).sqrt();
        let taps = (scale - 0.25).ceil().clamp(1.0, 4.0) as usize;
        for y in 0..out_h {
            for x in 0..out_w {
                let (u, v) = (x as f32 + 0.5, y as f32 + 0.5);
                let p = if taps <= 1 {
                    let fx = m[0][0] * u + m[0][1] * v + m[0][2];
                    let fy = m[1][0] * u + m[1][1] * v + m[1][2];
                    self.rgb_bilinear(fx, fy)
                } else {
                    let mut acc = [0.0f32; 3];
                    let inv = 1.0 / taps as f32;
                    for j in 0..taps {
                        let vv = v + (j as f32 + 0.5) * inv - 0.5;
                        for i in 0..taps {
                            let uu = u + (i as f32 + 0.5) * inv - 0.5;
                            let fx = m[0][0] * uu + m[0][1] * vv + m[0][2];
                            let fy = m[1][0] * uu + m[1][1] * vv + m[1][2];
                            let q = self.rgb_bilinear(fx, fy);
                            acc[0] += q[0];
                            acc[1] += q[1];
                            acc[2] += q[2];
                        }
                    }
                    let n = (taps * taps) as f32;
                    [acc[0] / n, acc[1] / n, acc[2] / n]
                };
                let i = y * out_w + x;
                out[i] = p[0];
                out[plane + i] = p[1];
                out[2 * plane + i] = p[2];
            }
        }
        out
    }

    /// Grey crop of the rectangle (x, y, w, h) scaled to `out_w`×`out_h`, 0..255.
    pub fn crop_grey(&self, rect: [f32; 4], out_w: usize, out_h: usize) -> Vec<f32> {
        let [rx, ry, rw, rh] = rect;
        let sx = rw / out_w as f32;
        let sy = rh / out_h as f32;
        let taps = (sx.max(sy) - 0.25).ceil().clamp(1.0, 4.0) as usize;
        let inv = 1.0 / taps as f32;
        let mut out = Vec::with_capacity(out_w * out_h);
        for y in 0..out_h {
            for x in 0..out_w {
                let mut acc = 0.0;
                for j in 0..taps {
                    let fy = ry + (y as f32 + (j as f32 + 0.5) * inv) * sy;
                    for i in 0..taps {
                        let fx = rx + (x as f32 + (i as f32 + 0.5) * inv) * sx;
                        acc += self.grey_bilinear(fx, fy);
                    }
                }
                out.push(acc / (taps * taps) as f32);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same picture in every format must read back as (nearly) the same RGB.
    #[test]
    fn every_format_reads_the_same_colour() {
        let (w, h) = (4usize, 2usize);
        let rgb = [200u8, 40, 90];
        // BT.709 limited-range YUV of that colour.
        let yuv = Yuv::new(YuvMatrix::Bt709, false);
        let (r, g, b) = (rgb[0] as f32, rgb[1] as f32, rgb[2] as f32);
        let (kr, kb) = (0.2126f32, 0.0722f32);
        let l = kr * r + (1.0 - kr - kb) * g + kb * b;
        let y8 = (l / yuv.y_mul + 16.0).round() as u8;
        let u8_ = ((b - l) / yuv.bu / yuv.c_mul + 128.0).round() as u8;
        let v8 = ((r - l) / yuv.rv / yuv.c_mul + 128.0).round() as u8;
        let ys = vec![y8; w * h];
        let us = vec![u8_; w / 2 * h / 2];
        let vs = vec![v8; w / 2 * h / 2];
        let uv: Vec<u8> = us.iter().zip(&vs).flat_map(|(a, b)| [*a, *b]).collect();
        let frames: Vec<(PixelFormat, Vec<Vec<u8>>, Vec<usize>)> = vec![
            (
                PixelFormat::I420,
                vec![ys.clone(), us.clone(), vs.clone()],
                vec![w, w / 2, w / 2],
            ),
            (PixelFormat::Nv12, vec![ys.clone(), uv], vec![w, w]),
            (PixelFormat::Rgb, vec![rgb.repeat(w * h)], vec![3 * w]),
            (
                PixelFormat::Bgr,
                vec![[rgb[2], rgb[1], rgb[0]].repeat(w * h)],
                vec![3 * w],
            ),
            (
                PixelFormat::Rgba,
                vec![[rgb[0], rgb[1], rgb[2], 255].repeat(w * h)],
                vec![4 * w],
            ),
            (
                PixelFormat::Bgra,
                vec![[rgb[2], rgb[1], rgb[0], 255].repeat(w * h)],
                vec![4 * w],
            ),
            (
                PixelFormat::Rgbx,
                vec![[rgb[0], rgb[1], rgb[2], 0].repeat(w * h)],
                vec![4 * w],
            ),
            (
                PixelFormat::Bgrx,
                vec![[rgb[2], rgb[1], rgb[0], 0].repeat(w * h)],
                vec![4 * w],
            ),
        ];
        for (fmt, planes, strides) in &frames {
            let p: Vec<&[u8]> = planes.iter().map(|p| p.as_slice()).collect();
            let view = FrameView::new(*fmt, w, h, &p, strides).expect("valid frame");
            let got = view.rgb(3, 1);
            for c in 0..3 {
                assert!((got[c] - rgb[c] as f32).abs() < 3.0, "{fmt:?}: {got:?} vs {rgb:?}");
            }
        }
    }

    #[test]
    fn short_planes_are_refused() {
        let data = vec![0u8; 10];
        assert!(FrameView::packed(PixelFormat::Rgb, 4, 4, &data, 12).is_err());
    }

    #[test]
    fn resize_keeps_a_flat_colour_and_pads_with_zero() {
        let data = [10u8, 20, 30].repeat(8 * 8);
        let view = FrameView::packed(PixelFormat::Rgb, 8, 8, &data, 24).expect("valid");
        let out = view.resize_bgr_planar(4, 4, 8, 4);
        // B plane first.
        assert!((out[0] - 30.0).abs() < 1e-3);
        assert!((out[32] - 20.0).abs() < 1e-3);
        assert!((out[64] - 10.0).abs() < 1e-3);
        assert_eq!(out[5], 0.0, "padding column must be zero");
    }

    /// The resize written out the slow way: `taps`×`taps` bilinear samples per output
    /// pixel, each blending four pixels.
    fn reference_resize(rgb: &[u8], w: usize, h: usize, ow: usize, oh: usize) -> Vec<[f32; 3]> {
        // Outside the frame reads as black, as the sampler's border.
        let px = |x: i64, y: i64, c: usize| {
            if x < 0 || y < 0 || x >= w as i64 || y >= h as i64 {
                0.0
            } else {
                rgb[(y as usize * w + x as usize) * 3 + c] as f32
            }
        };
        let (sx, sy) = (w as f32 / ow as f32, h as f32 / oh as f32);
        let taps = (sx.max(sy) - 0.25).ceil().clamp(1.0, 4.0) as usize;
        let mut out = Vec::new();
        for y in 0..oh {
            for x in 0..ow {
                let mut acc = [0.0f32; 3];
                for j in 0..taps {
                    for i in 0..taps {
                        let fx = (x as f32 + 0.5) * sx + sx * ((i as f32 + 0.5) / taps as f32 - 0.5) - 0.5;
                        let fy = (y as f32 + 0.5) * sy + sy * ((j as f32 + 0.5) / taps as f32 - 0.5) - 0.5;
                        let (x0, y0) = (fx.floor() as i64, fy.floor() as i64);
                        let (ax, ay) = (fx - fx.floor(), fy - fy.floor());
                        for (c, a) in acc.iter_mut().enumerate() {
                            let top = px(x0, y0, c) * (1.0 - ax) + px(x0 + 1, y0, c) * ax;
                            let bottom = px(x0, y0 + 1, c) * (1.0 - ax) + px(x0 + 1, y0 + 1, c) * ax;
                            *a += top * (1.0 - ay) + bottom * ay;
                        }
                    }
                }
                out.push(acc.map(|v| v / (taps * taps) as f32));
            }
        }
        out
    }

    #[test]
    fn resize_matches_the_area_average_at_integer_and_fractional_scales() {
        let (w, h) = (24, 18);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i * 37 + i / 7) % 251) as u8).collect();
        let view = FrameView::packed(PixelFormat::Rgb, w, h, &rgb, w * 3).expect("valid");
        // 2× and 3× (pixel centres only), 1.5× across and 2× down (one row of centres),
        // and 1.6× both ways (no centres).
        for (ow, oh) in [(12, 9), (8, 6), (16, 9), (15, 11)] {
            let out = view.resize_bgr_planar(ow, oh, ow, oh);
            let plane = ow * oh;
            for (i, want) in reference_resize(&rgb, w, h, ow, oh).iter().enumerate() {
                let got = [out[2 * plane + i], out[plane + i], out[i]];
                for c in 0..3 {
                    assert!(
                        (got[c] - want[c]).abs() < 1e-3,
                        "{ow}x{oh} pixel {i}: {got:?} vs {want:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_crop_reads_its_rectangle_and_black_outside_the_frame() {
        let (w, h) = (10, 8);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i * 53) % 256) as u8).collect();
        let view = FrameView::packed(PixelFormat::Rgb, w, h, &rgb, w * 3).expect("valid");
        // A 6x6 crop at the frame's own scale, hanging 2 pixels over the right edge,
        // padded to 8x8.
        let out = view.crop_bgr_planar([6.0, 1.0, 6.0, 6.0], 6, 6, 8, 8);
        let plane = 64;
        for y in 0..8 {
            for x in 0..8 {
                let i = y * 8 + x;
                let got = [out[2 * plane + i], out[plane + i], out[i]];
                let (fx, fy) = (6 + x, 1 + y);
                let want = if x < 6 && y < 6 && fx < w {
                    let j = (fy * w + fx) * 3;
                    [rgb[j] as f32, rgb[j + 1] as f32, rgb[j + 2] as f32]
                } else {
                    [0.0; 3]
                };
                assert_eq!(got, want, "crop pixel ({x}, {y})");
            }
        }
    }
}
