//! The `publish` pipeline.

pub mod mp3;
