//! `preview`: serves generated sites from their own origin. (Built out by
//! the preview issue.)
