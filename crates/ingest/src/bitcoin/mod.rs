//! Bitcoin: raw blocks, `blk*.dat` files and `getblock` verbosity-2 JSON. (Being written.)
