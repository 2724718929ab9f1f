//! The embedded SQLite store (see issue 4). Being written.
