//! MTCNN (Zhang et al., 2016): the 2021 project's detector, three small cascaded
//! networks with five landmarks, run the way facenet-pytorch 2.6.0 runs them so that its
//! boxes are reproduced to within a pixel.
//!
//! 1. P-Net slides over an image pyramid (first level scaled so that `min_face_size`
//!    becomes P-Net's 12-pixel window, each next level `scale_factor` smaller) and
//!    proposes windows; NMS per level (IoU 0.5) and across levels (0.7).
//! 2. R-Net rescores 24x24 crops of the squared, regressed proposals; NMS 0.7.
//! 3. O-Net rescores 48x48 crops, regresses the box once more and places the five
//!    landmarks; a last NMS on intersection over the smaller box (0.7).
//!
//! Pixels are RGB, (v - 127.5) / 128. Every resampling is "area" interpolation (each
//! output pixel the mean of the input pixels its footprint touches), which is what
//! facenet-pytorch uses both for the pyramid and for the crops. Crops are clipped to
//! the picture rather than padded, as facenet-pytorch does.

use super::{DetectorConfig, Face};
use crate::backend::Backend;
use crate::frame::FrameView;
use crate::rect::Rect;
use crate::tensor::Tensor;
use anyhow::{Context, Result, ensure};
use std::sync::Arc;

/// P-Net's window and stride, in pixels of the pyramid level.
const CELL: f32 = 12.0;
const STRIDE: f32 = 2.0;
/// R-Net and O-Net run on fixed batch sizes (zero-padded) so that one compiled plan
/// serves every frame.
const RNET_BATCH: usize = 32;
const ONET_BATCH: usize = 16;

/// An RGB picture as three planes of 0..255 floats.
struct Planar {
    width: usize,
    height: usize,
    data: Vec<f32>,
}

impl Planar {
    fn from_frame(frame: &FrameView) -> Self {
        let (w, h) = (frame.width, frame.height);
        let mut data = vec![0.0f32; 3 * w * h];
        for y in 0..h {
            for x in 0..w {
                let p = frame.rgb(x, y);
                for (c, v) in p.iter().enumerate() {
                    data[c * w * h + y * w + x] = *v;
                }
            }
        }
        Self {
            width: w,
            height: h,
            data,
        }
    }

    /// Area resampling of the region [x0, x0 + cw) x [y0, y0 + ch) to `ow` x `oh`.
    /// Output pixel i covers input pixels floor(i * n / o) .. ceil((i + 1) * n / o),
    /// the rule of adaptive average pooling.
    fn area(&self, region: [usize; 4], ow: usize, oh: usize) -> Vec<f32> {
        let [x0, y0, cw, ch] = region;
        let span = |i: usize, n: usize, o: usize| ((i * n) / o, ((i + 1) * n).div_ceil(o));
        let cols: Vec<(usize, usize)> = (0..ow).map(|j| span(j, cw, ow)).collect();
        let rows: Vec<(usize, usize)> = (0..oh).map(|i| span(i, ch, oh)).collect();
        let plane = self.width * self.height;
        let mut out = vec![0.0f32; 3 * ow * oh];
        let mut tmp = vec![0.0f32; ch * ow];
        for c in 0..3 {
            let src = &self.data[c * plane..(c + 1) * plane];
            for y in 0..ch {
                let row = &src[(y0 + y) * self.width + x0..(y0 + y) * self.width + x0 + cw];
                for (j, &(a, b)) in cols.iter().enumerate() {
                    tmp[y * ow + j] = row[a..b].iter().sum::<f32>() / (b - a) as f32;
                }
            }
            let dst = &mut out[c * ow * oh..(c + 1) * ow * oh];
            for (i, &(a, b)) in rows.iter().enumerate() {
                for j in 0..ow {
                    let s: f32 = (a..b).map(|y| tmp[y * ow + j]).sum();
                    dst[i * ow + j] = s / (b - a) as f32;
                }
            }
        }
        out
    }
}

fn normalise(v: &mut [f32]) {
    for x in v {
        *x = (*x - 127.5) * 0.0078125;
    }
}

/// A candidate face: corners (x1, y1, x2, y2), score, and the regression that goes with it.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    corners: [f32; 4],
    score: f32,
    reg: [f32; 4],
}

/// A face O-Net confirmed, in the corners of the picture MTCNN ran on.
struct Output {
    corners: [f32; 4],
    score: f32,
    landmarks: [[f32; 2]; 5],
}

