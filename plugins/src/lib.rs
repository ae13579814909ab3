//! gst-face: GStreamer elements for real-time face analytics.
//!
//! `facedetect` finds faces and attaches one `GstVideoRegionOfInterestMeta` per face;
//! `faceid` and `faceemotion` add identity and emotion to those metas; `faceannotate`
//! draws them, `faceredact` hides the faces that must not be seen and `facejson`
//! writes them as JSON lines. The metadata contract is in
//! `docs/metadata.md` and implemented in [`meta`].

use gst::glib;

mod backend_props;
mod faceannotate;
mod facedetect;
mod faceemotion;
mod faceid;
mod facejson;
mod faceredact;
pub mod memory;
pub mod meta;
pub mod offline;
pub mod source;
pub mod video;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    facedetect::register(plugin)?;
    faceid::register(plugin)?;
    faceemotion::register(plugin)?;
    faceannotate::register(plugin)?;
    facejson::register(plugin)?;
    faceredact::register(plugin)?;
    Ok(())
}

gst::plugin_define!(
    face,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    "gst-face",
    env!("BUILD_REL_DATE")
);

/// Registers the elements with GStreamer without loading the plugin file (for tests
/// and applications that link the crate statically).
pub fn register_static() -> Result<(), glib::BoolError> {
    plugin_register_static()
}
