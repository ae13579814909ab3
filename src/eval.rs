//! Accuracy measurement on public benchmarks: the WIDER FACE average precision and
//! LFW-style verification (deterministic pairs, 10-fold accuracy, TAR at a FAR) and
//! open-set identification against a gallery.
//!
//! These are the building blocks of `face-eval` (issue 3); they only do arithmetic on
//! boxes and scores, so they are tested on hand-made cases with known answers.

pub mod openset;
pub mod pairs;
pub mod wider;
