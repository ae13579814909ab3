//! Finding libnvinfer (and libnvonnxparser) at run time.
//!
//! The libraries are opened once and kept for the life of the process: TensorRT objects
//! and the function pointers the shim calls point into them.

use super::ffi::{self, CreateFn, CreateParserFn};
use anyhow::{Result, anyhow, bail};
use libloading::Library;
use std::sync::OnceLock;

/// libnvinfer, loaded, with the factories the shim needs.
pub(crate) struct TensorRt {
    /// Of the loaded library.
    pub version: (u32, u32, u32),
    pub create_runtime: CreateFn,
    pub create_builder: CreateFn,
    parser: OnceLock<std::result::Result<CreateParserFn, String>>,
    // Never dropped (lives in a static): unloading would invalidate the pointers above.
    _library: Library,
}

static TENSORRT: OnceLock<std::result::Result<TensorRt, String>> = OnceLock::new();

/// libnvinfer for this process, loaded on first use.
pub(crate) fn tensorrt() -> Result<&'static TensorRt> {
    TENSORRT
        .get_or_init(|| load_nvinfer().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("{e}"))
}

/// TensorRT's version number from `getInferLibVersion()`: major*1000 + minor*100 +
/// patch before TensorRT 10, major*10000 + minor*100 + patch since.
pub(crate) fn decode_version(v: i32) -> (u32, u32, u32) {
    let v = v.max(0) as u32;
    if v >= 10_000 {
        (v / 10_000, v / 100 % 100, v % 100)
    } else {
        (v / 1000, v / 100 % 10, v % 100)
    }
}

/// Whether a library of version `lib` can be driven by a shim compiled against headers of
/// version `header`: TensorRT's classes change layout between major versions.
pub(crate) fn check_version(lib: (u32, u32, u32), header: (u32, u32, u32), file: &str) -> Result<()> {
    if lib.0 != header.0 {
        bail!(
            "{file} is TensorRT {}.{}.{}, but this plugin's TensorRT shim was compiled against TensorRT {}.{}.{} \
             headers; the major versions must match. Rebuild the plugin on this machine (cargo build --features \
             tensorrt, with TENSORRT_INCLUDE_DIR pointing at the installed TensorRT's headers, \
             /usr/include/aarch64-linux-gnu on a Jetson)",
            lib.0,
            lib.1,
            lib.2,
            header.0,
            header.1,
            header.2
        );
    }
    Ok(())
}

/// File names to try for a library with this major version: the versioned name the
/// runtime package installs first, then the unversioned one the -dev package adds.
pub(crate) fn candidates(stem: &str, major: u32) -> [String; 2] {
    [format!("{stem}.so.{major}"), format!("{stem}.so")]
}

/// Opens the first of `names` that loads; the error names the first (the one a user
/// should install) and what the dynamic loader said about it.
pub(crate) fn open_first(names: &[String]) -> Result<(Library, String)> {
    let mut first_error = None;
    for name in names {
        // SAFETY: loading a TensorRT/CUDA library runs its initialisers, which only set
        // up the library itself.
        match unsafe { Library::new(name.as_str()) } {
            Ok(lib) => return Ok((lib, name.clone())),
            Err(e) => {
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    let first = names.first().map(String::as_str).unwrap_or("library");
    bail!(
        "{first} not found (dlopen: {}); install TensorRT (on a Jetson: JetPack's nvidia-tensorrt) or add its \
         folder to LD_LIBRARY_PATH",
        first_error.unwrap_or_else(|| "nothing to try".into())
    )
}

fn load_nvinfer() -> Result<TensorRt> {
    let header = ffi::header_version();
    let (library, file) = open_first(&candidates("libnvinfer", header.0))?;
    // SAFETY: these symbols are TensorRT's documented C entry points, with these
    // signatures in every version since 8.0.
    let (version, create_runtime, create_builder) = unsafe {
        let version = library
            .get::<unsafe extern "C" fn() -> i32>("getInferLibVersion")
            .map_err(|e| anyhow!("{file} has no getInferLibVersion: {e}"))?;
        let runtime = library
            .get::<CreateFn>("createInferRuntime_INTERNAL")
            .map_err(|e| anyhow!("{file} has no createInferRuntime_INTERNAL: {e}"))?;
        let builder = library
            .get::<CreateFn>("createInferBuilder_INTERNAL")
            .map_err(|e| anyhow!("{file} has no createInferBuilder_INTERNAL: {e}"))?;
        (decode_version(version()), *runtime, *builder)
    };
    check_version(version, header, &file)?;
    Ok(TensorRt {
        version,
        create_runtime,
        create_builder,
        parser: OnceLock::new(),
        _library: library,
    })
}

impl TensorRt {
    /// createNvOnnxParser from libnvonnxparser, needed only to build engines.
    pub fn parser(&self) -> Result<CreateParserFn> {
        let major = self.version.0;
        self.parser
            .get_or_init(|| {
                let (library, file) = open_first(&candidates("libnvonnxparser", major)).map_err(|e| {
                    format!("{e:#} (it is needed to build engines from ONNX; or pass a prebuilt engine)")
                })?;
                // SAFETY: TensorRT's ONNX parser's C entry point, same signature since 8.0.
                let create = unsafe { library.get::<CreateParserFn>("createNvOnnxParser_INTERNAL") }
                    .map(|f| *f)
                    .map_err(|e| format!("{file} has no createNvOnnxParser_INTERNAL: {e}"))?;
                // Kept for the process: the parser's code must stay mapped.
                std::mem::forget(library);
                Ok(create)
            })
            .clone()
            .map_err(|e| anyhow!("{e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_decode_in_both_numbering_schemes() {
        assert_eq!(decode_version(8502), (8, 5, 2));
        assert_eq!(decode_version(8201), (8, 2, 1));
        assert_eq!(decode_version(100_300), (10, 3, 0));
        assert_eq!(decode_version(110_400), (11, 4, 0));
        assert_eq!(decode_version(-1), (0, 0, 0));
    }

    #[test]
    fn major_version_mismatch_is_explained() {
        assert!(check_version((8, 5, 2), (8, 5, 2), "libnvinfer.so.8").is_ok());
        // A newer minor of the same major keeps the ABI.
        assert!(check_version((8, 6, 1), (8, 5, 2), "libnvinfer.so.8").is_ok());
        let err = check_version((8, 5, 2), (11, 4, 0), "libnvinfer.so")
            .unwrap_err()
            .to_string();
        assert!(err.contains("libnvinfer.so is TensorRT 8.5.2"), "{err}");
        assert!(err.contains("compiled against TensorRT 11.4.0"), "{err}");
        assert!(err.contains("TENSORRT_INCLUDE_DIR"), "{err}");
    }

    #[test]
    fn versioned_library_name_comes_first() {
        assert_eq!(candidates("libnvinfer", 8), ["libnvinfer.so.8", "libnvinfer.so"]);
    }

    #[test]
    fn missing_library_names_itself_and_the_loader_error() {
        let names = [
            "libgstface-no-such-library.so.8".to_string(),
            "libgstface-no-such-library.so".into(),
        ];
        let err = open_first(&names).err().unwrap().to_string();
        assert!(
            err.starts_with("libgstface-no-such-library.so.8 not found (dlopen: "),
            "{err}"
        );
        assert!(err.contains("LD_LIBRARY_PATH"), "{err}");
    }

    #[test]
    fn present_library_loads() {
        // libc is on every Linux machine: proves the search does load what exists.
        let (_lib, name) = open_first(&["libgstface-no-such-library.so".into(), "libc.so.6".into()]).unwrap();
        assert_eq!(name, "libc.so.6");
    }
}
