//! Distance metrics and the conversion from internal distances to Milvus scores.
//!
//! Internally every metric is a distance where smaller is better:
//! L2 → squared euclidean distance, IP → `-dot`, COSINE → `1 - cos`.

/// Similarity metric of an index (Milvus `metric_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Squared euclidean distance.
    L2,
    /// Inner product.
    Ip,
    /// Cosine similarity (vectors are normalised at insert, then compared by dot product).
    Cosine,
}

impl Metric {
    /// Parses a Milvus metric name (`"L2"`, `"IP"`, `"COSINE"`), case-insensitively.
    pub fn parse(s: &str) -> Option<Metric> {
        match s.trim().to_ascii_uppercase().as_str() {
            "L2" => Some(Metric::L2),
            "IP" => Some(Metric::Ip),
            "COSINE" => Some(Metric::Cosine),
            _ => None,
        }
    }

    /// The Milvus name of the metric.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::L2 => "L2",
            Metric::Ip => "IP",
            Metric::Cosine => "COSINE",
        }
    }

    /// Converts an internal distance (smaller = better) to the score Milvus reports:
    /// L2 → squared euclidean distance (ascending); IP → inner product;
    /// COSINE → cosine similarity in `[-1, 1]` (both descending).
    pub fn to_score(self, dist: f32) -> f32 {
        match self {
            Metric::L2 => dist,
            Metric::Ip => -dist,
            Metric::Cosine => 1.0 - dist,
        }
    }

    /// True for IP and COSINE, whose scores are better when higher.
    pub fn higher_is_better(self) -> bool {
        !matches!(self, Metric::L2)
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            Metric::L2 => 0,
            Metric::Ip => 1,
            Metric::Cosine => 2,
        }
    }

    pub(crate) fn from_code(c: u8) -> Option<Metric> {
        match c {
            0 => Some(Metric::L2),
            1 => Some(Metric::Ip),
            2 => Some(Metric::Cosine),
            _ => None,
        }
    }
}

/// Maps a NaN distance (from `inf - inf` when a finite query overflows) to `+inf`, the
/// worst distance, so every comparison between distances is total and a NaN can never
/// make a candidate look better than the rest, or fail every `<` and be dropped.
#[inline]
pub(crate) fn ordered(d: f32) -> f32 {
    if d.is_nan() {
        f32::INFINITY
    } else {
        d
    }
}

/// One search result: an internal id and its distance (smaller is better, for every metric).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Neighbor {
    /// Internal id (row number in the segment).
    pub id: u32,
    /// Internal distance; convert with [`Metric::to_score`].
    pub dist: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_is_case_insensitive() {
        assert_eq!(Metric::parse("cosine"), Some(Metric::Cosine));
        assert_eq!(Metric::parse("COSINE"), Some(Metric::Cosine));
        assert_eq!(Metric::parse("Ip"), Some(Metric::Ip));
        assert_eq!(Metric::parse("l2"), Some(Metric::L2));
        assert_eq!(Metric::parse("hamming"), None);
    }

    #[test]
    fn scores() {
        assert_eq!(Metric::L2.to_score(2.0), 2.0);
        assert_eq!(Metric::Ip.to_score(-3.0), 3.0);
        assert!((Metric::Cosine.to_score(0.25) - 0.75).abs() < 1e-6);
        assert!(!Metric::L2.higher_is_better());
        assert!(Metric::Ip.higher_is_better() && Metric::Cosine.higher_is_better());
        for m in [Metric::L2, Metric::Ip, Metric::Cosine] {
            assert_eq!(Metric::from_code(m.code()), Some(m));
            assert_eq!(Metric::parse(m.as_str()), Some(m));
        }
    }
}
