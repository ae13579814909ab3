//! Where built engines are kept, and under which names.
//!
//! A TensorRT engine only runs with the TensorRT version and the GPU it was built for,
//! and bakes in the precision, the DLA core and the batch range. The file name records
//! all of them, in the style of DeepStream's `model.onnx_b16_gpu0_fp16.engine`, so a
//! changed setting or an upgraded JetPack builds a new engine instead of failing to load
//! the old one: `sface.onnx_b16_gpu0_fp16_trt8.5.2_xavier.engine`.

use anyhow::{Context, Result, bail};
use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What an engine was built for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EngineKey<'a> {
    pub onnx: &'a Path,
    /// TensorRT major, minor, patch.
    pub tensorrt: (u32, u32, u32),
    /// The CUDA device name, e.g. "Xavier" or "NVIDIA GeForce RTX 3090".
    pub gpu: &'a str,
    /// "fp32", "fp16" or "int8".
    pub precision: &'static str,
    pub dla_core: Option<u32>,
    pub max_batch: usize,
}

pub(crate) fn engine_file_name(key: &EngineKey) -> String {
    let model = key
        .onnx
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let device = match key.dla_core {
        Some(core) => format!("dla{core}"),
        None => "gpu0".into(),
    };
    let (major, minor, patch) = key.tensorrt;
    format!(
        "{model}_b{}_{device}_{}_trt{major}.{minor}.{patch}_{}.engine",
        key.max_batch.max(1),
        key.precision,
        sanitise(key.gpu)
    )
}

/// A GPU name fit for a file name: lower case, runs of anything but letters and digits
/// turned into one '-'.
pub(crate) fn sanitise(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out.truncate(48);
    if out.is_empty() { "unknown-gpu".into() } else { out }
}

/// Folders to look in and to write to, in order: the one asked for; else the model's
/// own folder, then the user's cache (`$XDG_CACHE_HOME/gst-face/engines`, else
/// `~/.cache/gst-face/engines`).
pub(crate) fn candidate_dirs(
    onnx: &Path,
    cache_dir: Option<&Path>,
    xdg_cache_home: Option<OsString>,
    home: Option<OsString>,
) -> Vec<PathBuf> {
    if let Some(dir) = cache_dir {
        return vec![dir.to_path_buf()];
    }
    let mut dirs = Vec::new();
    match onnx.parent() {
        Some(p) if !p.as_os_str().is_empty() => dirs.push(p.to_path_buf()),
        _ => dirs.push(PathBuf::from(".")),
    }
    let user = match (xdg_cache_home, home) {
        (Some(x), _) if !x.is_empty() => Some(PathBuf::from(x)),
        (_, Some(h)) if !h.is_empty() => Some(PathBuf::from(h).join(".cache")),
        _ => None,
    };
    if let Some(user) = user {
        dirs.push(user.join("gst-face").join("engines"));
    }
    dirs
}

/// The process's own [`candidate_dirs`].
pub(crate) fn default_dirs(onnx: &Path, cache_dir: Option<&Path>) -> Vec<PathBuf> {
    candidate_dirs(
        onnx,
        cache_dir,
        std::env::var_os("XDG_CACHE_HOME"),
        std::env::var_os("HOME"),
    )
}

/// The first cached engine called `name` that is not older than the model it was built
/// from (an updated ONNX file makes its old engines stale).
pub(crate) fn find_fresh(dirs: &[PathBuf], name: &str, onnx: &Path) -> Option<PathBuf> {
    let model_time = fs::metadata(onnx).and_then(|m| m.modified()).ok();
    dirs.iter().map(|d| d.join(name)).find(|path| {
        let Ok(meta) = fs::metadata(path) else { return false };
        if !meta.is_file() || meta.len() == 0 {
            return false;
        }
        match (model_time, meta.modified().ok()) {
            (Some(model), Some(engine)) => engine >= model,
            _ => true,
        }
    })
}

/// Writes `bytes` as `name` into the first folder that takes it, atomically: readers
/// (another pipeline starting at the same time) see the old file or the whole new one.
pub(crate) fn store(dirs: &[PathBuf], name: &str, bytes: &[u8]) -> Result<PathBuf> {
    let mut failures = Vec::new();
    for dir in dirs {
        match store_in(dir, name, bytes) {
            Ok(path) => return Ok(path),
            Err(e) => failures.push(format!("{}: {e:#}", dir.display())),
        }
    }
    bail!("could not write engine {name} anywhere ({})", failures.join("; "))
}

