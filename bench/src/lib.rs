//! Confab benchmarks (work in progress).
