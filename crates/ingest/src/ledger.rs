//! Exchange ledgers. (Being written.)
