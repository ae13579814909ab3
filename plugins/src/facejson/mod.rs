use gst::glib;
use gst::prelude::*;

mod imp;
mod output;

glib::wrapper! {
    pub struct FaceJson(ObjectSubclass<imp::FaceJson>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "facejson", gst::Rank::NONE, FaceJson::static_type())
}
