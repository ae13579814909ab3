//! Which numeric precision a model runs in, and so which file is loaded.
//!
//! Every bundled model has an fp32 file (`yunet.onnx`); some also have a statically
//! quantised int8 one beside it (`yunet.int8.onnx`, made by models/convert/quantize.py)
//! and, for TensorRT's own int8 builds, a calibration cache (`yunet.onnx.int8.calib`).
//! `auto` takes int8 on ONNX Runtime only where the CPU has the VNNI dot-product
//! instructions its int8 kernels are built around and the int8 file itself records that
//! it ran faster than fp32 when it was made (`gst_face_auto` in the ONNX metadata: int8
//! convolutions lose to fp32 ones on narrow depthwise layers such as YuNet's). tract
//! cannot plan these QDQ files (its shape inference stops at their quantised MatMul and
//! Gemm), so it runs fp32 only. TensorRT's `auto` is fp16.

use super::BackendKind;
use anyhow::{Result, bail};
use std::fmt;
use std::path::{Path, PathBuf};

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// The fastest precision this backend and CPU run well (see the module's rules).
    #[default]
    Auto,
    Fp32,
    Int8,
    /// TensorRT only.
    Fp16,
}

impl Precision {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "auto" | "" => Ok(Self::Auto),
            "fp32" => Ok(Self::Fp32),
            "int8" => Ok(Self::Int8),
            "fp16" => Ok(Self::Fp16),
            other => bail!("unknown precision '{other}' (available: auto, fp32, int8, fp16)"),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Fp32 => "fp32",
            Self::Int8 => "int8",
            Self::Fp16 => "fp16",
        })
    }
}

/// The file and precision a backend will load, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub path: PathBuf,
    /// Never `Auto`.
    pub precision: Precision,
    pub why: String,
}

/// The int8 file that goes with an fp32 model: `dir/name.onnx` -> `dir/name.int8.onnx`.
pub fn int8_path(fp32: &Path) -> PathBuf {
    let stem = fp32
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    fp32.with_file_name(format!("{stem}.int8.onnx"))
}

/// TensorRT's calibration cache for an fp32 model: `dir/name.onnx.int8.calib`.
pub fn calibration_path(fp32: &Path) -> PathBuf {
    let name = fp32
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    fp32.with_file_name(format!("{name}.int8.calib"))
}

/// The x86 dot-product instructions ONNX Runtime's int8 convolutions use (AVX-512 VNNI
/// or the AVX-VNNI of recent laptop CPUs); without them its int8 is slower than fp32.
pub fn cpu_has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512vnni") || std::arch::is_x86_feature_detected!("avxvnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// What an int8 file says `auto` should do with it (`gst_face_auto`), and the measurement
/// behind that (`gst_face_auto_why`); `None` for files without the note.
pub fn auto_note(path: &Path) -> Result<Option<(String, String)>> {
    let proto = super::onnx_proto(path)?;
    let get = |key: &str| {
        proto
            .metadata_props
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.value.clone())
    };
    Ok(get("gst_face_auto").map(|choice| (choice, get("gst_face_auto_why").unwrap_or_default())))
}

