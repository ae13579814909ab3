//! TensorRT calibration caches: the text file TensorRT's own int8 calibrators write
//! (and trtexec's `--calib` reads), here made by models/convert/quantize.py from the same
//! calibration images as the int8 ONNX models. One header line naming the calibrator,
//! then `tensor name: scale`, the scale a big-endian float32 in hex (largest absolute
//! value / 127). The backend turns it into per-tensor dynamic ranges rather than handing
//! it to a calibrator, so the header's TensorRT version does not have to match.

use anyhow::{Context, Result, bail};
use std::path::Path;

/// Each tensor's largest absolute value, in file order.
pub(crate) fn read(path: &Path) -> Result<Vec<(String, f32)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the int8 calibration cache {}", path.display()))?;
    parse(&text).with_context(|| format!("int8 calibration cache {}", path.display()))
}

pub(crate) fn parse(text: &str) -> Result<Vec<(String, f32)>> {
    let mut lines = text.lines();
    match lines.next() {
        Some(h) if h.starts_with("TRT-") => {}
        _ => bail!("not a TensorRT calibration cache (the first line should start with TRT-)"),
    }
    let mut out = Vec::new();
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        // Tensor names may hold ':' themselves; the scale is after the last one.
        let (name, hex) = line
            .rsplit_once(':')
            .with_context(|| format!("line {}: no 'name: scale'", i + 2))?;
        let bits = u32::from_str_radix(hex.trim(), 16).with_context(|| format!("line {}: bad scale", i + 2))?;
        let scale = f32::from_bits(bits);
        if !scale.is_finite() || scale <= 0.0 {
            bail!("line {}: scale {scale} of '{name}' is not a positive number", i + 2);
        }
        out.push((name.trim().to_string(), scale * 127.0));
    }
    if out.is_empty() {
        bail!("no tensor ranges");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_become_ranges() {
        // 0x3c010204 is 1/127.0 to float32 precision: a range of 1.
        let r = parse("TRT-8502-EntropyCalibration2\ninput: 3c010204\nconv:1_out: 3d010204\n").unwrap_or_default();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].0, "input");
        assert!((r[0].1 - 1.0).abs() < 1e-4, "{}", r[0].1);
        assert_eq!(r[1].0, "conv:1_out");
        assert!((r[1].1 - 4.0).abs() < 1e-3, "{}", r[1].1);
    }

    #[test]
    fn bad_caches_are_refused() {
        assert!(parse("input: 3c010204\n").is_err());
        assert!(parse("TRT-8502-EntropyCalibration2\n").is_err());
        assert!(parse("TRT-8502-EntropyCalibration2\ninput 3c010204\n").is_err());
        assert!(parse("TRT-8502-EntropyCalibration2\ninput: zz\n").is_err());
        assert!(parse("TRT-8502-EntropyCalibration2\ninput: 00000000\n").is_err());
    }

    #[test]
    fn the_bundled_caches_parse() {
        let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        for m in ["yunet.onnx", "sface.onnx", "emotion-fer48.onnx"] {
            let path = models.join(format!("{m}.int8.calib"));
            let ranges = read(&path).unwrap_or_else(|e| panic!("{e:#}"));
            assert!(ranges.len() > 10, "{m}: {} ranges", ranges.len());
        }
    }
}
