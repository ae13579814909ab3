//! LFW-style face verification: deterministic matched and mismatched pairs drawn from
//! identity folders, 10-fold accuracy with the threshold chosen on the other nine
//! folds, and the true-accept rate at a false-accept rate.

/// One image: (person index, image index within that person).
pub type ImageRef = (usize, usize);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pair {
    pub a: ImageRef,
    pub b: ImageRef,
    pub same: bool,
}

/// SplitMix64: small, fast, and the same sequence on every platform for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Up to `n` pairs, half matched (two images of one person) and half mismatched (two
/// people), no pair twice, the same list for the same `images_per_person` and `seed`.
/// Matched and mismatched pairs alternate, so any contiguous tenth is balanced.
pub fn make_pairs(images_per_person: &[usize], n: usize, seed: u64) -> Vec<Pair> {
    let mut rng = Rng(seed);
    let multi: Vec<usize> = (0..images_per_person.len())
        .filter(|&p| images_per_person[p] >= 2)
        .collect();
    let people: Vec<usize> = (0..images_per_person.len())
        .filter(|&p| images_per_person[p] >= 1)
        .collect();
    let possible_same: usize = multi
        .iter()
        .map(|&p| images_per_person[p] * (images_per_person[p] - 1) / 2)
        .sum();
    let want_same = (n / 2).min(possible_same);
    let want_diff = if people.len() >= 2 { n - n / 2 } else { 0 };
    let mut seen = std::collections::HashSet::new();
    let key = |a: ImageRef, b: ImageRef| if a <= b { (a, b) } else { (b, a) };
    let (mut same, mut diff) = (Vec::new(), Vec::new());
    // Bounded attempts: with few possible pairs we stop short rather than loop forever.
    let mut attempts = 0usize;
    while (same.len() < want_same || diff.len() < want_diff) && attempts < 100 * n.max(1) {
        attempts += 1;
        if same.len() < want_same {
            let p = multi[rng.below(multi.len())];
            let i = rng.below(images_per_person[p]);
            let j = rng.below(images_per_person[p]);
            if i != j && seen.insert(key((p, i), (p, j))) {
                same.push(Pair {
                    a: (p, i),
                    b: (p, j),
                    same: true,
                });
            }
        }
        if diff.len() < want_diff {
            let p = people[rng.below(people.len())];
            let q = people[rng.below(people.len())];
            if p != q {
                let a = (p, rng.below(images_per_person[p]));
                let b = (q, rng.below(images_per_person[q]));
                if seen.insert(key(a, b)) {
                    diff.push(Pair { a, b, same: false });
                }
            }
        }
    }
    let mut out = Vec::with_capacity(same.len() + diff.len());
    let (mut s, mut d) = (same.into_iter(), diff.into_iter());
    loop {
        match (s.next(), d.next()) {
            (None, None) => break,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
    out
}

/// Accuracy of `score > threshold` as "same person".
fn accuracy(scores: &[(f64, bool)], threshold: f64) -> f64 {
    let right = scores.iter().filter(|(s, same)| (*s > threshold) == *same).count();
    right as f64 / scores.len().max(1) as f64
}

/// The threshold with the best accuracy on these scores (midpoints between sorted scores).
pub fn best_threshold(scores: &[(f64, bool)]) -> f64 {
    let mut sorted: Vec<f64> = scores.iter().map(|s| s.0).collect();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    let mut candidates = vec![sorted.first().map_or(0.0, |s| s - 1e-6)];
    candidates.extend(sorted.windows(2).map(|w| (w[0] + w[1]) / 2.0));
    candidates
        .into_iter()
        .map(|t| (t, accuracy(scores, t)))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.total_cmp(&a.0)))
        .map_or(0.0, |(t, _)| t)
}

/// Mean accuracy over `folds` folds (pair i in fold i mod folds), each judged with the
/// threshold that is best on the other folds. Returns (mean accuracy, thresholds used).
pub fn kfold_accuracy(scores: &[(f64, bool)], folds: usize) -> (f64, Vec<f64>) {
    let folds = folds.max(2);
    let mut accs = Vec::with_capacity(folds);
    let mut thresholds = Vec::with_capacity(folds);
    for k in 0..folds {
        let train: Vec<_> = scores
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds != k)
            .map(|(_, s)| *s)
            .collect();
        let test: Vec<_> = scores
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds == k)
            .map(|(_, s)| *s)
            .collect();
        let t = best_threshold(&train);
        thresholds.push(t);
        accs.push(accuracy(&test, t));
    }
    (accs.iter().sum::<f64>() / folds as f64, thresholds)
}

