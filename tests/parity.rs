//! The bundled ONNX files, run through tract and through ONNX Runtime, reproduce the
//! original framework's outputs recorded by models/convert (models/fixtures/*.json).
//!
//! The ONNX Runtime checks run when `ORT_DYLIB_PATH` is set (the README's test command
//! sets it); set and unusable is a failure, not a skip.

mod common;

use faceengine::backend::{self, BackendKind, BackendOptions};
use faceengine::tensor::Tensor;
use std::path::Path;

fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn tensor(dir: &Path, spec: &serde_json::Value) -> (String, Tensor) {
    let shape: Vec<usize> = spec["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|v| v.as_u64().expect("dim") as usize)
        .collect();
    let data = read_f32(&dir.join(spec["file"].as_str().expect("file")));
    (
        spec["name"].as_str().expect("name").to_string(),
        Tensor::new(shape, data).expect("consistent fixture"),
    )
}

/// Whether the ONNX Runtime checks run here (see `common::onnxruntime_library`).
fn onnxruntime_wanted() -> bool {
    common::onnxruntime_library().is_some()
}

fn check_fixture(name: &str, kind: BackendKind) {
    let dir = common::root().join("models/fixtures");
    let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).expect("fixture json");
    let fx: serde_json::Value = serde_json::from_str(&text).expect("valid fixture");
    let model = backend::load(&common::model(fx["model"].as_str().expect("model")), kind).expect("model loads");
    let inputs: Vec<Tensor> = fx["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|s| tensor(&dir, s).1)
        .collect();
    let outputs = model.run(&inputs).expect("model runs");
    let abs = fx["tolerance"]["abs"].as_f64().expect("abs tolerance") as f32;
    let rel = fx["tolerance"]["rel"].as_f64().unwrap_or(0.0) as f32;
    for spec in fx["outputs"].as_array().expect("outputs") {
        let (oname, want) = tensor(&dir, spec);
        let got = &outputs[model.output_index(&oname).expect("output exists")];
        assert_eq!(got.shape, want.shape, "{name}/{oname}: shape");
        let mut worst = 0.0f32;
        for (g, w) in got.data.iter().zip(&want.data) {
            let err = (g - w).abs();
            assert!(
                err <= abs + rel * w.abs(),
                "{name}/{oname}: got {g}, original {w} (tolerance {abs} + {rel}·|x|)"
            );
            worst = worst.max(err);
        }
        eprintln!("{kind} {name}/{oname}: max abs error {worst:e}");
    }
}

#[test]
fn yunet_matches_the_original() {
    check_fixture("yunet", BackendKind::Tract);
}

#[test]
fn sface_matches_the_original() {
    check_fixture("sface", BackendKind::Tract);
}

#[test]
fn emotion_matches_the_original() {
    check_fixture("emotion-minixception", BackendKind::Tract);
}

#[test]
fn trained_emotion_model_matches_pytorch() {
    check_fixture("emotion-fer48", BackendKind::Tract);
}

#[test]
fn mtcnn_nets_match_the_original() {
    for net in ["mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet"] {
        check_fixture(net, BackendKind::Tract);
    }
}

#[test]
fn onnxruntime_matches_the_original_on_every_model() {
    if !onnxruntime_wanted() {
        return;
    }
    for name in [
        "yunet",
        "sface",
        "emotion-minixception",
        "emotion-fer48",
        "mtcnn-pnet",
        "mtcnn-rnet",
        "mtcnn-onet",
    ] {
        check_fixture(name, BackendKind::OnnxRuntime);
    }
}

#[test]
fn auto_picks_onnxruntime_when_its_library_is_set_and_says_why() {
    let loaded = backend::load_with(&common::model("sface.onnx"), &BackendOptions::default()).expect("auto loads");
    eprintln!("auto chose {}: {}", loaded.kind, loaded.reason);
    assert!(loaded.reason.starts_with("auto"), "{}", loaded.reason);
    // Unless this is a TensorRT machine, auto says why it skipped TensorRT.
    if loaded.kind != BackendKind::TensorRt {
        assert!(loaded.reason.contains("tensorrt skipped"), "{}", loaded.reason);
    }
    if onnxruntime_wanted() && loaded.kind != BackendKind::TensorRt {
        assert_eq!(loaded.kind, BackendKind::OnnxRuntime, "{}", loaded.reason);
        assert_eq!(loaded.model.name(), "onnxruntime");
    }
}

#[test]
fn a_missing_onnxruntime_library_is_a_clear_error() {
    // Only meaningful before anything loaded ONNX Runtime in this process: the library
    // is loaded once. Tests run in threads of one process, so accept either message.
    let opts = BackendOptions {
        onnxruntime_library: Some("/nonexistent/libonnxruntime.so".into()),
        ..BackendOptions::only(BackendKind::OnnxRuntime)
    };
    let err = match backend::load_with(&common::model("sface.onnx"), &opts) {
        Ok(_) => panic!("a missing ONNX Runtime library must not load"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("/nonexistent/libonnxruntime.so"), "{err}");
}

#[test]
fn every_bundled_model_loads_and_a_missing_one_is_a_clear_error() {
    for m in [
        "yunet.onnx",
        "sface.onnx",
        "emotion-minixception.onnx",
        "emotion-fer48.onnx",
        "mtcnn-pnet.onnx",
        "mtcnn-rnet.onnx",
        "mtcnn-onet.onnx",
    ] {
        backend::load(&common::model(m), BackendKind::Tract).unwrap_or_else(|e| panic!("{m}: {e:#}"));
    }
    let err = match backend::load(Path::new("/nonexistent/model.onnx"), BackendKind::Tract) {
        Ok(_) => panic!("a missing model must not load"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("/nonexistent/model.onnx"), "{err}");
}
