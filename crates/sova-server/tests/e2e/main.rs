//! End-to-end tests of the server, in one test binary (one link on 2 cores instead of one per file).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

mod abuse;
mod api;
mod binary;
mod cluster;
mod conformance;
mod conformance_resume;
mod encryption;
mod files;
mod games;
mod graphql;
mod grpc;
mod jobs;
mod lifecycle;
mod media;
mod messaging;
mod presence;
mod realtime;
mod s3;
mod search;
mod sessions;
mod tasks;
mod tls;
mod tus;
mod twofa;
