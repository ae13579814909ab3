//! Compiles the TensorRT shim (src/backend/tensorrt/shim.cpp) when the `tensorrt` feature
//! is on; without it this does nothing.
//!
//! The shim needs TensorRT's C++ headers but never links libnvinfer (it is loaded at run
//! time), so any TensorRT >= 8.5 headers of the right major version will do. Looked for,
//! in this order:
//!
//! 1. `TENSORRT_INCLUDE_DIR`, when set;
//! 2. the system's include directories (JetPack puts `NvInfer.h` in
//!    `/usr/include/aarch64-linux-gnu`, the NVIDIA apt packages in `/usr/include/<triple>`);
//! 3. the Apache-2.0 TensorRT headers shipped in the `trtx-sys` crate's sources, from the
//!    cargo registry. If no version of that crate has been downloaded yet, `cargo fetch`
//!    downloads it (that crate alone, see [`fetch_trtx_sys`]); `CARGO_NET_OFFLINE=true` or
//!    `GST_FACE_NO_HEADER_FETCH=1` turn this off.
//!
//! Headers from 3 let every machine compile and test the Rust side; an engine only runs
//! where libnvinfer's major version matches the headers', so on a Jetson it is 1 or 2.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "tensorrt")]
    tensorrt::build();
}

#[cfg(feature = "tensorrt")]
mod tensorrt {
    use std::env;
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    const SHIM_DIR: &str = "src/backend/tensorrt";
    /// The trtx-sys release fetched when no other headers are found: its TensorRT 11.4
    /// headers are what CI compiles against. Pinned so the fetch is reproducible.
    const TRTX_SYS_VERSION: &str = "0.9.1";

    pub fn build() {
        for var in ["TENSORRT_INCLUDE_DIR", "CARGO_NET_OFFLINE", "GST_FACE_NO_HEADER_FETCH"] {
            println!("cargo:rerun-if-env-changed={var}");
        }
        for file in ["shim.cpp", "shim.h", "cuda-stub/cuda_runtime_api.h"] {
            println!("cargo:rerun-if-changed={SHIM_DIR}/{file}");
        }
        let include = match find_headers() {
            Ok(dir) => dir,
            Err(why) => panic!("{why}"),
        };
        println!("cargo:rerun-if-changed={}", include.join("NvInferVersion.h").display());
        if include.components().any(|c| c.as_os_str() == "TensorRT-Headers") {
            // Fine for compiling and testing; but libnvinfer must then have the same major
            // version as these headers, which a Jetson's does not.
            println!(
                "cargo:warning=TensorRT shim compiled against the headers in {}; it will only drive a libnvinfer of \
                 that major version (set TENSORRT_INCLUDE_DIR to the installed TensorRT's headers to change that)",
                include.display()
            );
        }

        let mut build = cc::Build::new();
        build
            .cpp(true)
            .std("c++17")
            .file(format!("{SHIM_DIR}/shim.cpp"))
            // Our stand-in cuda_runtime_api.h comes first, so no CUDA toolkit is needed
            // (see the file).
            .include(format!("{SHIM_DIR}/cuda-stub"))
            .warnings(true)
            .extra_warnings(true);
        if system_dirs().iter().take(3).any(|d| *d == include) {
            // A compiler default (JetPack's /usr/include/aarch64-linux-gnu): -I is ignored
            // for those, while -isystem would move it ahead of libstdc++'s own headers and
            // break their #include_next.
            build.include(&include);
        } else {
            // TensorRT's headers are not ours to fix: -isystem keeps their deprecation
            // warnings out of the build log.
            build.flag("-isystem").flag(include.to_string_lossy().as_ref());
        }
        build.compile("gstface_trt_shim");
    }

    fn find_headers() -> Result<PathBuf, String> {
        let mut tried = Vec::new();
        if let Some(dir) = env::var_os("TENSORRT_INCLUDE_DIR") {
            let dir = PathBuf::from(dir);
            if dir.join("NvInfer.h").is_file() {
                return Ok(dir);
            }
            // Asked for explicitly: a wrong path is an error, not something to skip.
            return Err(format!(
                "TENSORRT_INCLUDE_DIR={} has no NvInfer.h (on a Jetson it is /usr/include/aarch64-linux-gnu)",
                dir.display()
            ));
        }
        for dir in system_dirs() {
            if dir.join("NvInfer.h").is_file() {
                return Ok(dir);
            }
            tried.push(dir.display().to_string());
        }
        let registry = registry_src();
        if let Some(dir) = registry.as_deref().and_then(newest_trtx_headers) {
            return Ok(dir);
        }
        if let Some(registry) = &registry {
            tried.push(format!("{}/*/trtx-sys-*/TensorRT-Headers", registry.display()));
            match fetch_trtx_sys() {
                Ok(()) => {
                    if let Some(dir) = newest_trtx_headers(registry) {
                        return Ok(dir);
                    }
                    tried.push(format!(
                        "trtx-sys {TRTX_SYS_VERSION} fetched, but its headers were not found"
                    ));
                }
                Err(e) => tried.push(e),
            }
        }
        Err(format!(
            "the `tensorrt` feature needs TensorRT's headers (NvInfer.h) and found none.\n\
             Looked in: {}.\n\
             Set TENSORRT_INCLUDE_DIR to the folder holding NvInfer.h (JetPack: /usr/include/aarch64-linux-gnu), \
             install TensorRT's dev package, or allow cargo to fetch the trtx-sys crate, whose sources carry \
             TensorRT's Apache-2.0 headers.",
            tried.join("; ")
        ))
    }

