//! Delta debugging (Zeller and Hildebrandt's ddmin): the smallest part of a list that still
//! makes a trial fail, where removing any one more item makes it pass (1-minimal).
//!
//! Trials are asked for in batches, so that the caller can run up to `jobs` of them at a
//! time: at each step the candidates (the parts, then their complements) are tried `jobs` at
//! a time in order, and the first batch with a failing candidate decides the step. With
//! `jobs` = 1 that is the classic sequential algorithm.

/// The result, and how many trials it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minimized<T> {
    pub items: Vec<T>,
    pub trials: u32,
}

/// Reduces `items` (a list that fails) to a 1-minimal failing sublist, order kept.
/// `fails` runs a batch of candidate lists and says, for each, whether it failed.
pub fn ddmin<T: Clone>(items: Vec<T>, jobs: usize, mut fails: impl FnMut(&[Vec<T>]) -> Vec<bool>) -> Minimized<T> {
    let jobs = jobs.max(1);
    let mut trials = 0u32;
    let mut current = items;
    let mut parts = 2usize;
    while current.len() >= 2 {
        let chunks = split(&current, parts);
        let mut candidates: Vec<Vec<T>> = chunks.clone();
        // With two parts each complement is the other part: already a candidate.
        if parts > 2 {
            candidates.extend((0..chunks.len()).map(|skip| complement(&chunks, skip)));
        }
        let mut found = None;
        for (start, batch) in candidates.chunks(jobs).enumerate().map(|(i, b)| (i * jobs, b)) {
            let results = fails(batch);
            trials += u32::try_from(batch.len()).unwrap_or(u32::MAX);
            if let Some(hit) = results.iter().position(|&failed| failed) {
                found = Some(start + hit);
                break;
            }
        }
        match found {
            Some(i) if i < chunks.len() => {
                current = chunks[i].clone();
                parts = 2;
            }
            Some(i) => {
                current = candidates[i].clone();
                parts = (parts - 1).max(2);
            }
            None if parts >= current.len() => break,
            None => parts = (parts * 2).min(current.len()),
        }
    }
    Minimized { items: current, trials }
}

/// `items` in `parts` nearly equal runs.
fn split<T: Clone>(items: &[T], parts: usize) -> Vec<Vec<T>> {
    let parts = parts.clamp(1, items.len().max(1));
    let (size, extra) = (items.len() / parts, items.len() % parts);
    let mut out = Vec::with_capacity(parts);
    let mut at = 0;
    for i in 0..parts {
        let len = size + usize::from(i < extra);
        out.push(items[at..at + len].to_vec());
        at += len;
    }
    out
}

fn complement<T: Clone>(chunks: &[Vec<T>], skip: usize) -> Vec<T> {
    chunks.iter().enumerate().filter(|(i, _)| *i != skip).flat_map(|(_, c)| c.iter().cloned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn needs(wanted: &[u32]) -> impl Fn(&[Vec<u32>]) -> Vec<bool> + '_ {
        move |batch| batch.iter().map(|c| wanted.iter().all(|w| c.contains(w))).collect()
    }

    #[test]
    fn finds_the_one_test_that_matters_among_forty() {
        let found = ddmin((0..40).collect(), 1, needs(&[17]));
        assert_eq!(found.items, [17]);
        assert!(found.trials <= 20, "{} trials", found.trials);
    }

    #[test]
    fn finds_two_that_matter_together_in_their_order() {
        for jobs in [1, 2, 4] {
            assert_eq!(ddmin((0..41).collect(), jobs, needs(&[31, 3])).items, [3, 31], "jobs {jobs}");
        }
    }

    #[test]
    fn a_count_that_matters_keeps_that_many() {
        // Fails when at least four of the items are there (a counter that breaks at the 5th call).
        let four = |batch: &[Vec<u32>]| batch.iter().map(|c| c.len() >= 4).collect();
        assert_eq!(ddmin((0..10).collect(), 2, four).items.len(), 4);
    }

    #[test]
    fn a_single_item_is_already_minimal() {
        let found = ddmin(vec![9], 1, needs(&[9]));
        assert_eq!((found.items, found.trials), (vec![9], 0));
    }

    #[test]
    fn split_covers_everything_in_order() {
        assert_eq!(split(&[1, 2, 3, 4, 5], 2), [vec![1, 2, 3], vec![4, 5]]);
        assert_eq!(split(&[1, 2, 3], 3), [vec![1], vec![2], vec![3]]);
    }

    proptest! {
        #[test]
        fn the_result_fails_and_is_one_minimal(wanted in proptest::collection::btree_set(0u32..30, 1..4), jobs in 1usize..4) {
            let wanted: Vec<u32> = wanted.into_iter().collect();
            let found = ddmin((0..30).collect(), jobs, needs(&wanted)).items;
            prop_assert_eq!(found, wanted);
        }
    }
}
