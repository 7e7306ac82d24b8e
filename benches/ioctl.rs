//! Benchmarks (placeholder until the suite lands): `cargo bench`.
fn main() {}
