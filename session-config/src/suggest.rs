//! "Did you mean": the closest known name by edit distance.

/// Optimal-string-alignment distance between `a` and `b`, compared ASCII-case-insensitively:
/// insertions, deletions, substitutions and swaps of two neighbours each cost 1.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
    let width = b.len() + 1;
    // Three rows of the dynamic-programming table: two back, one back, current.
    let mut prev2 = vec![0usize; width];
    let mut prev: Vec<usize> = (0..width).collect();
    let mut cur = vec![0usize; width];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `word` within `max` edits; the first one on a tie.
pub(crate) fn closest<'a>(
    word: &str, candidates: impl IntoIterator<Item = &'a str>, max: usize,
) -> Option<&'a str> {
    let len = word.chars().count();
    candidates
        .into_iter()
        // Cheap bound first: lengths that differ by more than `max` cannot be close.
        .filter(|c| c.chars().count().abs_diff(len) <= max)
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("type", "tpye"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("TYPE", "type"), 0);
        assert_eq!(edit_distance("ca", "abc"), 3);
    }

    #[test]
    fn closest_picks_the_nearest() {
        let c = ["redis", "mongodb", "memcached"];
        assert_eq!(closest("rediss", c, 2), Some("redis"));
        assert_eq!(closest("memcache", c, 2), Some("memcached"));
        assert_eq!(closest("postgres", c, 2), None);
    }
}
