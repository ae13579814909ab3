//! Glue between GStreamer video frames and the engine's frame views.

use faceengine::frame::{FrameView, PixelFormat, YuvMatrix};
use gst_video::prelude::*;
use gst_video::{VideoColorMatrix, VideoColorRange, VideoFormat};

/// The raw formats every face element accepts, read directly without conversion.
pub const FORMATS: [VideoFormat; 8] = [
    VideoFormat::I420,
    VideoFormat::Nv12,
    VideoFormat::Rgb,
    VideoFormat::Bgr,
    VideoFormat::Rgba,
    VideoFormat::Bgra,
    VideoFormat::Rgbx,
    VideoFormat::Bgrx,
];

/// Raw video in any of [`FORMATS`].
pub fn caps() -> gst::Caps {
    gst_video::VideoCapsBuilder::new().format_list(FORMATS).build()
}

pub fn pixel_format(f: VideoFormat) -> Option<PixelFormat> {
    Some(match f {
        VideoFormat::I420 => PixelFormat::I420,
        VideoFormat::Nv12 => PixelFormat::Nv12,
        VideoFormat::Rgb => PixelFormat::Rgb,
        VideoFormat::Bgr => PixelFormat::Bgr,
        VideoFormat::Rgba => PixelFormat::Rgba,
        VideoFormat::Bgra => PixelFormat::Bgra,
        VideoFormat::Rgbx => PixelFormat::Rgbx,
        VideoFormat::Bgrx => PixelFormat::Bgrx,
        _ => return None,
    })
}

/// An engine view of a mapped frame, with the YUV matrix and range from its caps.
pub fn frame_view<'a>(frame: &'a gst_video::VideoFrameRef<&gst::BufferRef>) -> anyhow::Result<FrameView<'a>> {
    let format =
        pixel_format(frame.format()).ok_or_else(|| anyhow::anyhow!("unsupported video format {:?}", frame.format()))?;
    let n = frame.n_planes() as usize;
    let mut planes = Vec::with_capacity(n);
    for i in 0..n {
        planes.push(frame.plane_data(i as u32)?);
    }
    let strides: Vec<usize> = frame.plane_stride()[..n].iter().map(|&s| s.max(0) as usize).collect();
    let colorimetry = frame.info().colorimetry();
    let matrix = match colorimetry.matrix() {
        VideoColorMatrix::Bt601 => YuvMatrix::Bt601,
        _ => YuvMatrix::Bt709,
    };
    let full = colorimetry.range() == VideoColorRange::Range0_255;
    Ok(FrameView::new(
        format,
        frame.width() as usize,
        frame.height() as usize,
        &planes,
        &strides,
    )?
    .with_yuv(matrix, full))
}

/// The always-present `src` and `sink` templates of a filter over [`caps`].
pub fn pad_templates() -> Vec<gst::PadTemplate> {
    let caps = caps();
    [gst::PadDirection::Src, gst::PadDirection::Sink]
        .into_iter()
        .map(|dir| {
            let name = if dir == gst::PadDirection::Src { "src" } else { "sink" };
            gst::PadTemplate::new(name, dir, gst::PadPresence::Always, &caps).expect("valid template")
        })
        .collect()
}

/// The sprites as one overlay composition (`None` when there are none), to attach as a
/// meta or blend into a frame.
pub fn composition(sprites: Vec<faceengine::draw::Sprite>) -> Option<gst_video::VideoOverlayComposition> {
    let rects: Vec<gst_video::VideoOverlayRectangle> = sprites
        .into_iter()
        .map(|s| {
            let (w, h, x, y) = (s.width as u32, s.height as u32, s.x, s.y);
            let mut buffer = gst::Buffer::from_mut_slice(s.bgra);
            // The overlay API's "RGB" format is BGRA in memory on little-endian machines,
            // which is the byte order the sprite uses.
            gst_video::VideoMeta::add(
                buffer.get_mut().expect("new buffer is writable"),
                gst_video::VideoFrameFlags::empty(),
                gst_video::VideoFormat::Bgra,
                w,
                h,
            )
            .ok()?;
            Some(gst_video::VideoOverlayRectangle::new_raw(
                &buffer,
                x,
                y,
                w,
                h,
                gst_video::VideoOverlayFormatFlags::empty(),
            ))
        })
        .collect::<Option<_>>()?;
    if rects.is_empty() {
        None
    } else {
        Some(gst_video::VideoOverlayComposition::new(rects.iter()).ok()?)
    }
}

/// Runs an element's analysis on each frame and keeps the stream alive when it fails.
#[derive(Debug, Default)]
pub struct Analysis {
    /// Consecutive frames that failed; warned about once per run of failures.
    failing: u64,
}

impl Analysis {
    /// Maps `buf` for reading and runs `f` on its engine view. A frame that cannot be
    /// mapped is a stream error; an analysis error only skips this frame (`Ok(None)`):
    /// it passes on without the element's metadata, and one bad frame never ends the
    /// stream.
    pub fn run<T>(
        &mut self,
        element: &gst::Element,
        what: &str,
        buf: &gst::BufferRef,
        info: &gst_video::VideoInfo,
        f: impl FnOnce(&FrameView) -> anyhow::Result<T>,
    ) -> Result<Option<T>, gst::FlowError> {
        let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buf, info).map_err(|_| {
            gst::element_error!(element, gst::StreamError::Failed, ["Cannot map the frame for reading"]);
            gst::FlowError::Error
        })?;
        match frame_view(&frame).and_then(|view| f(&view)) {
            Ok(v) => {
                self.failing = 0;
                Ok(Some(v))
            }
            Err(e) => {
                if self.failing == 0 {
                    gst::element_warning!(element, gst::StreamError::Decode, ["{what} failed on a frame: {e:#}"]);
                }
                self.failing += 1;
                Ok(None)
            }
        }
    }
}

/// The engine's writable view of a mapped frame, for hiding regions in place.
pub fn frame_mut<'a>(
    frame: &'a mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
) -> anyhow::Result<faceengine::redact::FrameMut<'a>> {
    let format =
        pixel_format(frame.format()).ok_or_else(|| anyhow::anyhow!("unsupported video format {:?}", frame.format()))?;
    let (width, height) = (frame.width() as usize, frame.height() as usize);
    let n = frame.n_planes() as usize;
    let strides: Vec<usize> = frame.plane_stride()[..n].iter().map(|&s| s.max(0) as usize).collect();
    let planes: Vec<&mut [u8]> = frame.planes_data_mut().into_iter().take(n).collect();
    faceengine::redact::FrameMut::new(format, width, height, planes, strides)
}
