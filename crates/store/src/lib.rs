//! floodgate transfer store (in progress).