    /// Where TensorRT's packages put their headers for the target being built. The first
    /// three are the C++ compiler's own default include directories.
    fn system_dirs() -> Vec<PathBuf> {
        let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
        vec![
            PathBuf::from(format!("/usr/include/{arch}-linux-gnu")),
            PathBuf::from("/usr/include"),
            PathBuf::from("/usr/local/include"),
            PathBuf::from("/usr/local/TensorRT/include"),
            PathBuf::from("/opt/tensorrt/include"),
        ]
    }

    fn registry_src() -> Option<PathBuf> {
        let home = env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
        Some(home.join("registry").join("src"))
    }

    /// The TensorRT (not TensorRT-RTX, a different library) headers of the newest
    /// trtx-sys found under `registry/src/<index>/`.
    fn newest_trtx_headers(registry: &Path) -> Option<PathBuf> {
        let mut found: Vec<(Vec<u32>, PathBuf)> = Vec::new();
        for index in fs::read_dir(registry).ok()?.flatten() {
            let Ok(crates) = fs::read_dir(index.path()) else {
                continue;
            };
            for krate in crates.flatten() {
                if !krate.file_name().to_string_lossy().starts_with("trtx-sys-") {
                    continue;
                }
                let Ok(sets) = fs::read_dir(krate.path().join("TensorRT-Headers")) else {
                    continue;
                };
                for set in sets.flatten() {
                    let name = set.file_name().to_string_lossy().into_owned();
                    let Some(version) = name.strip_prefix("TRT-Enterprise-") else {
                        continue;
                    };
                    if set.path().join("NvInfer.h").is_file() {
                        let key = version.split('.').map(|p| p.parse().unwrap_or(0)).collect();
                        found.push((key, set.path()));
                    }
                }
            }
        }
        found.sort();
        found.pop().map(|(_, dir)| dir)
    }

    /// Downloads (only) the trtx-sys crate's sources into the cargo registry.
    ///
    /// Cargo cannot fetch a crate without resolving its dependencies, and trtx-sys
    /// depends on autocxx, bindgen and more (about 100 crates) that we never build. A
    /// throwaway manifest that patches those with empty local crates makes `cargo fetch`
    /// download the one crate whose headers we read. Nothing from it is compiled.
    fn fetch_trtx_sys() -> Result<(), String> {
        if env::var("CARGO_NET_OFFLINE").is_ok_and(|v| v == "true") || env::var_os("GST_FACE_NO_HEADER_FETCH").is_some()
        {
            return Err("fetching trtx-sys is turned off (offline)".into());
        }
        let out = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR not set")?).join("trtx-sys-fetch");
        let stubs = [
            ("autocxx", "0.30.0"),
            ("autocxx-build", "0.30.0"),
            ("bindgen", "0.72.0"),
            ("bitflags", "2.13.1"),
            ("cc", "1.0.0"),
            ("cxx", "1.0.0"),
            ("regex", "1.0.0"),
        ];
        let write = |path: PathBuf, text: String| -> Result<(), String> {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
        };
        let mut manifest = format!(
            "# Written by faceengine's build.rs to download trtx-sys's sources; never built.\n\
             [package]\nname = \"trtx-sys-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
             # Not part of the faceengine workspace this folder sits in.\n[workspace]\n\n\
             [dependencies]\ntrtx-sys = {{ version = \"={TRTX_SYS_VERSION}\", default-features = false }}\n\n\
             [patch.crates-io]\n"
        );
        write(out.join("src/lib.rs"), String::new())?;
        for (name, version) in stubs {
            write(
                out.join(format!("stubs/{name}/Cargo.toml")),
                format!("[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n"),
            )?;
            write(out.join(format!("stubs/{name}/src/lib.rs")), String::new())?;
            manifest += &format!("{name} = {{ path = \"stubs/{name}\" }}\n");
        }
        write(out.join("Cargo.toml"), manifest)?;

        let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["fetch", "--quiet", "--manifest-path"])
            .arg(out.join("Cargo.toml"))
            .status()
            .map_err(|e| format!("could not run cargo fetch for trtx-sys: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("cargo fetch of trtx-sys {TRTX_SYS_VERSION} failed ({status})"))
        }
    }
}
