//! Ethereum: blocks, receipts, logs and call traces. (Being written.)
