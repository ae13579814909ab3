use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct FaceId(ObjectSubclass<imp::FaceId>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "faceid", gst::Rank::NONE, FaceId::static_type())
}
