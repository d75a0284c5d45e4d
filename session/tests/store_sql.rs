//! SQL store tests (being written).
