//! Average precision with the WIDER FACE protocol, computed the way the benchmark's
//! reference evaluation does it: scores normalised over the whole set, 1000 score
//! thresholds, a detection matching a face at IoU >= 0.5 (with the reference's +1 pixel
//! box convention), faces not counted at the level (or invalid) ignored: matching one is
//! neither a hit nor a false positive. AP is the all-point interpolated area under the
//! precision/recall curve.

/// One image: its faces (x, y, w, h), whether each is counted at the level evaluated,
/// and the detections (box, score).
#[derive(Debug, Clone, Default)]
pub struct EvalImage {
    pub faces: Vec<[f64; 4]>,
    pub counted: Vec<bool>,
    pub detections: Vec<([f64; 4], f64)>,
}

const THRESHOLDS: usize = 1000;

/// IoU as the reference computes it: x2 = x + w, areas and overlaps with +1.
fn iou_plus_one(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let (ax2, ay2, bx2, by2) = (a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]);
    let iw = ax2.min(bx2) - a[0].max(b[0]) + 1.0;
    let ih = ay2.min(by2) - a[1].max(b[1]) + 1.0;
    if iw <= 0.0 || ih <= 0.0 {
        return 0.0;
    }
    let area = |x2: f64, y2: f64, p: &[f64; 4]| (x2 - p[0] + 1.0) * (y2 - p[1] + 1.0);
    let inter = iw * ih;
    inter / (area(ax2, ay2, a) + area(bx2, by2, b) - inter)
}

/// Average precision over a set of images at one difficulty level.
pub fn average_precision(images: &[EvalImage], iou_threshold: f64) -> f64 {
    let scores = images.iter().flat_map(|i| i.detections.iter().map(|d| d.1));
    let (lo, hi) = scores.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), s| (lo.min(s), hi.max(s)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    // Per threshold: proposals that count, and faces found.
    let mut curve = vec![[0.0f64; 2]; THRESHOLDS];
    let mut faces_counted = 0usize;
    for img in images {
        faces_counted += img.counted.iter().filter(|c| **c).count();
        if img.faces.is_empty() || img.detections.is_empty() {
            continue;
        }
        let mut dets: Vec<([f64; 4], f64)> = img.detections.iter().map(|(b, s)| (*b, (s - lo) / span)).collect();
        dets.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut found = vec![0i8; img.faces.len()]; // 1 found, -1 ignored face matched
        let mut proposal = vec![true; dets.len()];
        let mut found_so_far = vec![0usize; dets.len()];
        for (h, (b, _)) in dets.iter().enumerate() {
            let best = img
                .faces
                .iter()
                .enumerate()
                .map(|(i, f)| (i, iou_plus_one(b, f)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((i, v)) = best
                && v >= iou_threshold
            {
                if !img.counted[i] {
                    found[i] = -1;
                    proposal[h] = false;
                } else if found[i] == 0 {
                    found[i] = 1;
                }
            }
            found_so_far[h] = found.iter().filter(|f| **f == 1).count();
        }
        for (t, point) in curve.iter_mut().enumerate() {
            let thresh = 1.0 - (t + 1) as f64 / THRESHOLDS as f64;
            let Some(last) = dets.iter().rposition(|d| d.1 >= thresh) else {
                continue;
            };
            point[0] += proposal[..=last].iter().filter(|p| **p).count() as f64;
            point[1] += found_so_far[last] as f64;
        }
    }
    let precision: Vec<f64> = curve
        .iter()
        .map(|p| if p[0] > 0.0 { p[1] / p[0] } else { 0.0 })
        .collect();
    let recall: Vec<f64> = curve.iter().map(|p| p[1] / faces_counted.max(1) as f64).collect();
    interpolated_ap(&recall, &precision)
}

/// All-point interpolated AP (the PASCAL VOC 2010+ rule the reference uses).
pub fn interpolated_ap(recall: &[f64], precision: &[f64]) -> f64 {
    let mut mrec = vec![0.0];
    mrec.extend_from_slice(recall);
    mrec.push(1.0);
    let mut mpre = vec![0.0];
    mpre.extend_from_slice(precision);
    mpre.push(0.0);
    for i in (1..mpre.len()).rev() {
        mpre[i - 1] = mpre[i - 1].max(mpre[i]);
    }
    (0..mrec.len() - 1)
        .filter(|&i| mrec[i + 1] != mrec[i])
        .map(|i| (mrec[i + 1] - mrec[i]) * mpre[i + 1])
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(faces: &[([f64; 4], bool)], dets: &[([f64; 4], f64)]) -> EvalImage {
        EvalImage {
            faces: faces.iter().map(|f| f.0).collect(),
            counted: faces.iter().map(|f| f.1).collect(),
            detections: dets.to_vec(),
        }
    }

    const A: [f64; 4] = [10.0, 10.0, 50.0, 50.0];
    const B: [f64; 4] = [200.0, 10.0, 50.0, 50.0];
    const C: [f64; 4] = [400.0, 10.0, 50.0, 50.0];

    #[test]
    fn a_perfect_detector_scores_one() {
        let set = [img(&[(A, true), (B, true)], &[(A, 0.9), (B, 0.8)])];
        assert!((average_precision(&set, 0.5) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn half_the_faces_found_scores_a_half() {
        let set = [img(&[(A, true), (B, true)], &[(A, 0.9)])];
        assert!((average_precision(&set, 0.5) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn a_confident_false_positive_halves_precision() {
        // The false positive outranks the only hit: precision 0.5 at recall 1.
        let set = [img(&[(A, true)], &[(C, 0.9), (A, 0.8)])];
        assert!((average_precision(&set, 0.5) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn matching_an_ignored_face_is_neither_hit_nor_false_positive() {
        let set = [img(&[(A, true), (B, false)], &[(B, 0.95), (A, 0.9)])];
        assert!((average_precision(&set, 0.5) - 1.0).abs() < 1e-9);
        // Ignored faces are not in the denominator either.
        let set = [img(&[(A, true), (B, false)], &[(A, 0.9)])];
        assert!((average_precision(&set, 0.5) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_loose_box_misses_at_iou_one_half() {
        // Three times as wide: IoU 0.34, a miss.
        let wide = [10.0, 10.0, 150.0, 50.0];
        let set = [img(&[(A, true)], &[(wide, 0.9)])];
        assert_eq!(average_precision(&set, 0.5), 0.0);
        assert!((iou_plus_one(&A, &A) - 1.0).abs() < 1e-12);
        assert!((iou_plus_one(&A, &[10.0, 10.0, 100.0, 50.0]) - 51.0 * 51.0 / (101.0 * 51.0)).abs() < 1e-12);
    }

    #[test]
    fn two_images_pool_their_counts() {
        // Image 1: one face found. Image 2: one face missed, a false positive at a lower score.
        let set = [img(&[(A, true)], &[(A, 0.9)]), img(&[(B, true)], &[(C, 0.5)])];
        // Recall 0.5 at precision 1 (first threshold band), then 0.5 at precision 0.5.
        assert!((average_precision(&set, 0.5) - 0.5).abs() < 1e-9);
    }
}
