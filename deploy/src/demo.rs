//! The data of `agora dev`'s demo catalogue, generated (the same bytes every time) rather than
//! shipped: field notes to embed, and measurements for the example algorithms. The provider's
//! tests run the example algorithms over the same measurements.

use std::fmt::Write as _;

/// 200 field notes as JSONL, one `{"text": …}` object per line: the demo's text dataset.
pub fn finch_notes() -> String {
    (0..200).fold(String::new(), |mut out, i| {
        let beak = ["short", "long", "curved", "thick"][i % 4];
        let _ = writeln!(
            out,
            "{{\"text\": \"Field note {i}: a finch with a {beak} beak was seen on island {}.\"}}",
            i % 13
        );
        out
    })
}

/// 200 finches measured on three islands, as CSV: `id,island,beak_depth_mm,beak_length_mm,
/// wing_mm`. Three species-like groups, so k-means has clusters to find; a few wings were not
/// measured (empty), so column statistics have gaps to count.
pub fn finch_measurements() -> String {
    let mut state = 2026u64;
    let mut noise = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) % 1000) as f64 / 1000.0 - 0.5
    };
    let mut out = String::from("id,island,beak_depth_mm,beak_length_mm,wing_mm\n");
    for id in 1..=200 {
        let (island, depth, length, wing) =
            [("Daphne", 9.5, 10.7, 68.0), ("Genovesa", 8.1, 13.2, 71.5), ("Santa Cruz", 11.8, 12.1, 74.0)]
                [id % 3];
        let wing = match id % 17 {
            0 => String::new(),
            _ => format!("{:.1}", wing + 3.0 * noise()),
        };
        let _ = writeln!(out, "{id},{island},{:.2},{:.2},{wing}", depth + noise(), length + noise());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_data_is_the_same_every_time_and_well_formed() {
        assert_eq!(finch_notes(), finch_notes());
        assert_eq!(finch_notes().lines().count(), 200);
        assert!(finch_notes().lines().all(|line| line.starts_with("{\"text\": \"Field note ")));
        let csv = finch_measurements();
        assert_eq!(csv, finch_measurements());
        assert_eq!(csv.lines().count(), 201);
        assert!(csv.lines().all(|line| line.split(',').count() == 5), "{csv}");
        assert!(csv.lines().any(|line| line.ends_with(',')), "some wings are missing");
    }
}
