//! Every network byte goes through here (see issue 5). Being written.