/// IoU on corner boxes without the +1 pixel convention (torchvision's NMS).
fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union <= 0.0 { 0.0 } else { inter / union }
}

/// Intersection over the smaller box, with +1 pixel sizes (the final MTCNN NMS).
fn overlap_of_smaller(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0]) + 1.0).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1]) + 1.0).max(0.0);
    let area = |r: &[f32; 4]| (r[2] - r[0] + 1.0) * (r[3] - r[1] + 1.0);
    let smaller = area(a).min(area(b));
    if smaller <= 0.0 { 0.0 } else { iw * ih / smaller }
}

/// Greedy NMS, best score first; returns the kept items in score order.
fn suppress<T>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> ([f32; 4], f32),
    overlap: fn(&[f32; 4], &[f32; 4]) -> f32,
    threshold: f32,
) -> Vec<T> {
    items.sort_by(|a, b| key(b).1.total_cmp(&key(a).1));
    let mut kept: Vec<T> = Vec::with_capacity(items.len());
    for it in items {
        let (bx, _) = key(&it);
        if kept.iter().all(|k| overlap(&key(k).0, &bx) <= threshold) {
            kept.push(it);
        }
    }
    kept
}

/// Makes a box square about its centre, on its longer side.
fn square(c: [f32; 4]) -> [f32; 4] {
    let (w, h) = (c[2] - c[0], c[3] - c[1]);
    let l = w.max(h);
    let x1 = c[0] + w * 0.5 - l * 0.5;
    let y1 = c[1] + h * 0.5 - l * 0.5;
    [x1, y1, x1 + l, y1 + l]
}

/// Box regression with +1 pixel sizes (R-Net and O-Net outputs).
fn regress(c: [f32; 4], r: [f32; 4]) -> [f32; 4] {
    let (w, h) = (c[2] - c[0] + 1.0, c[3] - c[1] + 1.0);
    [c[0] + r[0] * w, c[1] + r[1] * h, c[2] + r[2] * w, c[3] + r[3] * h]
}

/// The pixel region a box crops: corners truncated to integers, the 1-based top-left
/// corner clipped to 1, the bottom-right to the picture; `None` if nothing is left.
fn crop_region(c: &[f32; 4], width: usize, height: usize) -> Option<[usize; 4]> {
    let x = (c[0].trunc() as i64).max(1);
    let y = (c[1].trunc() as i64).max(1);
    let ex = (c[2].trunc() as i64).min(width as i64);
    let ey = (c[3].trunc() as i64).min(height as i64);
    (ex > x - 1 && ey > y - 1).then(|| {
        [
            (x - 1) as usize,
            (y - 1) as usize,
            (ex - x + 1) as usize,
            (ey - y + 1) as usize,
        ]
    })
}

/// The pyramid's scales for a picture whose shorter side is `shorter` pixels.
fn pyramid(shorter: usize, min_face: f64, factor: f64) -> Vec<f64> {
    let m = CELL as f64 / min_face;
    let mut side = shorter as f64 * m;
    let mut scale = m;
    let mut scales = Vec::new();
    while side >= CELL as f64 && scales.len() < 64 {
        scales.push(scale);
        scale *= factor;
        side *= factor;
    }
    scales
}

#[derive(Clone)]
pub struct Mtcnn {
    pnet: Arc<dyn Backend>,
    rnet: Arc<dyn Backend>,
    onet: Arc<dyn Backend>,
    /// Output indices: P-Net [offsets, probs], R-Net [offsets, probs], O-Net [offsets, landmarks, probs].
    pnet_out: [usize; 2],
    rnet_out: [usize; 2],
    onet_out: [usize; 3],
}

impl Mtcnn {
    pub fn new(pnet: Arc<dyn Backend>, rnet: Arc<dyn Backend>, onet: Arc<dyn Backend>) -> Result<Self> {
        let idx = |m: &Arc<dyn Backend>, which: &str, name: &str| {
            m.output_index(name).with_context(|| {
                format!("this does not look like the MTCNN {which} of models/convert/convert_mtcnn.py")
            })
        };
        Ok(Self {
            pnet_out: [idx(&pnet, "P-Net", "offsets")?, idx(&pnet, "P-Net", "probs")?],
            rnet_out: [idx(&rnet, "R-Net", "offsets")?, idx(&rnet, "R-Net", "probs")?],
            onet_out: [
                idx(&onet, "O-Net", "offsets")?,
                idx(&onet, "O-Net", "landmarks")?,
                idx(&onet, "O-Net", "probs")?,
            ],
            pnet,
            rnet,
            onet,
        })
    }

