//! Telling the elements that the stream's source failed and came back.
//!
//! A live source that drops out (a camera rebooting, a network cut) leaves a gap in the
//! stream. Whoever supervises the source (`face-rtsp` does) sends a custom downstream
//! event, serialized with the buffers, before the gap and another before the first frame
//! after it. `facedetect`, `faceid` and `faceemotion` start their tracks afresh on a
//! loss (faces after an outage are new visits); `facejson` ends every track with `left`
//! and writes `source-lost` and `source-restored` events.
//!
//! The events are structures named [`LOST`] (field `reason`, a string) and [`RESTORED`]:
//! an application that supervises its own source can send them with
//! `gst_pad_push_event` or `gst_element_send_event` on its source.

/// Structure name of the custom downstream event sent before a gap.
pub const LOST: &str = "face-source-lost";
/// Structure name of the custom downstream event sent before the first frame after it.
pub const RESTORED: &str = "face-source-restored";

/// What a custom event says of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Lost { reason: String },
    Restored,
}

/// The event announcing that the source failed (`reason` says how).
pub fn lost(reason: &str) -> gst::Event {
    gst::event::CustomDownstream::new(gst::Structure::builder(LOST).field("reason", reason).build())
}

/// The event announcing that the source gives frames again.
pub fn restored() -> gst::Event {
    gst::event::CustomDownstream::new(gst::Structure::new_empty(RESTORED))
}

/// The change `event` announces, if it is one of ours.
pub fn change(event: &gst::EventRef) -> Option<Change> {
    let gst::EventView::CustomDownstream(custom) = event.view() else {
        return None;
    };
    let s = custom.structure()?;
    if s.name() == LOST {
        Some(Change::Lost {
            reason: s.get::<String>("reason").unwrap_or_else(|_| "unknown".into()),
        })
    } else if s.name() == RESTORED {
        Some(Change::Restored)
    } else {
        None
    }
}

/// Whether `event` ends the faces in view for the analysis elements: a flush (a seek)
/// or the loss of the source.
pub fn starts_afresh(event: &gst::EventRef) -> bool {
    matches!(event.view(), gst::EventView::FlushStop(_)) || matches!(change(event), Some(Change::Lost { .. }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_events_say_what_they_are_made_for() {
        gst::init().expect("GStreamer initialises");
        assert_eq!(
            change(&lost("no data for 5 s")),
            Some(Change::Lost {
                reason: "no data for 5 s".into()
            })
        );
        assert_eq!(change(&restored()), Some(Change::Restored));
        assert!(lost("x").is_serialized() && restored().is_serialized());
        assert!(starts_afresh(&lost("x")) && !starts_afresh(&restored()));
        let other = gst::event::CustomDownstream::new(gst::Structure::new_empty("something-else"));
        assert_eq!(change(&other), None);
        assert!(!starts_afresh(&gst::event::Eos::new()));
    }
}
