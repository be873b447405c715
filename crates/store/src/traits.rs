//! The transfer store as a trait: the operations ingest, the graph build, the monitor's
//! ledger replay and the listings perform. [`Store`] (SQLite, `transfers.db`) is the embedded
//! default; another backend implements the same contract, including the tenant rule (chain
//! data shared, ledger entries per tenant) and all-or-nothing applies.

use floodgate_types::{Chain, ChainBlock, Hash32, LedgerEntry, TenantId};

use crate::export::ExportLeg;
use crate::{
    ApplyOutcome, LedgerOutcome, Store, StoreError, StoreStats, TransferFilter, TransferRow,
    Unwound,
};

/// Where normalized chain data and ledger entries are kept, for one tenant.
pub trait TransferStore {
    /// The tenant this handle acts for (its ledger entries; chain data is shared).
    fn tenant(&self) -> &TenantId;

    /// Applies blocks all-or-nothing, unwinding a reorganisation first (see
    /// [`Store::apply_blocks`]); the outcomes are per block, in order.
    ///
    /// # Errors
    /// [`StoreError`]; nothing of the group is stored then.
    fn apply_blocks(&mut self, blocks: &[ChainBlock]) -> Result<Vec<ApplyOutcome>, StoreError>;

    /// Applies one ledger input all-or-nothing under the tenant (see [`Store::apply_ledger`]).
    ///
    /// # Errors
    /// [`StoreError::LedgerConflict`] for a changed entry, or a backend failure.
    fn apply_ledger(
        &mut self,
        ledger: &str,
        entries: &[LedgerEntry],
    ) -> Result<LedgerOutcome, StoreError>;

    /// Binds `chain` to one network on first use (see [`Store::bind_network`]).
    ///
    /// # Errors
    /// [`StoreError::WrongNetwork`].
    fn bind_network(
        &mut self,
        chain: Chain,
        name: &str,
        genesis: Option<Hash32>,
    ) -> Result<(), StoreError>;

    /// The network `chain` is bound to, if any.
    ///
    /// # Errors
    /// A backend failure.
    fn network(&self, chain: Chain) -> Result<Option<String>, StoreError>;

    /// The deepest unwind a new block may cause.
    fn set_max_unwind(&mut self, blocks: u64);

    /// Removes every block of `chain` above `height` (see [`Store::rollback_to`]).
    ///
    /// # Errors
    /// [`StoreError::NothingToRollBack`].
    fn rollback_to(&mut self, chain: Chain, height: u64) -> Result<Unwound, StoreError>;

    /// Calls `f` with each row of the transfer listing (chain rows, then the tenant's ledger
    /// rows) matching `filter` (see [`Store::for_each_transfer`]).
    ///
    /// # Errors
    /// A backend failure, or `f`'s error.
    fn for_each_transfer<E: From<StoreError>>(
        &self,
        filter: &TransferFilter,
        f: impl FnMut(TransferRow) -> Result<(), E>,
    ) -> Result<(), E>;

    /// The listing collected (see [`TransferStore::for_each_transfer`]).
    ///
    /// # Errors
    /// A backend failure.
    fn transfers(&self, filter: &TransferFilter) -> Result<Vec<TransferRow>, StoreError> {
        let mut out = Vec::new();
        self.for_each_transfer(filter, |r| {
            out.push(r);
            Ok::<(), StoreError>(())
        })?;
        Ok(out)
    }

    /// The tenant's ledger entries (of `ledger`, or all), by time then id.
    ///
    /// # Errors
    /// A backend failure or an unreadable stored value.
    fn ledger_entries(&self, ledger: Option<&str>) -> Result<Vec<LedgerEntry>, StoreError>;

    /// Calls `f` for every leg of `chain` above `after_height`, in height order (the graph
    /// build; see [`Store::for_each_leg`]).
    ///
    /// # Errors
    /// A backend failure, or `f`'s error.
    fn for_each_leg<E: From<StoreError>>(
        &self,
        chain: Chain,
        after_height: Option<u64>,
        f: impl FnMut(ExportLeg) -> Result<(), E>,
    ) -> Result<(), E>;

    /// The highest stored block of `chain`.
    ///
    /// # Errors
    /// A backend failure.
    fn chain_tip(&self, chain: Chain) -> Result<Option<(u64, Hash32)>, StoreError>;

