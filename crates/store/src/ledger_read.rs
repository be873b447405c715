//! Reading ledger entries back, in time order, for the monitor ("straight from the store").

use floodgate_types::{Address, AssetId, Direction, LedgerEntry, Rail, Timestamp};

use crate::write::amount_from_blob;
use crate::{Store, StoreError};

impl Store {
    /// Every stored ledger entry of this store's tenant (of `ledger`, or of all ledgers),
    /// ordered by time then id.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`], or [`StoreError::BadValue`] for a stored value that no longer
    /// parses (direction or address).
    pub fn ledger_entries(&self, ledger: Option<&str>) -> Result<Vec<LedgerEntry>, StoreError> {
        let sq = |e| StoreError::sqlite(&self.path, e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, time, customer_id, direction, asset, amount, counterparty_address,
                        counterparty_customer, counterparty_vasp, txid, ip, device,
                        counterparty_country, travel_rule, rail, counterparty_bank,
                        counterparty_account
                 FROM ledger_entries WHERE tenant = ?2 AND (?1 IS NULL OR ledger = ?1)
                 ORDER BY time, id",
            )
            .map_err(sq)?;
        let mut rows = stmt.query(rusqlite::params![ledger, self.tenant.as_str()]).map_err(sq)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(sq)? {
            let direction: String = r.get(3).map_err(sq)?;
            let addr: Option<String> = r.get(6).map_err(sq)?;
            let amount: Vec<u8> = r.get(5).map_err(sq)?;
            let bad = |what: &'static str, value: String| StoreError::BadValue {
                path: self.path.clone(),
                what,
                value,
            };
            let counterparty_address = match addr {
                Some(a) => {
                    Some(Address::parse_any(&a).map_err(|_| bad("counterparty address", a))?)
                }
                None => None,
            };
            let travel_rule = match r.get::<_, Option<String>>(13).map_err(sq)? {
                Some(t) => Some(serde_json::from_str(&t).map_err(|_| bad("travel_rule", t))?),
                None => None,
            };
            let rail = match r.get::<_, Option<String>>(14).map_err(sq)? {
                Some(t) => Some(Rail::parse(&t).ok_or_else(|| bad("rail", t))?),
                None => None,
            };
            out.push(LedgerEntry {
                id: r.get(0).map_err(sq)?,
                time: Timestamp(r.get(1).map_err(sq)?),
                customer_id: r.get(2).map_err(sq)?,
                direction: Direction::parse(&direction)
                    .ok_or_else(|| bad("direction", direction.clone()))?,
                asset: AssetId(r.get(4).map_err(sq)?),
                amount: amount_from_blob(&amount),
                counterparty_address,
                counterparty_customer: r.get(7).map_err(sq)?,
                counterparty_vasp: r.get(8).map_err(sq)?,
                txid: r.get(9).map_err(sq)?,
                ip: r.get(10).map_err(sq)?,
                device: r.get(11).map_err(sq)?,
                counterparty_country: r.get(12).map_err(sq)?,
                travel_rule,
                rail,
                counterparty_bank: r.get(15).map_err(sq)?,
                counterparty_account: r.get(16).map_err(sq)?,
            });
        }
        Ok(out)
    }
}
