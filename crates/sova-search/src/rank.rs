//! BM25 over the matched tokens: a rare token weighs more (idf), repeats count with
//! diminishing returns, long documents are normalised by the average length.
//! Scores are quantised to integers so that a page cursor compares exactly.

/// Term-frequency saturation.
pub const K1: f64 = 1.2;
/// Length normalisation.
pub const B: f64 = 0.75;

/// Inverse document frequency of a token found in `df` of `docs` documents (never negative).
pub fn idf(docs: i64, df: i64) -> f64 {
    let (n, df) = (docs.max(df).max(1) as f64, df.max(0) as f64);
    ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
}

/// The BM25 score of a document of `length` words with counts `tfs` of tokens
/// weighted `weights`, quantised (millionths).
pub fn score(weights: &[f64], tfs: &[i64], length: i64, avg_length: f64) -> i64 {
    let avg = if avg_length > 0.0 { avg_length } else { 1.0 };
    let norm = 1.0 - B + B * (length.max(1) as f64) / avg;
    let s: f64 = weights
        .iter()
        .zip(tfs)
        .map(|(w, &tf)| {
            let tf = tf.max(0) as f64;
            w * tf * (K1 + 1.0) / (tf + K1 * norm)
        })
        .sum();
    (s * 1e6).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_repeated_and_short_score_higher() {
        assert!(idf(1000, 1) > idf(1000, 500));
        assert!(idf(10, 10) > 0.0);
        let w = [idf(1000, 10)];
        assert!(score(&w, &[3], 10, 10.0) > score(&w, &[1], 10, 10.0));
        assert!(score(&w, &[1], 5, 10.0) > score(&w, &[1], 50, 10.0));
        assert_eq!(score(&w, &[0], 5, 10.0), 0);
    }
}
