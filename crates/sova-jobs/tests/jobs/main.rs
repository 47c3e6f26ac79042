//! The job queue against real databases, in one test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

mod runner;
mod sigkill;
mod store;
