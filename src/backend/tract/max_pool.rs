//! A 2×2, stride-2 max pool for tract.
//!
//! tract runs every max pool through its general patch walker, which on YuNet took a
//! large share of the detector's time (face-bench, with tract's own pool in place) for
//! what is a max over four neighbours. YuNet and the emotion net pool only 2×2 with
//! stride 2 and no padding, so that one case gets a direct loop; every other max pool
//! goes to tract's own parser unchanged.

use std::sync::OnceLock;
use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::cnn::{HirMaxPool, PaddingSpec, PoolSpec};
use tract_onnx::tract_hir::ops::nn::DataFormat;

type Parser = fn(&ParsingContext<'_>, &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)>;

/// tract's own `MaxPool` parser, for the pools this module does not take.
static TRACT_PARSER: OnceLock<Parser> = OnceLock::new();

/// Puts [`parse`] in place of tract's `MaxPool` parser, keeping that one for the rest.
pub fn register(onnx: &mut tract_onnx::Onnx) {
    if let Some(original) = onnx.op_register.0.get("MaxPool").copied() {
        let _ = TRACT_PARSER.set(original);
        onnx.op_register.insert("MaxPool", parse);
    }
}

fn parse(ctx: &ParsingContext<'_>, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    if is_plain_2x2(node)? {
        let spec = PoolSpec::new(
            DataFormat::NCHW,
            tvec![2, 2],
            PaddingSpec::Valid,
            None,
            Some(tvec![2, 2]),
            0,
            0,
        );
        return Ok((
            expand(Pool2x2Expansion {
                general: HirMaxPool::new(spec, None),
            }),
            vec![],
        ));
    }
    let original = TRACT_PARSER.get().context("tract's MaxPool parser was not kept")?;
    original(ctx, node)
}

/// 2×2 kernel, stride 2, no padding, no dilation, floor rounding, no indices output.
fn is_plain_2x2(node: &NodeProto) -> TractResult<bool> {
    let ints = |name: &str| node.get_attr_opt_vec::<i64>(name);
    Ok(node.output.len() == 1
        && ints("kernel_shape")?.as_deref() == Some(&[2, 2])
        && ints("strides")?.as_deref() == Some(&[2, 2])
        && ints("pads")?.is_none_or(|p| p.iter().all(|&v| v == 0))
        && ints("dilations")?.is_none_or(|d| d.iter().all(|&v| v == 1))
        && node.get_attr_opt::<i64>("ceil_mode")?.unwrap_or(0) == 0
        && node
            .get_attr_opt::<&str>("auto_pad")?
            .is_none_or(|p| p == "NOTSET" || p == "VALID"))
}

/// Shape rules from tract's pool (the output shape is the same); the typed graph gets
/// [`MaxPool2x2`] where the input is f32 NCHW of known size, tract's pool elsewhere.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct Pool2x2Expansion {
    general: HirMaxPool,
}

impl Expansion for Pool2x2Expansion {
    fn name(&self) -> StaticName {
        "MaxPool".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        self.general.rules(s, inputs, outputs)
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let fact = model.outlet_fact(inputs[0])?;
        let known = fact.rank() == 4 && fact.shape.iter().all(|d| d.to_usize().is_ok());
        if known && fact.datum_type == f32::datum_type() {
            model.wire_node(name, MaxPool2x2, inputs)
        } else {
            self.general.wire(name, model, inputs)
        }
    }
}

/// Max of each 2×2 block of an f32 NCHW tensor; odd last rows and columns are dropped.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct MaxPool2x2;

impl Op for MaxPool2x2 {
    fn name(&self) -> StaticName {
        "MaxPool2x2".into()
    }

    op_as_typed_op!();
}

impl EvalOp for MaxPool2x2 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let plain = x.try_as_plain_ram()?;
        let view = plain.to_array_view::<f32>()?;
        ensure!(view.ndim() == 4, "MaxPool2x2 takes NCHW, got {:?}", view.shape());
        let (n, c, h, w) = (view.shape()[0], view.shape()[1], view.shape()[2], view.shape()[3]);
        let (oh, ow) = (h / 2, w / 2);
        let contiguous;
        let data = match view.as_slice() {
            Some(s) => s,
            None => {
                contiguous = view.iter().copied().collect::<Vec<f32>>();
                &contiguous
            }
        };
        let mut out = Vec::with_capacity(n * c * oh * ow);
        for plane in data.chunks_exact(h * w).take(n * c) {
            for oy in 0..oh {
                let top = &plane[2 * oy * w..][..2 * ow];
                let bottom = &plane[(2 * oy + 1) * w..][..2 * ow];
                out.extend(
                    top.chunks_exact(2)
                        .zip(bottom.chunks_exact(2))
                        .map(|(t, b)| t[0].max(t[1]).max(b[0].max(b[1]))),
                );
            }
        }
        let out = tract_ndarray::Array4::from_shape_vec((n, c, oh, ow), out)?;
        Ok(tvec!(out.into_tensor().into_tvalue()))
    }
}

impl TypedOp for MaxPool2x2 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = &inputs[0].shape;
        ensure!(shape.rank() == 4, "MaxPool2x2 takes NCHW, got {shape:?}");
        let half = |d: &TDim| -> TractResult<TDim> { Ok((d.to_usize()? / 2).into()) };
        let out = [shape[0].clone(), shape[1].clone(), half(&shape[2])?, half(&shape[3])?];
        Ok(tvec!(f32::fact(out)))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_max_of_each_block_and_drops_an_odd_edge() {
        // One image, two channels of 3×5: the last row and column have no full block.
        let x: Vec<f32> = (0..30).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
        let input = Tensor::from_shape(&[1, 2, 3, 5], &x).unwrap();
        let out = MaxPool2x2
            .eval(&EvalContext::out_of_plan(), tvec![input.into_tvalue()])
            .unwrap();
        let got = out[0].try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec();
        let mut want = Vec::new();
        for ch in 0..2 {
            for ox in 0..2 {
                let at = |y: usize, x_: usize| x[ch * 15 + y * 5 + x_];
                want.push(
                    at(0, 2 * ox)
                        .max(at(0, 2 * ox + 1))
                        .max(at(1, 2 * ox))
                        .max(at(1, 2 * ox + 1)),
                );
            }
        }
        assert_eq!(out[0].shape(), &[1, 2, 1, 2]);
        assert_eq!(got, want);
    }
}
