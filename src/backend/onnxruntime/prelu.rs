//! `PRelu(x, slope)` rewritten as `Relu(x) + slope · Min(x, 0)` before ONNX Runtime
//! loads a model. ONNX Runtime's PRelu kernel broadcasts a per-channel slope element by
//! element instead of with its vectorised broadcasting loops, which makes it the
//! slowest part of SFace; the three plain ops compute the same function (for negative
//! slopes too) with kernels that are vectorised. The file on disk is left as it is: tract
//! has its own PRelu (tract/prelu.rs), and the parity fixtures check the file.

use anyhow::{Context, Result};
use prost::Message;
use tract_onnx::pb::{ModelProto, NodeProto, TensorProto};

const ZERO: &str = "gst_face_prelu_zero";
/// ONNX's TensorProto.DataType FLOAT.
const FLOAT: i32 = 1;

/// The model with every PRelu split, or `None` when it has none (load the file itself).
pub(super) fn split(bytes: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut model = ModelProto::decode(bytes).context("not an ONNX model")?;
    let Some(graph) = model.graph.as_mut() else {
        return Ok(None);
    };
    let splittable = |n: &NodeProto| n.op_type == "PRelu" && n.input.len() == 2 && n.output.len() == 1;
    if !graph.node.iter().any(splittable) {
        return Ok(None);
    }
    graph.initializer.push(TensorProto {
        name: ZERO.into(),
        data_type: FLOAT,
        float_data: vec![0.0],
        ..Default::default()
    });
    let op = |op_type: &str, input: [&str; 2], output: String| NodeProto {
        op_type: op_type.into(),
        input: input.iter().filter(|i| !i.is_empty()).map(|i| i.to_string()).collect(),
        output: vec![output.clone()],
        name: output,
        ..Default::default()
    };
    let mut nodes = Vec::with_capacity(graph.node.len() * 2);
    for node in std::mem::take(&mut graph.node) {
        if !splittable(&node) {
            nodes.push(node);
            continue;
        }
        let (x, slope, y) = (&node.input[0], &node.input[1], &node.output[0]);
        let (pos, min, neg) = (
            format!("{y}/gst_face_pos"),
            format!("{y}/gst_face_min"),
            format!("{y}/gst_face_neg"),
        );
        nodes.push(op("Relu", [x, ""], pos.clone()));
        nodes.push(op("Min", [x, ZERO], min.clone()));
        nodes.push(op("Mul", [&min, slope], neg.clone()));
        nodes.push(op("Add", [&pos, &neg], y.clone()));
    }
    graph.node = nodes;
    Ok(Some(model.encode_to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sface_loses_its_prelus_and_a_prelu_free_model_is_left_alone() {
        let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let sface = std::fs::read(models.join("sface.onnx")).unwrap_or_default();
        let split_model = split(&sface).ok().flatten().expect("SFace has PRelu");
        let model = ModelProto::decode(split_model.as_slice()).expect("valid model");
        let ops: Vec<&str> = model
            .graph
            .iter()
            .flat_map(|g| &g.node)
            .map(|n| n.op_type.as_str())
            .collect();
        assert!(!ops.contains(&"PRelu"));
        assert!(ops.iter().filter(|o| **o == "Min").count() > 10);
        let yunet = std::fs::read(models.join("yunet.onnx")).unwrap_or_default();
        assert!(split(&yunet).ok().flatten().is_none(), "YuNet has no PRelu");
    }
}
