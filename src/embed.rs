//! SFace identity embeddings of aligned faces.

use crate::align::{ALIGNED_SIZE, aligned_rgb};
use crate::backend::Backend;
use crate::frame::FrameView;
use crate::spread;
use crate::tensor::Tensor;
use anyhow::{Result, bail, ensure};
use std::sync::Arc;

/// One face's identity embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    /// Unit length: what faces are compared by.
    pub vector: Vec<f32>,
    /// The length SFace gave it before normalisation. Networks trained with a
    /// softmax-style loss give clear, frontal faces long embeddings and dim, blurred or
    /// tiny ones short embeddings (the observation behind MagFace), so it serves as a
    /// face quality score: on our classroom videos it keeps clear faces apart from those
    /// in a dim, blurred room (EVALUATION.md, "Face quality").
    pub magnitude: f32,
}

#[derive(Clone)]
pub struct Embedder {
    model: Arc<dyn Backend>,
    threads: usize,
}

impl Embedder {
    /// An embedder using one thread per CPU for frames with several faces.
    pub fn new(model: Arc<dyn Backend>) -> Self {
        Self { model, threads: 0 }
    }

    /// Faces of one frame are embedded on up to `threads` threads (0 = one per CPU).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Unit-length embeddings of the faces with these landmarks.
    pub fn embed(&self, frame: &FrameView, landmarks: &[[[f32; 2]; 5]]) -> Result<Vec<Vec<f32>>> {
        Ok(self
            .embed_with_magnitude(frame, landmarks)?
            .into_iter()
            .map(|e| e.vector)
            .collect())
    }

    /// Embeddings of the faces with these landmarks, with their magnitudes.
    pub fn embed_with_magnitude(&self, frame: &FrameView, landmarks: &[[[f32; 2]; 5]]) -> Result<Vec<Embedding>> {
        spread::faces_through(
            self.model.as_ref(),
            landmarks,
            self.threads,
            [3, ALIGNED_SIZE, ALIGNED_SIZE],
            |lm| aligned_rgb(frame, lm),
            |batch| self.embed_aligned(batch),
        )
    }

    /// One face's embedding taken as the mean of its own and its mirror image's, for
    /// enrolment: a gallery photo shows one side of the face lit and turned one way, the
    /// video may show the other, and the mean template sits between the two. Costs two
    /// SFace runs, which is nothing next to decoding the photo; they go through the model
    /// as a frame's faces do (one batch, or one call each on tract).
    pub fn embed_mirror_averaged(&self, frame: &FrameView, landmarks: &[[f32; 2]; 5]) -> Result<Embedding> {
        let face = aligned_rgb(frame, landmarks);
        let mirrored: Vec<f32> = face
            .chunks_exact(ALIGNED_SIZE)
            .flat_map(|row| row.iter().rev().copied())
            .collect();
        let raw = spread::faces_through(
            self.model.as_ref(),
            &[face, mirrored],
            self.threads,
            [3, ALIGNED_SIZE, ALIGNED_SIZE],
            |view: &Vec<f32>| view.clone(),
            |batch| self.raw_embeddings(batch),
        )?;
        let [face, mirrored] = &raw[..] else {
            bail!(
                "SFace returned {} embeddings for a face and its mirror image",
                raw.len()
            )
        };
        let mean: Vec<f32> = face.iter().zip(mirrored).map(|(a, b)| (a + b) / 2.0).collect();
        Ok(Embedding {
            vector: normalise(&mean),
            magnitude: (magnitude(face) + magnitude(mirrored)) / 2.0,
        })
    }

    /// Embeddings of already aligned faces, `[N, 3, 112, 112]` RGB 0..255.
    pub fn embed_aligned(&self, batch: Tensor) -> Result<Vec<Embedding>> {
        Ok(self
            .raw_embeddings(batch)?
            .iter()
            .map(|raw| Embedding {
                vector: normalise(raw),
                magnitude: magnitude(raw),
            })
            .collect())
    }

    /// SFace's raw (unnormalised) outputs for a batch of aligned faces, one per face.
    fn raw_embeddings(&self, batch: Tensor) -> Result<Vec<Vec<f32>>> {
        let n = batch.batch();
        let out = self.model.run(&[batch])?;
        let emb = out
            .first()
            .ok_or_else(|| anyhow::anyhow!("SFace model returned no output"))?;
        ensure!(
            emb.batch() == n,
            "SFace returned {} embeddings for {n} faces",
            emb.batch()
        );
        Ok((0..n).map(|i| emb.row(i).to_vec()).collect())
    }
}

fn magnitude(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

pub fn normalise(v: &[f32]) -> Vec<f32> {
    let norm = magnitude(v).max(1e-12);
    v.iter().map(|x| x / norm).collect()
}

/// Cosine similarity of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
