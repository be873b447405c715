//! Integration tests of floodgate-screen on the real list files in ../shared/data.
#![allow(clippy::unwrap_used)] // tests

mod common;
mod index;
mod loaders;
mod loaders_more;
mod matching;
mod relations;
mod screener;
