//! How good a face is for naming, from what the detector already says about it.
//!
//! A face recogniser's similarity means less the smaller and the more turned the face:
//! at 15 pixels between the eyes SFace sees a blur of the face upscaled more than twice
//! (its 112×112 template puts the eyes 35 pixels apart), and a face turned half away
//! shows one eye. Such faces are where strangers come closest
//! to someone enrolled: in the classroom videos the unenrolled bystanders in the seat
//! photos, much smaller than the seats' own people, reach the similarity at which dim
//! faces are named (EVALUATION.md, "One person, one box, one right name"). `faceid` lets a face earn a name
//! only on frames of a quality at least `quality-floor`, asks more similarity of a
//! poorer face (see [`crate::gallery::MatchThreshold::at_quality`]), and keeps what a
//! track earned on its better frames through its poorer ones.
//!
//! The quality is the weakest of three measures, each 0 (useless) to 1 (fine):
//! - size: the distance between the eyes, from [`EYES_POOR`] to [`EYES_GOOD`] pixels;
//! - pose: how far the nose sits off the line between the eyes' midpoint and the
//!   mouth's, as a share of the eye distance (0 frontal, growing as the head turns and
//!   the eyes close up), from [`TURN_GOOD`] to [`TURN_POOR`]: generous, since a
//!   three-quarter face is often still named right and the landmarks of small faces
//!   are noisy;
//! - the detector's confidence, from [`SCORE_POOR`] to [`SCORE_GOOD`].
//!
//! Brightness and blur are left to the embedding's magnitude, which already measures
//! them (a dim room lowers every similarity, the right person's as much as a
//! stranger's, and the threshold follows the magnitude down there).

/// Eye distances (frame pixels) at which a face is useless and fine for naming.
pub const EYES_POOR: f32 = 14.0;
pub const EYES_GOOD: f32 = 24.0;
/// Nose offsets (share of the eye distance) at which a face is fine and useless.
pub const TURN_GOOD: f32 = 0.4;
pub const TURN_POOR: f32 = 0.9;
/// Detector confidences at which a face is useless and fine.
pub const SCORE_POOR: f32 = 0.45;
pub const SCORE_GOOD: f32 = 0.7;

/// The quality a face needs for a frame of it to count towards its name (faceid's
/// `quality-floor`).
pub const DEFAULT_FLOOR: f32 = 0.5;

/// 0 at `poor`, 1 at `good`, linear between (either order).
fn ramp(v: f32, poor: f32, good: f32) -> f32 {
    ((v - poor) / (good - poor)).clamp(0.0, 1.0)
}

/// The measures behind a face's quality.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceQuality {
    /// Distance between the eyes, frame pixels.
    pub eyes: f32,
    /// Nose offset from the face's midline, as a share of the eye distance.
    pub turn: f32,
    /// Detector confidence, when known.
    pub score: Option<f32>,
}

impl FaceQuality {
    /// From the five landmarks (right eye, left eye, nose, right and left mouth corner)
    /// and the detector's confidence.
    pub fn of(landmarks: &[[f32; 2]; 5], score: Option<f32>) -> Self {
        let [re, le, nose, rm, lm] = *landmarks;
        let eyes = ((le[0] - re[0]).powi(2) + (le[1] - re[1]).powi(2)).sqrt();
        // The midline runs from between the eyes to between the mouth corners; the
        // nose's distance from it, across the face.
        let top = [(re[0] + le[0]) / 2.0, (re[1] + le[1]) / 2.0];
        let bottom = [(rm[0] + lm[0]) / 2.0, (rm[1] + lm[1]) / 2.0];
        let axis = [bottom[0] - top[0], bottom[1] - top[1]];
        let len = (axis[0] * axis[0] + axis[1] * axis[1]).sqrt();
        let turn = if len > 1e-3 && eyes > 1e-3 {
            ((nose[0] - top[0]) * axis[1] - (nose[1] - top[1]) * axis[0]).abs() / len / eyes
        } else {
            1.0
        };
        Self { eyes, turn, score }
    }

    /// 0..1: the weakest of size, pose and confidence.
    pub fn value(&self) -> f32 {
        let size = ramp(self.eyes, EYES_POOR, EYES_GOOD);
        let pose = ramp(self.turn, TURN_POOR, TURN_GOOD);
        let score = self.score.map_or(1.0, |s| ramp(s, SCORE_POOR, SCORE_GOOD));
        size.min(pose).min(score)
    }
}

/// The quality of a face with these landmarks and this detector confidence.
pub fn of(landmarks: &[[f32; 2]; 5], score: Option<f32>) -> f32 {
    FaceQuality::of(landmarks, score).value()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frontal face with `eyes` pixels between the eyes, its nose moved `turn` eye
    /// distances sideways.
    fn face(eyes: f32, turn: f32) -> [[f32; 2]; 5] {
        let (x, y) = (100.0, 100.0);
        [
            [x, y],
            [x + eyes, y],
            [x + eyes / 2.0 + turn * eyes, y + 0.6 * eyes],
            [x + 0.1 * eyes, y + 1.2 * eyes],
            [x + 0.9 * eyes, y + 1.2 * eyes],
        ]
    }

    #[test]
    fn big_frontal_confident_faces_are_fine_and_each_weakness_counts() {
        assert_eq!(of(&face(40.0, 0.0), Some(0.9)), 1.0);
        // A bystander-sized face (the classroom photos' median).
        let small = of(&face(18.0, 0.0), Some(0.9));
        assert!((small - 0.4).abs() < 1e-4, "{small}");
        assert_eq!(of(&face(12.0, 0.0), Some(0.9)), 0.0);
        // Turned: the nose 0.7 eye distances off the midline.
        let turned = FaceQuality::of(&face(40.0, 0.7), Some(0.9));
        assert!((turned.turn - 0.7).abs() < 1e-4, "{turned:?}");
        assert!(turned.value() < 0.5 && turned.value() > 0.3, "{turned:?}");
        // Unsure detector.
        assert!(of(&face(40.0, 0.0), Some(0.5)) < 0.3);
        // No confidence given: size and pose decide.
        assert_eq!(of(&face(40.0, 0.0), None), 1.0);
    }

    #[test]
    fn the_pose_measure_does_not_depend_on_the_head_being_upright() {
        // The same face rotated by 30 degrees about its right eye.
        let (c, s) = (30f32.to_radians().cos(), 30f32.to_radians().sin());
        let upright = face(30.0, 0.15);
        let rotated = upright.map(|[x, y]| {
            let (dx, dy) = (x - 100.0, y - 100.0);
            [100.0 + c * dx - s * dy, 100.0 + s * dx + c * dy]
        });
        let (a, b) = (FaceQuality::of(&upright, None), FaceQuality::of(&rotated, None));
        assert!(
            (a.turn - b.turn).abs() < 1e-4 && (a.eyes - b.eyes).abs() < 1e-3,
            "{a:?} {b:?}"
        );
    }
}
