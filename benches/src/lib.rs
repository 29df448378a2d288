//! criterion benchmarks of lambda-kappa live in `benches/`; this crate has no library code.
