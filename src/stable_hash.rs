//! FNV-1a: a hash that is the same across Rust versions and platforms (std's hasher is not
//! promised to be), for names ioctl keeps on disk: the runtime cache's and the builds' folders.

/// The 64-bit FNV-1a of `parts`, each followed by a 0 byte (so `["a", "b"]` and `["ab", ""]`
/// differ).
pub fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.iter().flat_map(|p| p.bytes().chain([0])) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // FNV-1a 64 of "a\0" and of "" (the offset basis alone).
        assert_eq!(fnv1a(&["a"]), 0x089b_e207_b544_f1e4);
        assert_eq!(fnv1a(&[]), 0xcbf2_9ce4_8422_2325);
        assert_ne!(fnv1a(&["a", "b"]), fnv1a(&["ab", ""]));
    }
}
