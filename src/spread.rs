//! A frame's faces as one model call each, spread over threads: how tract runs the face
//! models fastest. Its convolutions run SFace and the emotion net faster per face at
//! batch 1 than batched (on one core; BENCHMARKS.md, "Batching"), a batch-1 plan is
//! compiled once instead of once per face count, and one plan serves every thread (each
//! run has its own state).

use crate::backend::Backend;
use crate::tensor::Tensor;
use anyhow::Result;

/// A frame's faces through `model`: one batch where the runtime prefers batches (ONNX
/// Runtime, TensorRT), else one call per face on up to `threads` threads (tract; 0 = one
/// per CPU). `input` gives one face's data, of shape `face_shape` (the batch axis left
/// out); `run` turns a batch into one result per face, in order.
pub fn faces_through<T, R>(
    model: &dyn Backend,
    items: &[T],
    threads: usize,
    face_shape: [usize; 3],
    input: impl Fn(&T) -> Vec<f32> + Sync,
    run: impl Fn(Tensor) -> Result<Vec<R>> + Sync,
) -> Result<Vec<R>>
where
    T: Sync,
    R: Send,
{
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let shape = |n: usize| [&[n][..], &face_shape[..]].concat();
    if model.prefers_batches() {
        let mut data = Vec::with_capacity(items.len() * face_shape.iter().product::<usize>());
        for item in items {
            data.extend(input(item));
        }
        return run(Tensor::new(shape(items.len()), data)?);
    }
    map_on_threads(items, threads, |item| {
        run(Tensor::new(shape(1), input(item))?)?
            .pop()
            .ok_or_else(|| anyhow::anyhow!("{} returned no result for a face", model.name()))
    })
}

/// Threads for `items` faces when `wanted` were asked for (0 = one per CPU): never
/// more threads than faces, never fewer than one.
fn thread_count(wanted: usize, items: usize) -> usize {
    let wanted = if wanted == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        wanted
    };
    wanted.clamp(1, items.max(1))
}

/// `one` applied to every item, results in the items' order, on up to `threads` scoped
/// threads (0 = one per CPU; contiguous chunks, so each thread keeps its faces' order).
/// The first error is returned; a panicking thread is an error, not a panic of the caller.
fn map_on_threads<T, R, F>(items: &[T], threads: usize, one: F) -> Result<Vec<R>>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> Result<R> + Sync,
{
    let threads = thread_count(threads, items.len());
    if threads == 1 {
        return items.iter().map(&one).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let one = &one;
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(one).collect::<Result<Vec<_>>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for w in workers {
            out.extend(w.join().map_err(|_| anyhow::anyhow!("a worker thread panicked"))??);
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order_on_any_thread_count() {
        let items: Vec<u32> = (0..11).collect();
        for threads in [0, 1, 2, 3, 4, 16] {
            let got = map_on_threads(&items, threads, |&x| Ok(x * 10)).unwrap();
            assert_eq!(
                got,
                items.iter().map(|x| x * 10).collect::<Vec<_>>(),
                "{threads} threads"
            );
        }
        assert!(map_on_threads(&[] as &[u32], 4, |&x| Ok(x)).unwrap().is_empty());
    }

    #[test]
    fn an_error_on_any_thread_is_returned() {
        let items: Vec<u32> = (0..8).collect();
        let err = map_on_threads(&items, 2, |&x| {
            if x == 6 {
                anyhow::bail!("face {x} failed")
            } else {
                Ok(x)
            }
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "face 6 failed");
    }

    #[test]
    fn thread_count_is_between_one_and_the_faces() {
        assert_eq!(thread_count(4, 2), 2);
        assert_eq!(thread_count(1, 9), 1);
        assert_eq!(thread_count(3, 0), 1);
        assert!(thread_count(0, 64) >= 1);
    }
}
