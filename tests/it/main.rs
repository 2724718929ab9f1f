//! The one integration test binary: every test runs the real `noticefeed` binary.
mod guid;
mod hostile;
mod interop;
mod local;
mod support;
mod server;
mod chinania;
