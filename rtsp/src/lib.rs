//! face-rtsp: an RTSP server that restreams a video with every face boxed, named and
//! labelled by the gst-face elements, and the pieces its latency probe shares with it.

pub mod args;
pub mod check;
pub mod looping;
pub mod pipeline;
pub mod server;
pub mod stamp;
