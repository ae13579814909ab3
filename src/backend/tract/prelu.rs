//! A PReLU for tract that runs in one pass over the tensor.
//!
//! tract's own ONNX `PRelu` is wired as three ops (`x > 0`, `x * slope`, select), each
//! walking the whole activation and the multiply copying it because `x` is shared.
//! SFace and MTCNN put a PReLU with one slope per channel after almost every conv, so
//! on SFace those three ops took more time than the convolutions themselves (face-bench,
//! with tract's own PReLU in place). This op takes the conv output by value, usually
//! unshared, and rewrites it in place in a loop the compiler vectorises.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

/// Puts [`parse`] in place of tract's `PRelu` parser.
pub fn register(onnx: &mut tract_onnx::Onnx) {
    onnx.op_register.insert("PRelu", parse);
}

/// Parses ONNX `PRelu` into [`PreluExpansion`].
fn parse(_ctx: &ParsingContext, _node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    Ok((expand(PreluExpansion), vec![]))
}

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct PreluExpansion;

impl Expansion for PreluExpansion {
    fn name(&self) -> StaticName {
        "PRelu".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[0].datum_type, &inputs[1].datum_type)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        Ok(())
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        model.wire_node(name, Prelu, inputs)
    }
}

/// `y = x` where `x > 0`, else `slope * x`; `slope` broadcasts to `x` (ONNX rules).
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct Prelu;

impl Op for Prelu {
    fn name(&self) -> StaticName {
        "PRelu".into()
    }

    op_as_typed_op!();
}

impl EvalOp for Prelu {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (x, slope) = args_2!(inputs);
        let slope = slope.cast_to::<f32>()?;
        let slope = slope.try_as_plain_ram()?;
        let slope = slope.to_array_view::<f32>()?;
        let mut y = x.into_tensor();
        ensure!(y.datum_type() == f32::datum_type(), "PRelu is only built for f32");
        let shape = y.shape().to_vec();
        {
            let mut plain = y.try_as_plain_ram_mut()?;
            let mut view = plain.to_array_view_mut::<f32>()?;
            match per_channel_slopes(&shape, slope.shape()) {
                Some(channels) if view.is_standard_layout() => {
                    let data = view.as_slice_mut().context("PRelu input is not contiguous")?;
                    let slopes: Vec<f32> = slope.iter().copied().collect();
                    // Elements of one (batch, channel) plane are contiguous in NCHW order.
                    let plane = shape.iter().skip(2).product::<usize>().max(1);
                    for (i, chunk) in data.chunks_mut(plane).enumerate() {
                        let a = slopes[if channels == 1 { 0 } else { i % channels }];
                        for v in chunk {
                            *v = if *v > 0.0 { *v } else { *v * a };
                        }
                    }
                }
                _ => {
                    let slope = slope
                        .broadcast(view.shape())
                        .with_context(|| format!("PRelu slope {:?} vs {shape:?}", slope.shape()))?;
                    tract_ndarray::Zip::from(&mut view).and(&slope).for_each(|v, &a| {
                        *v = if *v > 0.0 { *v } else { *v * a };
                    });
                }
            }
        }
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for Prelu {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[0].datum_type.fact(inputs[0].shape.clone())))
    }

    as_op!();
}

/// With slopes shaped `slope` against activations shaped `x`, the number of distinct
/// slopes when they vary at most along axis 1 (one per channel, or 1 for a scalar);
/// `None` when they vary along any other axis.
fn per_channel_slopes(x: &[usize], slope: &[usize]) -> Option<usize> {
    if slope.len() > x.len() {
        return None;
    }
    let offset = x.len() - slope.len();
    let mut channels = 1;
    for (i, &d) in slope.iter().enumerate() {
        let axis = offset + i;
        if d == 1 {
            continue;
        }
        if axis != 1 || d != x[axis] {
            return None;
        }
        channels = d;
    }
    Some(channels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slopes_per_channel_or_scalar_take_the_fast_path() {
        assert_eq!(per_channel_slopes(&[1, 32, 56, 56], &[32, 1, 1]), Some(32));
        assert_eq!(per_channel_slopes(&[4, 32, 56, 56], &[1, 32, 1, 1]), Some(32));
        assert_eq!(per_channel_slopes(&[1, 32, 56, 56], &[1]), Some(1));
        assert_eq!(per_channel_slopes(&[1, 32, 56, 56], &[]), Some(1));
        assert_eq!(per_channel_slopes(&[1, 32, 56, 56], &[56]), None);
        assert_eq!(per_channel_slopes(&[2, 32], &[2, 1]), None);
    }

    fn prelu(x: Tensor, slope: Tensor) -> Vec<f32> {
        let out = Prelu
            .eval(&EvalContext::out_of_plan(), tvec![x.into_tvalue(), slope.into_tvalue()])
            .expect("PRelu runs");
        out[0].try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec()
    }

    fn reference(x: &[f32], slope_of: impl Fn(usize) -> f32) -> Vec<f32> {
        x.iter()
            .enumerate()
            .map(|(i, &v)| if v > 0.0 { v } else { v * slope_of(i) })
            .collect()
    }

    #[test]
    fn matches_the_definition_for_every_slope_layout() {
        // Two images, three channels, 2x2 planes; values of both signs and zero.
        let x: Vec<f32> = (0..24).map(|i| (i as f32 - 11.0) * 0.5).collect();
        let input = || Tensor::from_shape(&[2, 3, 2, 2], &x).unwrap();

        let per_channel = Tensor::from_shape(&[3, 1, 1], &[0.1f32, -0.2, 0.3]).unwrap();
        let want = reference(&x, |i| [0.1, -0.2, 0.3][(i / 4) % 3]);
        assert_eq!(prelu(input(), per_channel), want);

        let scalar = Tensor::from_shape(&[1], &[0.25f32]).unwrap();
        assert_eq!(prelu(input(), scalar), reference(&x, |_| 0.25));

        // Slopes along the last axis take the general (broadcast) path.
        let per_column = Tensor::from_shape(&[2], &[0.5f32, -1.0]).unwrap();
        assert_eq!(prelu(input(), per_column), reference(&x, |i| [0.5, -1.0][i % 2]));
    }
}
