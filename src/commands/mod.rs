//! One module per command. Each takes the parsed flags, does its work through the run
//! machinery in `crate::run`, and returns the run's `Outcome` (`Err`: it could not start).

pub mod build;
pub mod check;
pub mod fetch;
pub mod init;
pub mod list;
pub mod serve;
pub mod shell;
