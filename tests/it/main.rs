#![allow(clippy::unwrap_used)]
//! The one integration test binary: every test runs the real `noticefeed` binary.
mod architecture;
mod chinania;
mod cron;
mod docs;
mod fetch;
mod guid;
mod hostile;
mod incremental;
mod interop;
mod local;
mod ops;
mod publish;
mod reader;
mod robots;
mod security;
mod serve;
mod server;
mod support;
mod unreachable;
mod websub;
