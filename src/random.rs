//! Cheap non-cryptographic randomness for retry jitter and the sample sender's numbers
//! (xorshift, one state per thread, seeded from the clock). Tokens use the OS source instead.

use std::cell::Cell;

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
    // Threads seeded in the same nanosecond still differ.
    let here = &nanos as *const u64 as u64;
    (nanos ^ here.rotate_left(32) ^ 0x9E37_79B9_7F4A_7C15) | 1
}

/// The next pseudo-random number.
pub fn next_u64() -> u64 {
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
}

/// A number in 0..1.
pub fn fraction() -> f64 {
    (next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_stay_in_range_and_vary() {
        let v: Vec<f64> = (0..1000).map(|_| fraction()).collect();
        assert!(v.iter().all(|f| (0.0..1.0).contains(f)));
        assert!(v.windows(2).any(|w| w[0] != w[1]));
        assert!(v.iter().any(|f| *f < 0.5) && v.iter().any(|f| *f >= 0.5));
    }
}
