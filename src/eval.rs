//! Accuracy measurement on public benchmarks: the WIDER FACE average precision and
//! LFW-style verification (deterministic pairs, 10-fold accuracy, TAR at a FAR).
//!
//! These are the building blocks of `face-eval` (issue 3); they only do arithmetic on
//! boxes and scores, so they are tested on hand-made cases with known answers.

pub mod pairs;
pub mod wider;
