//! The picture viewers get while a camera gives none: its last frame, darkened, with a
//! banner saying since when there is no signal (or, before the camera was ever seen,
//! a black frame saying that it is awaited).

use gst_video::prelude::*;

/// How much of the last frame shows through under the banner.
const DIM: f32 = 0.35;

/// Local wall-clock time as HH:MM:SS.
pub fn clock(t: &gst::glib::DateTime) -> String {
    t.format("%H:%M:%S").map(|s| s.to_string()).unwrap_or_default()
}

/// An I420 frame of `info`'s size: `base` darkened (or black), `lines` in a banner in
/// the middle. `None` when the frame cannot be made (a format other than I420).
pub fn render(info: &gst_video::VideoInfo, base: Option<&gst::Buffer>, lines: &[String]) -> Option<gst::Buffer> {
    if info.format() != gst_video::VideoFormat::I420 {
        return None;
    }
    let mut buffer = gst::Buffer::with_size(info.size()).ok()?;
    {
        let buf = buffer.get_mut()?;
        let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(buf, info).ok()?;
        let base = base.and_then(|b| gst_video::VideoFrameRef::from_buffer_ref_readable(b.as_ref(), info).ok());
        for plane in 0..3u32 {
            let (neutral, rows) = if plane == 0 {
                (16.0, info.height() as usize)
            } else {
                (128.0, (info.height() as usize).div_ceil(2))
            };
            let stride = frame.plane_stride()[plane as usize] as usize;
            let data = frame.plane_data_mut(plane).ok()?;
            match base.as_ref().and_then(|b| {
                let s = b.plane_stride()[plane as usize] as usize;
                b.plane_data(plane).ok().map(|d| (d, s))
            }) {
                Some((src, src_stride)) if src_stride == stride && src.len() >= rows * stride => {
                    for (d, s) in data[..rows * stride].iter_mut().zip(&src[..rows * stride]) {
                        *d = (neutral + (f32::from(*s) - neutral) * DIM).round() as u8;
                    }
                }
                _ => data.fill(neutral as u8),
            }
        }
        let text_px = (info.height() as f32 / 16.0).clamp(12.0, 48.0);
        if let Some(mut panel) = faceengine::draw::render_panel(lines, text_px) {
            panel.x = (info.width() as i32 - panel.width as i32).max(0) / 2;
            panel.y = (info.height() as i32 - panel.height as i32).max(0) / 2;
            if let Some(comp) = gstface::video::composition(vec![panel]) {
                let _ = comp.blend(&mut frame);
            }
        }
    }
    Some(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(w: u32, h: u32) -> gst_video::VideoInfo {
        gst::init().expect("GStreamer initialises");
        gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, w, h)
            .build()
            .expect("info")
    }

    fn luma(buffer: &gst::Buffer, info: &gst_video::VideoInfo) -> Vec<u8> {
        let f = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), info).expect("map");
        f.plane_data(0).expect("plane").to_vec()
    }

    #[test]
    fn the_last_frame_shows_dimmed_under_a_readable_banner() {
        let info = info(320, 180);
        let mut base = gst::Buffer::with_size(info.size()).expect("buffer");
        base.get_mut().expect("writable").map_writable().expect("map").fill(200);
        let lines = vec!["door: no signal since 09:00:00".to_string()];
        let slate = render(&info, Some(&base), &lines).expect("slate");
        let y = luma(&slate, &info);
        // A corner, away from the banner: the old picture, dimmed.
        let dimmed = (16.0 + (200.0 - 16.0) * DIM).round() as u8;
        assert_eq!(y[0], dimmed);
        // The middle row holds the banner's white text and its dark panel.
        let row = &y[90 * 320..91 * 320];
        assert!(row.iter().any(|&v| v > 200), "no text in {row:?}");
        assert!(row.iter().any(|&v| v < dimmed - 20), "no panel in {row:?}");
        // No last frame: black around the banner.
        let y = luma(&render(&info, None, &lines).expect("slate"), &info);
        assert_eq!(y[0], 16);
    }
}
