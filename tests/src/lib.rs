//! Shared helpers for herd's cross-process tests.
