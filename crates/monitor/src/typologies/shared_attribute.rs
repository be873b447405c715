//! The group typologies: customers linked by a shared device, IP address, withdrawal address
//! or bank account. The transfer's customer gets a hit while the group is at or over the
//! threshold; when this transfer brings a new member into such a group (it crosses the
//! threshold, or grows past it), every other member gets a [`GroupAlert`] too, so members
//! whose transfers came earlier are not missed. One logic, four typologies.

use floodgate_types::Direction;
use serde_json::json;

use super::{hit, member_json, member_text, span, Ctx, Findings, Typology};
use crate::decision::{Evidence, GroupAlert, HitKind};
use crate::pack::typology_struct;
use crate::state::{key, Link, Member};

typology_struct!(
    /// Several customers linked by one shared attribute (device, IP address, withdrawal
    /// address or bank account): a group typology, which alerts every member when the group
    /// crosses it.
    Settings {
        /// Window length.
        window: String,
        /// At least this many distinct customers (this one included).
        min_customers: u32,
    }
);

/// Customers sharing one linking attribute.
pub(crate) struct SharedAttribute {
    name: &'static str,
    link: Link,
    /// The attribute, as reasons name it.
    what: &'static str,
}

pub(crate) static SHARED_DEVICE: SharedAttribute =
    SharedAttribute { name: "shared_device", link: Link::Device, what: "device" };
pub(crate) static SHARED_IP: SharedAttribute =
    SharedAttribute { name: "shared_ip", link: Link::Ip, what: "IP address" };
pub(crate) static SHARED_WITHDRAWAL_ADDRESS: SharedAttribute = SharedAttribute {
    name: "shared_withdrawal_address",
    link: Link::WithdrawalAddress,
    what: "withdrawal address",
};
/// Bank transfers of several customers from or to one bank account (a mule account paying in
/// for many, or one person's account behind several customers).
pub(crate) static SHARED_BANK_ACCOUNT: SharedAttribute =
    SharedAttribute { name: "shared_bank_account", link: Link::BankAccount, what: "bank account" };

impl SharedAttribute {
    /// The event's value of the attribute and its key in the state's index.
    /// The group key of the transfer's value, when it has one (cheap: most transfers are in
    /// no group that reaches its threshold).
    fn key(&self, cx: &Ctx<'_>) -> Option<u64> {
        let e = &cx.ev.entry;
        match self.link {
            Link::Device => e.device.as_deref().map(|d| key(5, d)),
            Link::Ip => e.ip.as_deref().map(|d| key(4, d)),
            Link::WithdrawalAddress => e
                .counterparty_address
                .as_ref()
                .filter(|_| cx.dir() == Direction::Withdrawal)
                .map(|a| key(1, a)),
            Link::BankAccount => e.bank_account().map(|b| key(6, b.as_str())),
        }
    }

    /// The value's text, for reasons and evidence.
    fn value(&self, cx: &Ctx<'_>) -> String {
        let e = &cx.ev.entry;
        match self.link {
            Link::Device => e.device.clone().unwrap_or_default(),
            Link::Ip => e.ip.clone().unwrap_or_default(),
            Link::WithdrawalAddress => {
                e.counterparty_address.as_ref().map(ToString::to_string).unwrap_or_default()
            }
            Link::BankAccount => e.bank_account().unwrap_or_default(),
        }
    }
}

impl Typology for SharedAttribute {
    type Settings = Settings;

    fn name(&self) -> &'static str {
        self.name
    }
    fn window<'a>(&self, s: &'a Settings) -> Option<&'a str> {
        Some(s.window.as_str())
    }
    fn check(&self, s: &Settings, cx: &Ctx<'_>, _agg: &[u128], out: &mut Findings<'_>) {
        let (id, link, what) = (self.name, self.link, self.what);
        let Some(k) = self.key(cx) else {
            return;
        };
        let e = &cx.ev.entry;
        let w = span(&s.window);
        let group = cx.state.group(link, k);
        let min = s.min_customers as usize;
        if group.len() < min || group.iter().filter(|m| cx.now - m.last < w).count() < min {
            return;
        }
        let members: Vec<&Member> = group.iter().filter(|m| cx.now - m.last < w).collect();
        let val = self.value(cx);
        let joined = cx.before.group_prev[link as usize].is_none_or(|p| cx.now - p >= w);
        let evidence = json!({
            "attribute": what,
            "value": val,
            "customers": members.len(),
            "min_customers": s.min_customers,
            "window": s.window,
            "raised_by_transfer": e.id,
            "members": members.iter().map(|m| member_json(&cx.state.ids, m)).collect::<Vec<_>>(),
        });
        let names = |but: &str| -> String {
            members
                .iter()
                .filter(|m| &*m.customer != but)
                .map(|m| member_text(&cx.state.ids, m))
                .collect::<Vec<_>>()
                .join("; ")
        };
        out.hits.push(hit(
            id,
            HitKind::Typology,
            s.action,
            &s.source,
            s.severity,
            format!(
                "{what} {val} used by {} customers within {} (threshold {}); the others: {}",
                members.len(),
                s.window,
                s.min_customers,
                names(&e.customer_id)
            ),
            Evidence::from(evidence.clone()),
        ));
        if !joined {
            return;
        }
        for m in members.iter().filter(|m| *m.customer != *e.customer_id) {
            out.group_alerts.push(GroupAlert {
                customer_id: m.customer.to_string(),
                rule_id: id.to_owned(),
                severity: s.severity,
                action: s.action,
                score: s.severity.points(),
                reason: format!(
                    "{what} {val} of this customer ({}) is shared by {} customers within {} (threshold {}), the group completed by transfer {} of {}; the others: {}",
                    member_text(&cx.state.ids, m),
                    members.len(),
                    s.window,
                    s.min_customers,
                    e.id,
                    e.customer_id,
                    names(&m.customer)
                ),
                evidence: evidence.clone(),
                source: s.source.clone(),
            });
        }
    }
}
