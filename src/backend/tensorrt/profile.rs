//! The optimisation profile an engine is built with: which shapes it will accept.
//!
//! TensorRT compiles kernels for a range of shapes given per dynamic dimension. Our models
//! have two kinds: a batch axis first (SFace `[N,3,112,112]`, emotion `[N,1,64,64]`, MTCNN
//! R/O-Net), and the height and width of a detector's image (YuNet and MTCNN P-Net,
//! `[1,3,H,W]`). Anything else dynamic has no sensible default and is refused with a
//! pointer to building the engine by hand.

use anyhow::{Result, bail};

/// Height/width range for image inputs. 32 is YuNet's coarsest stride (its smallest
/// valid input); 1920 covers `working-size=0` on 1080p video; 640 is the elements'
/// default working size.
pub(crate) const SPATIAL_MIN: i64 = 32;
pub(crate) const SPATIAL_OPT: i64 = 640;
pub(crate) const SPATIAL_MAX: i64 = 1920;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProfileEntry {
    pub name: String,
    pub min: Vec<i64>,
    pub opt: Vec<i64>,
    pub max: Vec<i64>,
}

/// Batch sizes an engine accepts: 1..=max_batch, tuned for about half of it (the number
/// of faces in a frame is usually small, but tuning for 1 makes larger batches slow).
pub(crate) fn batch_range(max_batch: usize) -> (i64, i64, i64) {
    let max = i64::try_from(max_batch.max(1)).unwrap_or(i64::MAX);
    (1, (max + 1) / 2, max)
}

/// One entry per network input that has a dynamic dimension.
pub(crate) fn for_inputs(inputs: &[(String, Vec<i64>)], max_batch: usize) -> Result<Vec<ProfileEntry>> {
    let (bmin, bopt, bmax) = batch_range(max_batch);
    let mut entries = Vec::new();
    for (name, dims) in inputs {
        if dims.iter().all(|&d| d >= 0) {
            continue;
        }
        let (mut min, mut opt, mut max) = (dims.clone(), dims.clone(), dims.clone());
        for (axis, &d) in dims.iter().enumerate() {
            if d >= 0 {
                continue;
            }
            let range = match axis {
                0 => (bmin, bopt, bmax),
                2 | 3 if dims.len() == 4 => (SPATIAL_MIN, SPATIAL_OPT, SPATIAL_MAX),
                _ => bail!(
                    "input '{name}' (shape {dims:?}) has a dynamic axis {axis}; an engine can only be built here \
                     when the batch axis or the height/width of an NCHW image are dynamic. Build the engine with \
                     trtexec (--minShapes/--optShapes/--maxShapes) and pass it with the engine property"
                ),
            };
            (min[axis], opt[axis], max[axis]) = range;
        }
        entries.push(ProfileEntry {
            name: name.clone(),
            min,
            opt,
            max,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, dims: &[i64]) -> (String, Vec<i64>) {
        (name.to_string(), dims.to_vec())
    }

    #[test]
    fn batch_axis_gets_one_to_max_batch() {
        let p = for_inputs(&[input("data", &[-1, 3, 112, 112])], 16).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].name, "data");
        assert_eq!(p[0].min, [1, 3, 112, 112]);
        assert_eq!(p[0].opt, [8, 3, 112, 112]);
        assert_eq!(p[0].max, [16, 3, 112, 112]);
    }

    #[test]
    fn image_height_and_width_get_the_spatial_range() {
        // YuNet: fixed batch of 1, dynamic H and W.
        let p = for_inputs(&[input("input", &[1, 3, -1, -1])], 16).unwrap();
        assert_eq!(p[0].min, [1, 3, 32, 32]);
        assert_eq!(p[0].opt, [1, 3, 640, 640]);
        assert_eq!(p[0].max, [1, 3, 1920, 1920]);
    }

    #[test]
    fn fixed_inputs_need_no_profile() {
        assert!(for_inputs(&[input("x", &[1, 3, 224, 224])], 16).unwrap().is_empty());
    }

    #[test]
    fn other_dynamic_axes_are_refused_by_name() {
        let err = for_inputs(&[input("feat", &[1, -1, 64, 64])], 16)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'feat'") && err.contains("axis 1") && err.contains("trtexec"),
            "{err}"
        );
        // H/W only count for 4-D image inputs.
        assert!(for_inputs(&[input("seq", &[-1, -1])], 16).is_err());
    }

    #[test]
    fn max_batch_of_zero_or_one_still_builds() {
        assert_eq!(batch_range(0), (1, 1, 1));
        assert_eq!(batch_range(1), (1, 1, 1));
        assert_eq!(batch_range(5), (1, 3, 5));
    }
}
