use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct FaceAnnotate(ObjectSubclass<imp::FaceAnnotate>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "faceannotate",
        gst::Rank::NONE,
        FaceAnnotate::static_type(),
    )
}
