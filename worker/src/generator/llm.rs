//! The OpenAI-compatible generator (to be written).
