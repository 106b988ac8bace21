//! Sweep expansion. (placeholder, being written)
