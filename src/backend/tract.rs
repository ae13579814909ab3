//! The tract backend: pure Rust, no system library, always built.
//!
//! tract optimises a graph for concrete input shapes, so we parse the ONNX once and
//! keep one optimised plan per distinct set of input shapes (working sizes and batch
//! sizes repeat from frame to frame, so the cache stays small).

use super::Backend;
use crate::tensor::Tensor as EngineTensor;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tract_onnx::prelude::*;

mod max_pool;
mod prelu;

type Plan = Arc<TypedRunnableModel>;

/// Plans beyond this many are dropped oldest-first; each costs a copy of the weights.
const MAX_PLANS: usize = 24;

pub struct TractModel {
    model: InferenceModel,
    inputs: Vec<String>,
    outputs: Vec<String>,
    plans: Mutex<Vec<(Vec<Vec<usize>>, Plan)>>,
}

impl TractModel {
    pub fn load(path: &Path) -> Result<Self> {
        let mut onnx = tract_onnx::onnx();
        prelu::register(&mut onnx);
        max_pool::register(&mut onnx);
        let mut proto = onnx
            .proto_model_for_path(path)
            .map_err(|e| anyhow::anyhow!("{e:?}"))
            .context("tract could not read the ONNX file")?;
        widen_f16_weights(&mut proto);
        let model = onnx
            .model_for_proto_model(&proto)
            .map_err(|e| anyhow::anyhow!("{e:?}"))
            .context("tract could not parse the ONNX file")?;
        let label = |o: &OutletId| -> String {
            model
                .outlet_label(*o)
                .map(String::from)
                .unwrap_or_else(|| model.node(o.node).name.clone())
        };
        let inputs = model
            .input_outlets()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
            .iter()
            .map(label)
            .collect();
        let outputs = model
            .output_outlets()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
            .iter()
            .map(label)
            .collect();
        Ok(Self {
            model,
            inputs,
            outputs,
            plans: Mutex::new(Vec::new()),
        })
    }

    fn plan(&self, shapes: Vec<Vec<usize>>) -> Result<Plan> {
        {
            let plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, p)) = plans.iter().find(|(s, _)| *s == shapes) {
                return Ok(p.clone());
            }
        }
        // Compile outside the lock: it can take a while and other shapes may be running.
        let mut model = self.model.clone();
        for (i, shape) in shapes.iter().enumerate() {
            model = model
                .with_input_fact(i, f32::fact(shape).into())
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
        let plan: Plan = model
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(|e| anyhow::anyhow!("{}", e.chain().map(|c| c.to_string()).collect::<Vec<_>>().join(": ")))
            .with_context(|| format!("tract could not build a plan for input shapes {shapes:?}"))?;
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        if plans.len() >= MAX_PLANS {
            plans.remove(0);
        }
        plans.push((shapes, plan.clone()));
        Ok(plan)
    }
}

/// Turns `Cast(to=float)` of an fp16 initializer into a plain fp32 initializer.
///
/// The bundled SFace stores its weights as fp16 to halve the file; tract would
/// otherwise cast them on every run, which makes every face markedly slower.
fn widen_f16_weights(proto: &mut tract_onnx::pb::ModelProto) {
    const FLOAT: i32 = 1;
    const FLOAT16: i32 = 10;
    let Some(graph) = proto.graph.as_mut() else { return };
    let mut widened = Vec::new();
    graph.node.retain(|n| {
        if n.op_type != "Cast" || n.input.len() != 1 || n.output.len() != 1 {
            return true;
        }
        let to_float = n.attribute.iter().any(|a| a.name == "to" && a.i == FLOAT as i64);
        let Some(init) = graph
            .initializer
            .iter()
            .find(|t| t.name == n.input[0] && t.data_type == FLOAT16)
        else {
            return true;
        };
        if !to_float {
            return true;
        }
        let halves: Vec<u16> = if !init.raw_data.is_empty() {
            init.raw_data
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
                .collect()
        } else {
            // Without raw_data ONNX keeps fp16 bit patterns in int32_data.
            init.int32_data.iter().map(|&v| v as u16).collect()
        };
        let mut t = tract_onnx::pb::TensorProto {
            name: n.output[0].clone(),
            dims: init.dims.clone(),
            data_type: FLOAT,
            ..Default::default()
        };
        t.raw_data = halves
            .iter()
            .flat_map(|&h| f16::from_bits(h).to_f32().to_le_bytes())
            .collect();
        widened.push((n.input[0].clone(), t));
        false
    });
    // The fp16 originals are dead now unless something else reads them; left in, tract
    // would keep a second copy of the weights in memory.
    let still_used: std::collections::HashSet<&str> = graph
        .node
        .iter()
        .flat_map(|n| n.input.iter().map(String::as_str))
        .collect();
    let dead: std::collections::HashSet<String> = widened
        .iter()
        .map(|(src, _)| src.clone())
        .filter(|src| !still_used.contains(src.as_str()))
        .collect();
    graph.initializer.retain(|t| !dead.contains(&t.name));
    graph.initializer.extend(widened.into_iter().map(|(_, t)| t));
}

impl Backend for TractModel {
    fn name(&self) -> &'static str {
        "tract"
    }

    fn input_names(&self) -> &[String] {
        &self.inputs
    }

    fn output_names(&self) -> &[String] {
        &self.outputs
    }

    fn run(&self, inputs: &[EngineTensor]) -> Result<Vec<EngineTensor>> {
        if inputs.len() != self.inputs.len() {
            bail!("model takes {} inputs, got {}", self.inputs.len(), inputs.len());
        }
        let plan = self.plan(inputs.iter().map(|t| t.shape.clone()).collect())?;
        let values: TVec<TValue> = inputs
            .iter()
            .map(|t| {
                tract_ndarray::ArrayD::from_shape_vec(t.shape.clone(), t.data.clone())
                    .map(|a| Tensor::from(a).into_tvalue())
            })
            .collect::<Result<_, _>>()?;
        let outputs = plan.run(values).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        outputs
            .iter()
            .map(|v| {
                let view = v.to_plain_array_view::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
                EngineTensor::new(view.shape().to_vec(), view.iter().copied().collect())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The op names in the plan tract builds for `model` with one input of `shape`.
    fn plan_ops(model: &str, shape: &[usize]) -> Vec<String> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models").join(model);
        let model = TractModel::load(&path).expect("bundled model loads");
        let plan = model.plan(vec![shape.to_vec()]).expect("plan builds");
        plan.model().nodes.iter().map(|n| n.op().name().to_string()).collect()
    }

    #[test]
    fn bundled_models_run_on_the_fast_prelu_and_pool() {
        let sface = plan_ops("sface.onnx", &[1, 3, 112, 112]);
        assert_eq!(sface.iter().filter(|op| *op == "PRelu").count(), 27, "{sface:?}");
        assert!(
            !sface.iter().any(|op| op == "Iff"),
            "tract's three-op PReLU is back: {sface:?}"
        );

        let yunet = plan_ops("yunet.onnx", &[1, 3, 384, 640]);
        assert_eq!(yunet.iter().filter(|op| *op == "MaxPool2x2").count(), 4, "{yunet:?}");
        assert!(!yunet.iter().any(|op| op.contains("MaxPool") && op != "MaxPool2x2"));
    }
}
