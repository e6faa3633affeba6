//! The ids a tab knows above its current token.

use std::collections::BTreeMap;

/// Ids known above the current token, as disjoint runs `first → last` (both included) with at
/// least one unknown id between two runs: a chunk of any size costs one entry, and an id learnt
/// twice is held once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct KnownRuns {
    runs: BTreeMap<i64, i64>,
}

impl KnownRuns {
    /// Adds the ids `first..=last`, merged with every run they overlap or touch. An empty range
    /// (`first > last`) adds nothing.
    pub(super) fn insert(&mut self, first: i64, last: i64) {
        if first > last {
            return;
        }
        let (first, mut last) = self.merge_before(first, last);
        // `first <= last` here, so the range below is well formed.
        while let Some((&next_first, &next_last)) =
            self.runs.range(first..=last.saturating_add(1)).next()
        {
            self.runs.remove(&next_first);
            last = last.max(next_last);
        }
        self.runs.insert(first, last);
    }

    /// Takes out the run that starts before `first` when it reaches `first - 1` or beyond, and
    /// returns the bounds widened to cover it.
    fn merge_before(&mut self, first: i64, last: i64) -> (i64, i64) {
        match self.runs.range(..first).next_back() {
            Some((&run_first, &run_last)) if run_last.saturating_add(1) >= first => {
                self.runs.remove(&run_first);
                (run_first, last.max(run_last))
            }
            _ => (first, last),
        }
    }

    /// Moves a token at `current` over every run it reaches (one starting at or below
    /// `current + 1`), dropping them, and returns where it ends: afterwards every run held starts
    /// above the returned token plus one.
    pub(super) fn extend(&mut self, current: i64) -> i64 {
        let mut current = current;
        while let Some((&first, &last)) = self.runs.first_key_value() {
            if first > current.saturating_add(1) {
                break;
            }
            self.runs.pop_first();
            current = current.max(last);
        }
        current
    }

    /// The lowest id known above the token, if any.
    pub(super) fn first(&self) -> Option<i64> {
        self.runs.keys().next().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::KnownRuns;

    /// The runs held, in order.
    fn runs(known: &KnownRuns) -> Vec<(i64, i64)> {
        known.runs.iter().map(|(&first, &last)| (first, last)).collect()
    }

    /// Chunks that touch or overlap become one run, whatever their order; ids apart stay apart.
    #[test]
    fn touching_chunks_are_one_run() {
        let mut known = KnownRuns::default();
        known.insert(10, 12);
        known.insert(5, 6);
        known.insert(13, 13);
        known.insert(8, 9);
        assert_eq!(runs(&known), [(5, 6), (8, 13)]);
        known.insert(7, 7);
        known.insert(6, 11);
        assert_eq!(runs(&known), [(5, 13)]);
        known.insert(i64::MAX, i64::MAX);
        known.insert(14, i64::MAX - 1);
        assert_eq!(runs(&known), [(5, i64::MAX)]);
    }

    #[test]
    fn extend_stops_at_the_first_hole() {
        let mut known = KnownRuns::default();
        known.insert(3, 4);
        known.insert(7, 9);
        assert_eq!(known.extend(1), 1);
        assert_eq!(known.extend(2), 4);
        assert_eq!((known.first(), runs(&known)), (Some(7), vec![(7, 9)]));
        assert_eq!(known.extend(8), 9);
        assert_eq!(known.first(), None);
    }
}
