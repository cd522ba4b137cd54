//! Confab browser SDK (work in progress).