    /// Faces in `frame`: O-Net's score must exceed `cfg.score_threshold`; P-Net and
    /// R-Net use `cfg.mtcnn_thresholds`. MTCNN does its own three NMS steps, so
    /// `cfg.nms_threshold` is not used.
    pub fn detect(&self, frame: &FrameView, cfg: &DetectorConfig) -> Result<Vec<Face>> {
        let full = Planar::from_frame(frame);
        let longest = frame.width.max(frame.height);
        let shrink = if cfg.working_size > 0 && longest > cfg.working_size as usize {
            cfg.working_size as f32 / longest as f32
        } else {
            1.0
        };
        let img = if shrink < 1.0 {
            let w = ((frame.width as f32 * shrink).round() as usize).max(1);
            let h = ((frame.height as f32 * shrink).round() as usize).max(1);
            Planar {
                width: w,
                height: h,
                data: full.area([0, 0, frame.width, frame.height], w, h),
            }
        } else {
            full
        };
        // min_face_size is in frame pixels; on a shrunken picture, P-Net's 12-pixel window
        // is the smallest face it can see without upsampling what was just downsampled.
        let min_face = (cfg.min_face_size.max(1.0) * shrink).max(if shrink < 1.0 { CELL } else { 1.0 });
        let factor = cfg.scale_factor.clamp(0.1, 0.95) as f64;

        let proposals = self.propose(&img, min_face as f64, factor, cfg.mtcnn_thresholds[0])?;
        let refined = self.refine(&img, proposals, cfg.mtcnn_thresholds[1])?;
        let found = self.output(&img, refined, cfg.score_threshold)?;

        let (sx, sy) = (
            frame.width as f32 / img.width as f32,
            frame.height as f32 / img.height as f32,
        );
        let (fw, fh) = (frame.width as f32, frame.height as f32);
        let mut faces: Vec<Face> = found
            .into_iter()
            .map(|f| {
                let [x1, y1, x2, y2] = f.corners;
                let (x1, y1) = ((x1 * sx).clamp(0.0, fw), (y1 * sy).clamp(0.0, fh));
                let (x2, y2) = ((x2 * sx).clamp(0.0, fw), (y2 * sy).clamp(0.0, fh));
                let mut landmarks = f.landmarks;
                for p in &mut landmarks {
                    p[0] *= sx;
                    p[1] *= sy;
                }
                Face {
                    bbox: Rect::new(x1, y1, x2 - x1, y2 - y1),
                    score: f.score,
                    landmarks,
                }
            })
            .collect();
        faces.retain(|f| f.bbox.w > 1.0 && f.bbox.h > 1.0);
        faces.retain(|f| f.bbox.w.max(f.bbox.h) >= cfg.min_size);
        if cfg.max_faces > 0 {
            faces.truncate(cfg.max_faces);
        }
        Ok(faces)
    }

