//! `--stamp`: a barcode with the wall-clock time written into each source frame, so a
//! client on the same machine can tell how long the frame took to reach it.
//!
//! The code sits in the top 32 rows at the left: 64 blocks of 8×16 luma pixels, black
//! for 0 and white for 1, holding 48 bits of milliseconds since the Unix epoch and a
//! 16-bit frame counter (the client counts the frames it never got from the gaps);
//! under it the same blocks inverted, which tells a real code from picture content.
//! Blocks this large survive H.264 at any sensible bitrate. It is written before the
//! leaky queue, so the delay it measures includes the waiting there.

use gst::prelude::*;
use gst_video::prelude::*;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

const BITS: usize = 64;
const BLOCK_W: usize = 8;
const BLOCK_H: usize = 16;
/// The frame must be at least this wide for the code to fit.
pub const MIN_WIDTH: usize = BITS * BLOCK_W;
pub const MIN_HEIGHT: usize = 2 * BLOCK_H;

/// What a frame carries: when it left the source, and its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub millis: u64,
    pub seq: u16,
}

impl Stamp {
    fn bits(self) -> u64 {
        ((self.millis & 0xFFFF_FFFF_FFFF) << 16) | u64::from(self.seq)
    }
}

/// Milliseconds since the Unix epoch, from the system's real-time clock.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Draws `stamp` into a luma plane. Returns false (and draws nothing) when it does not fit.
pub fn write(plane: &mut [u8], stride: usize, width: usize, height: usize, stamp: Stamp) -> bool {
    if width < MIN_WIDTH || height < MIN_HEIGHT || plane.len() < (MIN_HEIGHT - 1) * stride + MIN_WIDTH {
        return false;
    }
    let bits = stamp.bits();
    for bit in 0..BITS {
        let one = bits >> (BITS - 1 - bit) & 1 == 1;
        for (band, value) in [(0, one), (1, !one)] {
            let luma = if value { 235 } else { 16 };
            for y in band * BLOCK_H..(band + 1) * BLOCK_H {
                let row = y * stride + bit * BLOCK_W;
                plane[row..row + BLOCK_W].fill(luma);
            }
        }
    }
    true
}

/// Mean luma of the middle of one block (its edges blur in compression).
fn block_mean(plane: &[u8], stride: usize, bit: usize, band: usize) -> u32 {
    let (x0, y0) = (bit * BLOCK_W + 2, band * BLOCK_H + 4);
    let mut sum = 0u32;
    for y in y0..y0 + BLOCK_H - 8 {
        for x in x0..x0 + BLOCK_W - 4 {
            sum += u32::from(plane[y * stride + x]);
        }
    }
    sum / ((BLOCK_H as u32 - 8) * (BLOCK_W as u32 - 4))
}

/// Reads a stamp back from a luma (or grey) plane; `None` when the frame has none.
pub fn read(plane: &[u8], stride: usize, width: usize, height: usize) -> Option<Stamp> {
    if width < MIN_WIDTH || height < MIN_HEIGHT || plane.len() < (MIN_HEIGHT - 1) * stride + MIN_WIDTH {
        return None;
    }
    let mut bits = 0u64;
    for bit in 0..BITS {
        let (top, bottom) = (block_mean(plane, stride, bit, 0), block_mean(plane, stride, bit, 1));
        // Each bit is drawn twice, the second time inverted: the two must differ clearly
        // (picture content, or a frame without a code, does not).
        let one = match top as i32 - bottom as i32 {
            d if d > 60 => true,
            d if d < -60 => false,
            _ => return None,
        };
        bits = bits << 1 | u64::from(one);
    }
    Some(Stamp {
        millis: bits >> 16,
        seq: (bits & 0xFFFF) as u16,
    })
}

/// Stamps every buffer that passes `pad` (raw I420 or another format with luma first).
pub fn install(pad: &gst::Pad) {
    let state: Mutex<(u16, Option<gst_video::VideoInfo>)> = Mutex::new((0, None));
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        if st.1.is_none() {
            st.1 = pad
                .current_caps()
                .and_then(|caps| gst_video::VideoInfo::from_caps(&caps).ok());
        }
        let (Some(video), Some(buffer)) = (st.1.clone(), info.buffer_mut()) else {
            return gst::PadProbeReturn::Ok;
        };
        let stamp = Stamp {
            millis: now_millis(),
            seq: st.0,
        };
        st.0 = st.0.wrapping_add(1);
        if let Ok(mut frame) = gst_video::VideoFrameRef::from_buffer_ref_writable(buffer.make_mut(), &video) {
            let stride = frame.plane_stride()[0] as usize;
            let (w, h) = (frame.width() as usize, frame.height() as usize);
            if let Ok(plane) = frame.plane_data_mut(0) {
                write(plane, stride, w, h, stamp);
            }
        }
        gst::PadProbeReturn::Ok
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_read_back_and_plain_pictures_do_not() {
        let (w, h, stride) = (640, 360, 640);
        let mut plane = vec![128u8; stride * h];
        assert_eq!(read(&plane, stride, w, h), None);
        let stamp = Stamp {
            millis: 1_790_000_123_456,
            seq: 54_321,
        };
        assert!(write(&mut plane, stride, w, h, stamp));
        assert_eq!(read(&plane, stride, w, h), Some(stamp));
        // A little noise (as after compression) changes nothing.
        for (i, p) in plane.iter_mut().enumerate() {
            *p = p.saturating_add((i % 7) as u8 * 4).saturating_sub(12);
        }
        assert_eq!(read(&plane, stride, w, h), Some(stamp));
        // Too narrow: nothing drawn.
        let mut small = vec![0u8; 320 * 240];
        assert!(!write(&mut small, 320, 320, 240, stamp));
    }
}