/// The file and precision `kind` loads for the model at `fp32` when `asked`.
pub fn resolve(fp32: &Path, kind: BackendKind, asked: Precision) -> Result<Resolved> {
    let int8 = int8_path(fp32);
    let plain = |precision, why: String| Resolved {
        path: fp32.to_path_buf(),
        precision,
        why,
    };
    let need_int8 = || -> Result<Resolved> {
        if !int8.is_file() {
            bail!(
                "precision=int8: no int8 model {} beside {} (models/convert/run-int8.sh makes one)",
                int8.display(),
                fp32.display()
            );
        }
        Ok(Resolved {
            path: int8.clone(),
            precision: Precision::Int8,
            why: format!("int8 ({}) was asked for", file_name(&int8)),
        })
    };
    match (kind, asked) {
        (BackendKind::TensorRt, Precision::Auto) => Ok(plain(Precision::Fp16, "auto: fp16 on TensorRT".into())),
        // TensorRT's int8 reads the fp32 model with a calibration cache, or the int8 model
        // from TensorRT 11 on; the backend decides which (tensorrt.rs).
        (BackendKind::TensorRt, p) => Ok(plain(p, format!("{p} was asked for"))),
        (_, Precision::Fp16) => bail!("precision=fp16 is for backend=tensorrt; {kind} runs fp32 or int8"),
        (_, Precision::Fp32) => Ok(plain(Precision::Fp32, "fp32 was asked for".into())),
        (BackendKind::Tract, Precision::Int8) => {
            bail!("precision=int8: tract cannot run the int8 (QDQ) models; use backend=onnxruntime, or precision=fp32")
        }
        (_, Precision::Int8) => need_int8(),
        (BackendKind::Tract, Precision::Auto) => Ok(plain(Precision::Fp32, "auto: fp32 (tract runs fp32 only)".into())),
        (BackendKind::OnnxRuntime, Precision::Auto) => {
            if !int8.is_file() {
                return Ok(plain(Precision::Fp32, format!("auto: fp32 (no {})", file_name(&int8))));
            }
            if !cpu_has_vnni() {
                return Ok(plain(
                    Precision::Fp32,
                    "auto: fp32 (this CPU has no VNNI, which int8 needs to be faster)".into(),
                ));
            }
            match auto_note(&int8)? {
                Some((choice, why)) if choice == "int8" => Ok(Resolved {
                    path: int8.clone(),
                    precision: Precision::Int8,
                    why: format!("auto: int8 ({}; when made: {why})", file_name(&int8)),
                }),
                Some((_, why)) => Ok(plain(
                    Precision::Fp32,
                    format!("auto: fp32 (int8 was not faster when made: {why})"),
                )),
                None => Ok(plain(
                    Precision::Fp32,
                    format!("auto: fp32 ({} does not say it is faster)", file_name(&int8)),
                )),
            }
        }
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_the_fp32_model() {
        assert_eq!(int8_path(Path::new("m/sface.onnx")), Path::new("m/sface.int8.onnx"));
        assert_eq!(
            calibration_path(Path::new("m/sface.onnx")),
            Path::new("m/sface.onnx.int8.calib")
        );
    }

    #[test]
    fn precisions_parse_and_print() {
        for p in [Precision::Auto, Precision::Fp32, Precision::Int8, Precision::Fp16] {
            assert_eq!(Precision::parse(&p.to_string()).ok(), Some(p));
        }
        assert!(Precision::parse("int4").is_err());
    }

    #[test]
    fn cpu_backends_refuse_fp16_and_a_missing_int8_file() {
        let dir = std::env::temp_dir().join(format!("gst-face-precision-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        let fp32 = dir.join("lonely.onnx");
        std::fs::write(&fp32, b"").ok();
        let err = resolve(&fp32, BackendKind::OnnxRuntime, Precision::Fp16).unwrap_err();
        assert!(err.to_string().contains("backend=tensorrt"), "{err}");
        let err = resolve(&fp32, BackendKind::OnnxRuntime, Precision::Int8).unwrap_err();
        assert!(err.to_string().contains("lonely.int8.onnx"), "{err}");
        let err = resolve(&fp32, BackendKind::Tract, Precision::Int8).unwrap_err();
        assert!(err.to_string().contains("tract cannot"), "{err}");
        let auto = resolve(&fp32, BackendKind::OnnxRuntime, Precision::Auto).ok();
        assert_eq!(
            auto.map(|r| (r.path, r.precision)),
            Some((fp32.clone(), Precision::Fp32))
        );
        let trt = resolve(&fp32, BackendKind::TensorRt, Precision::Auto).ok();
        assert_eq!(trt.map(|r| r.precision), Some(Precision::Fp16));
        std::fs::remove_dir_all(&dir).ok();
    }
}