    /// Stage 1: P-Net over the pyramid; squared, regressed proposals.
    fn propose(&self, img: &Planar, min_face: f64, factor: f64, threshold: f32) -> Result<Vec<[f32; 4]>> {
        let mut all = Vec::new();
        for scale in pyramid(img.width.min(img.height), min_face, factor) {
            let hs = (img.height as f64 * scale + 1.0) as usize;
            let ws = (img.width as f64 * scale + 1.0) as usize;
            if hs < CELL as usize || ws < CELL as usize {
                continue;
            }
            let mut data = img.area([0, 0, img.width, img.height], ws, hs);
            normalise(&mut data);
            let out = self.pnet.run(&[Tensor::new(vec![1, 3, hs, ws], data)?])?;
            let (reg, prob) = (&out[self.pnet_out[0]], &out[self.pnet_out[1]]);
            ensure!(
                prob.shape.len() == 4 && prob.shape[1] == 2 && reg.shape.len() == 4 && reg.shape[1] == 4,
                "P-Net outputs have shapes {:?} and {:?}, expected [1,4,h,w] and [1,2,h,w]",
                reg.shape,
                prob.shape
            );
            let (oh, ow) = (prob.shape[2], prob.shape[3]);
            let cells = oh * ow;
            let scale = scale as f32;
            let mut level = Vec::new();
            for y in 0..oh {
                for x in 0..ow {
                    let i = y * ow + x;
                    let score = prob.data[cells + i];
                    if score < threshold {
                        continue;
                    }
                    let (bx, by) = (x as f32, y as f32);
                    level.push(Candidate {
                        corners: [
                            ((STRIDE * bx + 1.0) / scale).floor(),
                            ((STRIDE * by + 1.0) / scale).floor(),
                            ((STRIDE * bx + CELL) / scale).floor(),
                            ((STRIDE * by + CELL) / scale).floor(),
                        ],
                        score,
                        reg: [
                            reg.data[i],
                            reg.data[cells + i],
                            reg.data[2 * cells + i],
                            reg.data[3 * cells + i],
                        ],
                    });
                }
            }
            all.extend(suppress(level, |c| (c.corners, c.score), iou, 0.5));
        }
        let kept = suppress(all, |c| (c.corners, c.score), iou, 0.7);
        // P-Net's regression is relative to the window's size without the +1.
        Ok(kept
            .into_iter()
            .map(|c| {
                let [x1, y1, x2, y2] = c.corners;
                let (w, h) = (x2 - x1, y2 - y1);
                square([
                    x1 + c.reg[0] * w,
                    y1 + c.reg[1] * h,
                    x2 + c.reg[2] * w,
                    y2 + c.reg[3] * h,
                ])
            })
            .collect())
    }

    /// Crops `boxes` to `size` x `size` and runs `net` on fixed-size batches; returns the
    /// boxes that could be cropped with their rows of every output.
    fn run_crops(
        &self,
        net: &Arc<dyn Backend>,
        img: &Planar,
        boxes: Vec<[f32; 4]>,
        size: usize,
        batch: usize,
    ) -> Result<(Vec<[f32; 4]>, Vec<Tensor>)> {
        let mut kept = Vec::with_capacity(boxes.len());
        let mut crops: Vec<f32> = Vec::new();
        for b in boxes {
            if let Some(region) = crop_region(&b, img.width, img.height) {
                let mut c = img.area(region, size, size);
                normalise(&mut c);
                crops.extend_from_slice(&c);
                kept.push(b);
            }
        }
        let per = 3 * size * size;
        let mut rows: Vec<Vec<f32>> = vec![Vec::new(); net.output_names().len()];
        let mut widths = vec![0usize; rows.len()];
        for chunk in crops.chunks(per * batch) {
            let n = chunk.len() / per;
            let mut data = chunk.to_vec();
            data.resize(per * batch, 0.0);
            let out = net.run(&[Tensor::new(vec![batch, 3, size, size], data)?])?;
            for (k, t) in out.iter().enumerate() {
                let w = t.data.len() / batch.max(1);
                widths[k] = w;
                rows[k].extend_from_slice(&t.data[..n * w]);
            }
        }
        let outputs = rows
            .into_iter()
            .zip(widths)
            .map(|(data, w)| Tensor::new(vec![kept.len(), w], data))
            .collect::<Result<Vec<_>>>()?;
        Ok((kept, outputs))
    }

    /// Stage 2: R-Net.
    fn refine(&self, img: &Planar, boxes: Vec<[f32; 4]>, threshold: f32) -> Result<Vec<[f32; 4]>> {
        if boxes.is_empty() {
            return Ok(boxes);
        }
        let (boxes, out) = self.run_crops(&self.rnet, img, boxes, 24, RNET_BATCH)?;
        let (reg, prob) = (&out[self.rnet_out[0]], &out[self.rnet_out[1]]);
        ensure!(
            reg.shape[1] == 4 && prob.shape[1] == 2,
            "R-Net outputs are not [N,4] and [N,2]"
        );
        let passed: Vec<Candidate> = boxes
            .iter()
            .enumerate()
            .filter(|(i, _)| prob.data[i * 2 + 1] > threshold)
            .map(|(i, b)| Candidate {
                corners: *b,
                score: prob.data[i * 2 + 1],
                reg: [
                    reg.data[i * 4],
                    reg.data[i * 4 + 1],
                    reg.data[i * 4 + 2],
                    reg.data[i * 4 + 3],
                ],
            })
            .collect();
        Ok(suppress(passed, |c| (c.corners, c.score), iou, 0.7)
            .into_iter()
            .map(|c| square(regress(c.corners, c.reg)))
            .collect())
    }

