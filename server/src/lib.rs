//! Confab room server (work in progress).