fn store_in(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    fs::create_dir_all(dir).context("creating the folder")?;
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, &path)) {
        let _ = fs::remove_file(&tmp);
        return Err(e).context("writing the engine");
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn key(onnx: &Path) -> EngineKey<'_> {
        EngineKey {
            onnx,
            tensorrt: (8, 5, 2),
            gpu: "Xavier",
            precision: "fp16",
            dla_core: None,
            max_batch: 16,
        }
    }

    fn scratch(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gstface-trt-cache-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn name_records_model_batch_device_precision_version_and_gpu() {
        let onnx = Path::new("/models/sface.onnx");
        assert_eq!(
            engine_file_name(&key(onnx)),
            "sface.onnx_b16_gpu0_fp16_trt8.5.2_xavier.engine"
        );
        let k = EngineKey {
            precision: "fp32",
            dla_core: Some(1),
            max_batch: 4,
            tensorrt: (10, 3, 0),
            gpu: "NVIDIA GeForce RTX 3090",
            ..key(onnx)
        };
        assert_eq!(
            engine_file_name(&k),
            "sface.onnx_b4_dla1_fp32_trt10.3.0_nvidia-geforce-rtx-3090.engine"
        );
        let k = EngineKey {
            precision: "int8",
            dla_core: Some(0),
            ..key(onnx)
        };
        assert_eq!(engine_file_name(&k), "sface.onnx_b16_dla0_int8_trt8.5.2_xavier.engine");
    }

    #[test]
    fn every_setting_changes_the_name() {
        let onnx = Path::new("yunet.onnx");
        let base = engine_file_name(&key(onnx));
        let variants = [
            EngineKey {
                precision: "fp32",
                ..key(onnx)
            },
            EngineKey {
                precision: "int8",
                ..key(onnx)
            },
            EngineKey {
                dla_core: Some(0),
                ..key(onnx)
            },
            EngineKey {
                max_batch: 8,
                ..key(onnx)
            },
            EngineKey {
                tensorrt: (8, 6, 1),
                ..key(onnx)
            },
            EngineKey {
                gpu: "Orin",
                ..key(onnx)
            },
            EngineKey {
                onnx: Path::new("sface.onnx"),
                ..key(onnx)
            },
        ];
        for v in variants {
            assert_ne!(engine_file_name(&v), base, "{v:?}");
        }
    }

    #[test]
    fn gpu_names_are_sanitised() {
        assert_eq!(sanitise("Xavier"), "xavier");
        assert_eq!(sanitise("NVIDIA GeForce RTX 3090 Ti"), "nvidia-geforce-rtx-3090-ti");
        assert_eq!(sanitise("  Orin (nvgpu)/../x "), "orin-nvgpu-x");
        assert_eq!(sanitise("///"), "unknown-gpu");
        assert_eq!(sanitise(&"a".repeat(100)).len(), 48);
    }

    #[test]
    fn cache_dirs_follow_the_documented_order() {
        let onnx = Path::new("/opt/models/sface.onnx");
        assert_eq!(
            candidate_dirs(onnx, Some(Path::new("/var/engines")), Some("/x".into()), None),
            [PathBuf::from("/var/engines")]
        );
        assert_eq!(
            candidate_dirs(onnx, None, Some("/xdg".into()), Some("/home/u".into())),
            [PathBuf::from("/opt/models"), PathBuf::from("/xdg/gst-face/engines")]
        );
        assert_eq!(
            candidate_dirs(onnx, None, None, Some("/home/u".into())),
            [
                PathBuf::from("/opt/models"),
                PathBuf::from("/home/u/.cache/gst-face/engines")
            ]
        );
        // A bare file name lives in the current folder.
        assert_eq!(
            candidate_dirs(Path::new("m.onnx"), None, None, None),
            [PathBuf::from(".")]
        );
    }

    #[test]
    fn store_is_atomic_and_falls_back_to_the_next_folder() {
        let dir = scratch("store");
        // A "folder" below a regular file can never be created.
        let blocker = dir.join("file");
        fs::write(&blocker, b"x").unwrap();
        let good = dir.join("engines");
        let path = store(&[blocker.join("sub"), good.clone()], "m.engine", b"engine bytes").unwrap();
        assert_eq!(path, good.join("m.engine"));
        assert_eq!(fs::read(&path).unwrap(), b"engine bytes");
        let leftovers: Vec<_> = fs::read_dir(&good).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(leftovers, ["m.engine"]);

        let err = store(&[blocker.join("sub")], "m.engine", b"x").unwrap_err().to_string();
        assert!(err.contains("could not write engine m.engine"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stale_or_empty_engines_are_not_reused() {
        let dir = scratch("fresh");
        let onnx = dir.join("m.onnx");
        fs::write(&onnx, b"model").unwrap();
        let (a, b) = (dir.join("a"), dir.join("b"));
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        assert_eq!(find_fresh(&[a.clone(), b.clone()], "m.engine", &onnx), None);

        // Older than the model in the first folder: skipped; a fresh one in the second wins.
        let old = a.join("m.engine");
        fs::write(&old, b"old").unwrap();
        let past = SystemTime::now() - Duration::from_secs(3600);
        fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(past)
            .unwrap();
        assert_eq!(find_fresh(&[a.clone(), b.clone()], "m.engine", &onnx), None);
        fs::write(b.join("m.engine"), b"new").unwrap();
        assert_eq!(
            find_fresh(&[a.clone(), b.clone()], "m.engine", &onnx),
            Some(b.join("m.engine"))
        );

        // An empty file (a crashed writer without the atomic rename) is never an engine.
        fs::write(&old, b"").unwrap();
        assert_eq!(find_fresh(std::slice::from_ref(&a), "m.engine", &onnx), None);
        fs::remove_dir_all(&dir).unwrap();
    }
}