    /// Stage 3: O-Net; faces as corner boxes (converted by the caller) with landmarks.
    fn output(&self, img: &Planar, boxes: Vec<[f32; 4]>, threshold: f32) -> Result<Vec<Output>> {
        if boxes.is_empty() {
            return Ok(Vec::new());
        }
        let (boxes, out) = self.run_crops(&self.onet, img, boxes, 48, ONET_BATCH)?;
        let (reg, marks, prob) = (&out[self.onet_out[0]], &out[self.onet_out[1]], &out[self.onet_out[2]]);
        ensure!(
            reg.shape[1] == 4 && marks.shape[1] == 10 && prob.shape[1] == 2,
            "O-Net outputs are not [N,4], [N,10] and [N,2]"
        );
        let mut faces = Vec::new();
        for (i, b) in boxes.iter().enumerate() {
            let score = prob.data[i * 2 + 1];
            if score <= threshold {
                continue;
            }
            // Landmarks are relative to the box O-Net saw (before its own regression).
            let (w, h) = (b[2] - b[0] + 1.0, b[3] - b[1] + 1.0);
            let m = &marks.data[i * 10..i * 10 + 10];
            let mut landmarks = [[0.0f32; 2]; 5];
            for (k, p) in landmarks.iter_mut().enumerate() {
                *p = [w * m[k] + b[0] - 1.0, h * m[5 + k] + b[1] - 1.0];
            }
            let r = [
                reg.data[i * 4],
                reg.data[i * 4 + 1],
                reg.data[i * 4 + 2],
                reg.data[i * 4 + 3],
            ];
            faces.push(Output {
                corners: regress(*b, r),
                score,
                landmarks,
            });
        }
        Ok(suppress(faces, |f| (f.corners, f.score), overlap_of_smaller, 0.7))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_resampling_averages_each_footprint() {
        // A 4x2 picture, every channel 0,1,2,3 / 4,5,6,7: halving each side averages 2x2.
        let mut data = Vec::new();
        for _ in 0..3 {
            data.extend((0..8).map(|v| v as f32));
        }
        let p = Planar {
            width: 4,
            height: 2,
            data,
        };
        assert_eq!(p.area([0, 0, 4, 2], 2, 1), vec![2.5, 4.5, 2.5, 4.5, 2.5, 4.5]);
        // 3 columns from 4: footprints 0..2, 1..3, 2..4 (overlapping, as adaptive pooling).
        let r = p.area([0, 0, 4, 1], 3, 1);
        assert_eq!(&r[..3], &[0.5, 1.5, 2.5]);
        // A region, upsampled: each output pixel reads one input pixel.
        assert_eq!(&p.area([1, 1, 2, 1], 4, 1)[..4], &[5.0, 5.0, 6.0, 6.0]);
    }

    #[test]
    fn pyramid_starts_at_the_minimum_face_and_stops_at_the_window() {
        // 12/20 = 0.6; 100 px * 0.6 = 60 >= 12 ... until below 12.
        let s = pyramid(100, 20.0, 0.709);
        assert!((s[0] - 0.6).abs() < 1e-12);
        assert_eq!(s.len(), 5); // 60, 42.5, 30.2, 21.4, 15.2 (10.8 stops)
        assert!(pyramid(10, 20.0, 0.709).is_empty());
    }

    #[test]
    fn crops_are_clipped_to_the_picture() {
        assert_eq!(crop_region(&[-5.0, 2.7, 10.2, 8.0], 20, 20), Some([0, 1, 10, 7]));
        assert_eq!(crop_region(&[15.0, 15.0, 40.0, 40.0], 20, 20), Some([14, 14, 6, 6]));
        assert_eq!(crop_region(&[25.0, 5.0, 40.0, 9.0], 20, 20), None);
    }

    #[test]
    fn final_nms_measures_overlap_on_the_smaller_box() {
        // A small box inside a big one: IoU is low, overlap of the smaller is 1.
        let big = [0.0, 0.0, 99.0, 99.0];
        let small = [10.0, 10.0, 29.0, 29.0];
        assert!(iou(&big, &small) < 0.1);
        assert_eq!(overlap_of_smaller(&big, &small), 1.0);
        assert_eq!(square([0.0, 0.0, 10.0, 20.0]), [-5.0, 0.0, 15.0, 20.0]);
    }
}
