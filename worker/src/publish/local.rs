//! The local publisher (to be written in this change).
