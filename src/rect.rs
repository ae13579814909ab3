//! Boxes in frame pixels, and their conversions.
//!
//! A [`Rect`] is left, top, width, height: the layout of [`crate::detect::Face::bbox`]
//! and of the metadata. Trackers think in centre and size, NMS in corners: both are
//! conversions from and to a `Rect`, named, rather than other meanings of four floats.

/// An axis-aligned box: left, top, width, height, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl Rect {
    pub const fn new(x: f32, y: f32, w: f32, h: f32) -> Self {
        Self { x, y, w, h }
    }

    /// From `[x, y, w, h]`.
    pub const fn from_xywh(b: [f32; 4]) -> Self {
        Self::new(b[0], b[1], b[2], b[3])
    }

    /// `[x, y, w, h]`.
    pub const fn xywh(self) -> [f32; 4] {
        [self.x, self.y, self.w, self.h]
    }

    /// From `[x0, y0, x1, y1]`: the top-left and bottom-right corners.
    pub fn from_corners(c: [f32; 4]) -> Self {
        Self::new(c[0], c[1], c[2] - c[0], c[3] - c[1])
    }

    /// `[x0, y0, x1, y1]`: the top-left and bottom-right corners.
    pub fn corners(self) -> [f32; 4] {
        [self.x, self.y, self.x + self.w, self.y + self.h]
    }

    /// From `[cx, cy, w, h]`: the centre and the size.
    pub fn from_centre_size(c: [f32; 4]) -> Self {
        Self::new(c[0] - c[2] / 2.0, c[1] - c[3] / 2.0, c[2], c[3])
    }

    /// `[cx, cy, w, h]`: the centre and the size.
    pub fn centre_size(self) -> [f32; 4] {
        [self.x + self.w / 2.0, self.y + self.h / 2.0, self.w, self.h]
    }

    pub fn area(self) -> f32 {
        self.w * self.h
    }

    /// Intersection over union; 0 for boxes without area.
    pub fn iou(self, other: Rect) -> f32 {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = (self.x + self.w).min(other.x + other.w);
        let y1 = (self.y + self.h).min(other.y + other.h);
        let inter = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_trip() {
        let r = Rect::new(10.0, 20.0, 30.0, 40.0);
        assert_eq!(Rect::from_corners(r.corners()), r);
        assert_eq!(Rect::from_centre_size(r.centre_size()), r);
        assert_eq!(r.centre_size(), [25.0, 40.0, 30.0, 40.0]);
        assert_eq!(r.corners(), [10.0, 20.0, 40.0, 60.0]);
    }

    #[test]
    fn iou_of_known_boxes() {
        let a = Rect::new(0.0, 0.0, 10.0, 10.0);
        assert_eq!(a.iou(a), 1.0);
        assert_eq!(a.iou(Rect::new(20.0, 0.0, 10.0, 10.0)), 0.0);
        assert!((a.iou(Rect::new(5.0, 0.0, 10.0, 10.0)) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(Rect::default().iou(Rect::default()), 0.0);
    }
}