/// True-accept rate at the threshold where at most `far` of the mismatched pairs score
/// above it.
pub fn tar_at_far(scores: &[(f64, bool)], far: f64) -> f64 {
    let mut impostors: Vec<f64> = scores.iter().filter(|s| !s.1).map(|s| s.0).collect();
    let genuine: Vec<f64> = scores.iter().filter(|s| s.1).map(|s| s.0).collect();
    if impostors.is_empty() || genuine.is_empty() {
        return 0.0;
    }
    impostors.sort_by(|a, b| b.total_cmp(a));
    let allowed = (far * impostors.len() as f64).floor() as usize;
    // Accept strictly above the (allowed+1)-th highest impostor score.
    let threshold = impostors[allowed.min(impostors.len() - 1)];
    genuine.iter().filter(|&&g| g > threshold).count() as f64 / genuine.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_deterministic_balanced_and_valid() {
        let people = [5, 1, 3, 2, 1, 4, 6, 1];
        let a = make_pairs(&people, 40, 1);
        assert_eq!(a, make_pairs(&people, 40, 1));
        assert_ne!(a, make_pairs(&people, 40, 2));
        assert_eq!(a.len(), 40);
        assert_eq!(a.iter().filter(|p| p.same).count(), 20);
        let mut seen = std::collections::HashSet::new();
        for (i, p) in a.iter().enumerate() {
            assert_eq!(p.same, i % 2 == 0, "matched and mismatched alternate");
            assert_eq!(p.same, p.a.0 == p.b.0);
            assert!(p.a.1 < people[p.a.0] && p.b.1 < people[p.b.0]);
            if p.same {
                assert_ne!(p.a.1, p.b.1);
                assert!(people[p.a.0] >= 2, "a person with one image cannot be matched");
            }
            let k = if p.a <= p.b { (p.a, p.b) } else { (p.b, p.a) };
            assert!(seen.insert(k), "pair {p:?} twice");
        }
    }

    #[test]
    fn pairs_stop_when_there_are_no_more() {
        // One person with two images: exactly one matched pair exists.
        let p = make_pairs(&[2, 1], 10, 7);
        assert_eq!(p.iter().filter(|p| p.same).count(), 1);
        // Mismatched: 2 x 1 image combinations.
        assert_eq!(p.iter().filter(|p| !p.same).count(), 2);
    }

    #[test]
    fn separable_scores_verify_perfectly() {
        let scores: Vec<(f64, bool)> = (0..100)
            .map(|i| {
                if i % 2 == 0 {
                    (0.6 + i as f64 * 1e-3, true)
                } else {
                    (0.1, false)
                }
            })
            .collect();
        let (acc, ts) = kfold_accuracy(&scores, 10);
        assert_eq!(acc, 1.0);
        assert!(ts.iter().all(|t| *t > 0.1 && *t < 0.6));
        assert_eq!(tar_at_far(&scores, 1e-3), 1.0);
    }

    #[test]
    fn known_overlap_gives_known_figures() {
        // 10 genuine at 0.9, one genuine at 0.2; 10 impostors at 0.1, one at 0.5.
        let mut scores = vec![(0.9, true); 10];
        scores.push((0.2, true));
        scores.extend(vec![(0.1, false); 10]);
        scores.push((0.5, false));
        // Best single threshold (0.7) gets 21 of 22 right.
        assert!((accuracy(&scores, best_threshold(&scores)) - 21.0 / 22.0).abs() < 1e-12);
        // FAR 0: accept only above the top impostor (0.5): 10 of 11 genuine.
        assert!((tar_at_far(&scores, 0.0) - 10.0 / 11.0).abs() < 1e-12);
        // FAR 0.1 allows one of 11 impostors: threshold 0.1 accepts all genuine.
        assert!((tar_at_far(&scores, 0.1) - 1.0).abs() < 1e-12);
    }
}
