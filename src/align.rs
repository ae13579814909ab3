//! Five-point face alignment to the 112×112 ArcFace template SFace was trained on.

use crate::frame::FrameView;

pub const ALIGNED_SIZE: usize = 112;

/// Where the five landmarks (right eye, left eye, nose, right and left mouth corner)
/// sit in a 112×112 aligned face; the standard ArcFace/InsightFace template.
pub const TEMPLATE: [[f32; 2]; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

/// Least-squares similarity transform (rotation, uniform scale, translation; no
/// reflection) taking `src` points onto `dst`: returns [[a, -b, tx], [b, a, ty]].
pub fn similarity(src: &[[f32; 2]; 5], dst: &[[f32; 2]; 5]) -> [[f32; 3]; 2] {
    let n = src.len() as f64;
    let mean = |p: &[[f32; 2]; 5]| {
        let (sx, sy) = p
            .iter()
            .fold((0.0f64, 0.0f64), |(x, y), q| (x + q[0] as f64, y + q[1] as f64));
        (sx / n, sy / n)
    };
    let (msx, msy) = mean(src);
    let (mdx, mdy) = mean(dst);
    let (mut num_a, mut num_b, mut den) = (0.0f64, 0.0f64, 0.0f64);
    for (s, d) in src.iter().zip(dst) {
        let (ax, ay) = (s[0] as f64 - msx, s[1] as f64 - msy);
        let (bx, by) = (d[0] as f64 - mdx, d[1] as f64 - mdy);
        num_a += ax * bx + ay * by;
        num_b += ax * by - ay * bx;
        den += ax * ax + ay * ay;
    }
    let (a, b) = if den > 1e-12 {
        (num_a / den, num_b / den)
    } else {
        (1.0, 0.0)
    };
    let tx = mdx - (a * msx - b * msy);
    let ty = mdy - (b * msx + a * msy);
    [[a as f32, -b as f32, tx as f32], [b as f32, a as f32, ty as f32]]
}

/// The sampling matrix for [`FrameView::warp_rgb_planar`] that produces the aligned face.
///
/// Landmarks use OpenCV's convention (pixel centres on integers) so the crop matches
/// `FaceRecognizerSF::alignCrop`; the sampler puts centres at +0.5, hence the shifts.
pub fn warp_matrix(landmarks: &[[f32; 2]; 5]) -> [[f32; 3]; 2] {
    let m = similarity(landmarks, &TEMPLATE);
    let (a, b) = (m[0][0], m[1][0]);
    let det = a * a + b * b;
    let (a, b) = if det > 1e-12 { (a / det, b / det) } else { (1.0, 0.0) };
    // Inverse of [[a0, -b0], [b0, a0]] is [[a, b], [-b, a]] with a = a0/det, b = b0/det.
    let inv = [[a, b], [-b, a]];
    let t = [m[0][2], m[1][2]];
    let c = [
        -(inv[0][0] * t[0] + inv[0][1] * t[1]),
        -(inv[1][0] * t[0] + inv[1][1] * t[1]),
    ];
    let shift = |row: [f32; 2], c: f32| c + 0.5 - 0.5 * (row[0] + row[1]);
    [
        [inv[0][0], inv[0][1], shift(inv[0], c[0])],
        [inv[1][0], inv[1][1], shift(inv[1], c[1])],
    ]
}

/// The aligned 112×112 face as planar RGB 0..255 (SFace's input layout).
pub fn aligned_rgb(frame: &FrameView, landmarks: &[[f32; 2]; 5]) -> Vec<f32> {
    frame.warp_rgb_planar(&warp_matrix(landmarks), ALIGNED_SIZE, ALIGNED_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_recovers_a_known_transform() {
        // Rotate by 30°, scale 2, shift (5, -3).
        let (c, s) = (30f32.to_radians().cos() * 2.0, 30f32.to_radians().sin() * 2.0);
        let dst: [[f32; 2]; 5] = TEMPLATE.map(|p| [c * p[0] - s * p[1] + 5.0, s * p[0] + c * p[1] - 3.0]);
        let m = similarity(&TEMPLATE, &dst);
        assert!((m[0][0] - c).abs() < 1e-4 && (m[1][0] - s).abs() < 1e-4);
        assert!((m[0][2] - 5.0).abs() < 1e-3 && (m[1][2] + 3.0).abs() < 1e-3);
    }

    #[test]
    fn warp_matrix_maps_template_points_back_to_the_landmarks() {
        let lm: [[f32; 2]; 5] = TEMPLATE.map(|p| [p[0] * 1.5 + 100.0, p[1] * 1.5 + 40.0]);
        let m = warp_matrix(&lm);
        for (t, l) in TEMPLATE.iter().zip(&lm) {
            // Output pixel centre t (+0.5 in sampler coordinates) must read source l (+0.5).
            let (u, v) = (t[0] + 0.5, t[1] + 0.5);
            let fx = m[0][0] * u + m[0][1] * v + m[0][2];
            let fy = m[1][0] * u + m[1][1] * v + m[1][2];
            assert!((fx - (l[0] + 0.5)).abs() < 1e-3 && (fy - (l[1] + 0.5)).abs() < 1e-3);
        }
    }
}
