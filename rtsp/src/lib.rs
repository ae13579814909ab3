//! face-rtsp: an RTSP server that restreams cameras with every face boxed, named and
//! labelled by the gst-face elements, keeps serving while a camera drops out, and the
//! pieces its latency probe shares with it.
//!
//! Per camera (`camera`): a supervised ingest pipeline (`supervise`) feeds (`feed`) an
//! analysis pipeline that runs from start to exit, whose frames a relay (`relay`,
//! `slate`) hands to the RTSP media of the camera's mount (`server`).

pub mod args;
pub mod camera;
pub mod check;
pub mod feed;
pub mod looping;
pub mod memory;
pub mod pipeline;
pub mod relay;
pub mod server;
pub mod slate;
pub mod stamp;
pub mod stats;
pub mod supervise;
