//! A minimal dense f32 tensor, the currency between the engine and every backend.

use anyhow::{Result, bail};

/// The index and value of the largest of `values` (the last of equal ones), `None` when
/// empty: the best class, the best-matching person.
pub fn argmax(values: &[f32]) -> Option<(usize, f32)> {
    values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, v)| (i, *v))
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        let n: usize = shape.iter().product();
        if n != data.len() {
            bail!("tensor shape {shape:?} needs {n} values, got {}", data.len());
        }
        Ok(Self { shape, data })
    }

    pub fn zeros(shape: Vec<usize>) -> Self {
        let n = shape.iter().product();
        Self {
            shape,
            data: vec![0.0; n],
        }
    }

    /// Number of rows along the first (batch) axis.
    pub fn batch(&self) -> usize {
        self.shape.first().copied().unwrap_or(0)
    }

    /// The values of one row of the batch.
    pub fn row(&self, i: usize) -> &[f32] {
        let per = self.shape.iter().skip(1).product::<usize>();
        &self.data[i * per..(i + 1) * per]
    }

    /// Stacks equally shaped single items (`[1, ...]` or `[...]`) along a new batch axis.
    pub fn stack(items: &[Tensor]) -> Result<Self> {
        let Some(first) = items.first() else {
            bail!("cannot stack an empty batch");
        };
        let item_shape: Vec<usize> = if first.shape.first() == Some(&1) {
            first.shape[1..].to_vec()
        } else {
            first.shape.clone()
        };
        let per: usize = item_shape.iter().product();
        let mut data = Vec::with_capacity(per * items.len());
        for t in items {
            if t.data.len() != per {
                bail!("cannot stack tensors of shapes {:?} and {:?}", first.shape, t.shape);
            }
            data.extend_from_slice(&t.data);
        }
        let mut shape = vec![items.len()];
        shape.extend(item_shape);
        Ok(Self { shape, data })
    }
}
