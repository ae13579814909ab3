//! Open-set identification, scored the way `faceid` is used: some people are enrolled,
//! everyone else is a stranger who must come out unknown.
//!
//! From a folder of identities (`<Person>/*.jpg`): a person with more than `enrol`
//! images has the first `enrol` enrolled and the rest used as probes; a person with a
//! single image is a stranger whose image is a probe; anyone in between is left out
//! (too few images to both enrol and probe, too many to be a one-off stranger).

use crate::gallery::MatchThreshold;

/// Who is who in the evaluation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Split {
    /// (person index, indices of the images enrolled).
    pub enrolled: Vec<(usize, Vec<usize>)>,
    /// (person index, image index, enrolled?) for every probe.
    pub probes: Vec<(usize, usize, bool)>,
    /// People with 2..=enrol images: neither enrolled nor strangers.
    pub unused: usize,
}

/// Splits people (given as their image counts, images in a fixed order) into the
/// enrolled, their probes and the strangers.
pub fn split(images_per_person: &[usize], enrol: usize) -> Split {
    let mut s = Split::default();
    for (person, &n) in images_per_person.iter().enumerate() {
        if n > enrol && enrol > 0 {
            s.enrolled.push((person, (0..enrol).collect()));
            s.probes.extend((enrol..n).map(|i| (person, i, true)));
        } else if n == 1 {
            s.probes.push((person, 0, false));
        } else if n > 0 {
            s.unused += 1;
        }
    }
    s
}

/// What the recogniser said about one probe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeResult {
    /// The probe's true person if enrolled, `None` for a stranger.
    pub truth: Option<usize>,
    /// `None` when no face was found in the probe image.
    pub answer: Option<Answer>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Answer {
    /// The closest enrolled person, whatever the similarity.
    pub nearest: usize,
    /// Cosine similarity to that person: the face is named at or above the threshold.
    pub similarity: f32,
    /// The probe embedding's magnitude (face quality), which sets the threshold.
    pub magnitude: f32,
}

impl Answer {
    /// The name given at `threshold` (`None` = unknown).
    pub fn named(&self, threshold: &MatchThreshold) -> Option<usize> {
        (self.similarity >= threshold.at(self.magnitude)).then_some(self.nearest)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    pub known_probes: usize,
    /// Known probes whose closest enrolled person is right (closed-set rank-1).
    pub rank1: f64,
    /// Known probes named correctly at the threshold (detection and identification rate).
    pub identified: f64,
    /// Known probes named as somebody else at the threshold.
    pub misidentified: f64,
    /// Strangers whose face was found (strangers without a face are not counted: they
    /// say nothing about the recogniser).
    pub stranger_probes: usize,
    /// Strangers that came out unknown.
    pub stranger_rejection: f64,
    /// Probe images without a detected face (known ones count as misses above).
    pub no_face: usize,
}

/// The figures at one similarity threshold (by face quality).
pub fn summarise(results: &[ProbeResult], threshold: &MatchThreshold) -> Summary {
    let mut s = Summary::default();
    let (mut rank1, mut identified, mut wrong, mut rejected) = (0usize, 0usize, 0usize, 0usize);
    for r in results {
        if r.answer.is_none() {
            s.no_face += 1;
        }
        match (r.truth, r.answer) {
            (Some(t), a) => {
                s.known_probes += 1;
                if let Some(a) = a {
                    rank1 += usize::from(a.nearest == t);
                    let named = a.named(threshold);
                    identified += usize::from(named == Some(t));
                    wrong += usize::from(named.is_some_and(|n| n != t));
                }
            }
            (None, Some(a)) => {
                s.stranger_probes += 1;
                rejected += usize::from(a.named(threshold).is_none());
            }
            (None, None) => {}
        }
    }
    let frac = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    s.rank1 = frac(rank1, s.known_probes);
    s.identified = frac(identified, s.known_probes);
    s.misidentified = frac(wrong, s.known_probes);
    s.stranger_rejection = frac(rejected, s.stranger_probes);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_are_split_by_how_many_images_they_have() {
        // 0: 4 images -> enrol 2, probe 2; 1: one image -> stranger; 2: two -> unused
        // (enrol 2 leaves nothing to probe); 3: three -> enrol 2, probe 1.
        let s = split(&[4, 1, 2, 3], 2);
        assert_eq!(s.enrolled, vec![(0, vec![0, 1]), (3, vec![0, 1])]);
        assert_eq!(s.probes, vec![(0, 2, true), (0, 3, true), (1, 0, false), (3, 2, true)]);
        assert_eq!(s.unused, 1);
        // Enrolling one image each: the two-image person becomes enrolled too.
        let s = split(&[4, 1, 2, 3], 1);
        assert_eq!(s.enrolled.len(), 3);
        assert_eq!(s.unused, 0);
    }

    #[test]
    fn scores_count_right_wrong_unknown_and_missing_faces() {
        let known = |t, nearest, similarity| ProbeResult {
            truth: Some(t),
            answer: Some(Answer {
                nearest,
                similarity,
                magnitude: 14.0,
            }),
        };
        let stranger = |nearest, similarity| ProbeResult {
            truth: None,
            answer: Some(Answer {
                nearest,
                similarity,
                magnitude: 14.0,
            }),
        };
        let results = [
            known(0, 0, 0.6), // right
            known(0, 0, 0.3), // right nearest, under the threshold
            known(1, 0, 0.5), // wrong name
            ProbeResult {
                truth: Some(1),
                answer: None,
            }, // no face: a miss
            stranger(0, 0.2),
            stranger(1, 0.45),
            ProbeResult {
                truth: None,
                answer: None,
            }, // stranger without a face: not counted
        ];
        let s = summarise(&results, &MatchThreshold::fixed(0.4));
        assert_eq!(s.known_probes, 4);
        assert_eq!(s.rank1, 0.5);
        assert_eq!(s.identified, 0.25);
        assert_eq!(s.misidentified, 0.25);
        assert_eq!(s.stranger_probes, 2);
        assert_eq!(s.stranger_rejection, 0.5);
        assert_eq!(s.no_face, 2);
        // A higher threshold turns the wrong name and the named stranger into unknowns.
        let s = summarise(&results, &MatchThreshold::fixed(0.55));
        assert_eq!((s.identified, s.misidentified, s.stranger_rejection), (0.25, 0.0, 1.0));
    }
}
