//! `face-eval video` (gstface::offline) runs the engine's analysers without the elements:
//! on the demo clip it writes, byte for byte, what the element chain writes.

mod util;

use gstface::offline::{self, ChainSettings};
use util::*;

#[test]
fn the_analysers_alone_write_what_the_element_chain_writes() {
    init();
    let clip = asset("video/WolfgangLanger_Pexels.mp4");
    let gallery = root().join("assets/demo-gallery");
    assert!(gallery.is_dir(), "run scripts/fetch-assets.sh first");
    let dir = temp_dir("offline");
    let chain_out = dir.join("chain.jsonl");
    let (result, warnings) = play(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! facedetect ! faceid gallery=\"{}\" \
         ! faceemotion ! facejson location=\"{}\" ! fakesink",
        clip.display(),
        gallery.display(),
        chain_out.display()
    ));
    result.expect("the element chain plays");
    assert!(warnings.is_empty(), "{warnings:?}");
    let settings = ChainSettings {
        gallery: Some(gallery),
        emotion: Some((
            faceengine::default_model(faceengine::emotion::DEFAULT_MODEL),
            String::new(),
            Default::default(),
        )),
        ..ChainSettings::default()
    };
    let mut alone = Vec::new();
    let frames = offline::run(&clip, &settings, &mut alone).expect("face-eval video runs");
    let chain = std::fs::read(&chain_out).expect("the chain wrote its lines");
    let chain = String::from_utf8(chain).expect("utf-8");
    let alone = String::from_utf8(alone).expect("utf-8");
    assert_eq!(frames as usize, chain.lines().count());
    // What the comparison rests on: the clip's presenter is found and named.
    assert!(chain.contains("\"name\":\"Presenter\""), "the presenter is named");
    for (n, (a, b)) in chain.lines().zip(alone.lines()).enumerate() {
        assert_eq!(a, b, "frame {n} differs");
    }
    assert_eq!(chain, alone);
}

#[test]
fn a_missing_video_or_gallery_is_a_clear_error() {
    init();
    let mut out = Vec::new();
    let e = offline::run(
        std::path::Path::new("/nonexistent.mp4"),
        &ChainSettings::default(),
        &mut out,
    )
    .expect_err("no such file");
    assert!(e.to_string().contains("/nonexistent.mp4"), "{e}");
    let settings = ChainSettings {
        gallery: Some("/nonexistent-gallery".into()),
        ..ChainSettings::default()
    };
    let e = offline::run(&asset("video/single_face.mp4"), &settings, &mut out).expect_err("no such gallery");
    assert!(format!("{e:#}").contains("/nonexistent-gallery"), "{e:#}");
}
