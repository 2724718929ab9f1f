//! One module per command that is more than a call into the pipeline.

pub mod check;
pub mod fetch;
pub mod init;
pub mod shell;
