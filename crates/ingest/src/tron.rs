//! Tron: native TRX and TRC-20 transfers. (Being written.)