    /// The hash of the stored block of `chain` at `height`.
    ///
    /// # Errors
    /// A backend failure.
    fn block_hash(&self, chain: Chain, height: u64) -> Result<Option<Hash32>, StoreError>;

    /// Inputs of `chain` whose funding output is not stored.
    ///
    /// # Errors
    /// A backend failure.
    fn unresolved_inputs(&self, chain: Chain) -> Result<u64, StoreError>;

    /// Counts per chain, the tenant's ledger entries and the journal.
    ///
    /// # Errors
    /// A backend failure.
    fn stats(&self) -> Result<StoreStats, StoreError>;

    /// Before a bulk load: drop what makes appends slow (SQLite: secondary indexes); a
    /// backend without such structures does nothing.
    ///
    /// # Errors
    /// A backend failure.
    fn suspend_indexes(&mut self) -> Result<(), StoreError>;

    /// After a bulk load: rebuild what [`TransferStore::suspend_indexes`] dropped.
    ///
    /// # Errors
    /// A backend failure.
    fn restore_indexes(&mut self) -> Result<(), StoreError>;

    /// Bytes stored that a rebuild after a bulk load re-sorts, about (SQLite: its file).
    ///
    /// # Errors
    /// A backend failure.
    fn stored_bytes(&self) -> Result<u64, StoreError>;
}

impl TransferStore for Store {
    fn tenant(&self) -> &TenantId {
        Store::tenant(self)
    }
    fn apply_blocks(&mut self, blocks: &[ChainBlock]) -> Result<Vec<ApplyOutcome>, StoreError> {
        Store::apply_blocks(self, blocks)
    }
    fn apply_ledger(
        &mut self,
        ledger: &str,
        entries: &[LedgerEntry],
    ) -> Result<LedgerOutcome, StoreError> {
        Store::apply_ledger(self, ledger, entries)
    }
    fn bind_network(
        &mut self,
        chain: Chain,
        name: &str,
        genesis: Option<Hash32>,
    ) -> Result<(), StoreError> {
        Store::bind_network(self, chain, name, genesis)
    }
    fn network(&self, chain: Chain) -> Result<Option<String>, StoreError> {
        Store::network(self, chain)
    }
    fn set_max_unwind(&mut self, blocks: u64) {
        Store::set_max_unwind(self, blocks);
    }
    fn rollback_to(&mut self, chain: Chain, height: u64) -> Result<Unwound, StoreError> {
        Store::rollback_to(self, chain, height)
    }
    fn for_each_transfer<E: From<StoreError>>(
        &self,
        filter: &TransferFilter,
        f: impl FnMut(TransferRow) -> Result<(), E>,
    ) -> Result<(), E> {
        Store::for_each_transfer(self, filter, f)
    }
    fn ledger_entries(&self, ledger: Option<&str>) -> Result<Vec<LedgerEntry>, StoreError> {
        Store::ledger_entries(self, ledger)
    }
    fn for_each_leg<E: From<StoreError>>(
        &self,
        chain: Chain,
        after_height: Option<u64>,
        f: impl FnMut(ExportLeg) -> Result<(), E>,
    ) -> Result<(), E> {
        Store::for_each_leg(self, chain, after_height, f)
    }
    fn chain_tip(&self, chain: Chain) -> Result<Option<(u64, Hash32)>, StoreError> {
        Store::chain_tip(self, chain)
    }
    fn block_hash(&self, chain: Chain, height: u64) -> Result<Option<Hash32>, StoreError> {
        Store::block_hash(self, chain, height)
    }
    fn unresolved_inputs(&self, chain: Chain) -> Result<u64, StoreError> {
        Store::unresolved_inputs(self, chain)
    }
    fn stats(&self) -> Result<StoreStats, StoreError> {
        Store::stats(self)
    }
    fn suspend_indexes(&mut self) -> Result<(), StoreError> {
        Store::suspend_indexes(self)
    }
    fn restore_indexes(&mut self) -> Result<(), StoreError> {
        Store::restore_indexes(self)
    }
    fn stored_bytes(&self) -> Result<u64, StoreError> {
        Store::stored_bytes(self)
    }
}
