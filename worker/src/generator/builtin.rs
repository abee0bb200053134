//! The built-in generator (to be written).
