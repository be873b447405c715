//! The group typologies: customers linked by a shared device, IP address, withdrawal address
//! or bank account. The transfer's customer gets a hit while the group is at or over the
//! threshold; when this transfer brings a new member into such a group and so brings it to
//! the threshold or to a doubling of it, every other member gets a [`GroupAlert`] too, so
//! members whose transfers came earlier are not missed. Reasons and evidence name at most
//! [`NAMED_MEMBERS`] members with the count of all. One logic, four typologies.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

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

/// At most this many members are named in a reason and listed in the evidence (the most
/// recent users), besides the count of all.
pub(crate) const NAMED_MEMBERS: usize = 20;

/// The others in a group are alerted only while it has at most this many members.
pub(crate) const GROUP_ALERTS_UP_TO: usize = 100;

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
        let min = s.min_customers.max(1) as usize;
        if group.len() < min {
            return;
        }
        let members: Vec<&Member> = group.iter().filter(|m| cx.now - m.last < w).collect();
        if members.len() < min {
            return;
        }
        // Named: at most NAMED_MEMBERS, the most recent users (this transfer's customer among
        // them), in the group's order, so that a value shared by thousands (a service's
        // address, a carrier's IP) keeps each decision's size bounded; the count is whole.
        let named: Vec<&Member> = if members.len() <= NAMED_MEMBERS {
            members.clone()
        } else {
            // The NAMED_MEMBERS latest (ties: the earlier in the group), kept in a small heap
            // whose top is the one to drop next.
            let mut latest: BinaryHeap<Reverse<(i64, Reverse<usize>)>> =
                BinaryHeap::with_capacity(NAMED_MEMBERS + 1);
            for (i, m) in members.iter().enumerate() {
                latest.push(Reverse((m.last, Reverse(i))));
                if latest.len() > NAMED_MEMBERS {
                    latest.pop();
                }
            }
            let mut latest: Vec<usize> =
                latest.into_iter().map(|Reverse((_, Reverse(i)))| i).collect();
            latest.sort_unstable();
            latest.into_iter().map(|i| members[i]).collect()
        };
        let val = self.value(cx);
        let joined = cx.before.group_prev[link as usize].is_none_or(|p| cx.now - p >= w);
        let mut evidence = json!({
            "attribute": what,
            "value": val,
            "customers": members.len(),
            "min_customers": s.min_customers,
            "window": s.window,
            "raised_by_transfer": e.id,
            "members": named.iter().map(|m| member_json(&cx.state.ids, m)).collect::<Vec<_>>(),
        });
        if members.len() > named.len() {
            evidence["members_not_named"] = json!(members.len() - named.len());
        }
        let names = |but: &str| -> String {
            let mut text = named
                .iter()
                .filter(|m| &*m.customer != but)
                .map(|m| member_text(&cx.state.ids, m))
                .collect::<Vec<_>>()
                .join("; ");
            // `but` is a member (this transfer's customer, or the one alerted).
            let shown = named.len() - usize::from(named.iter().any(|m| &*m.customer == but));
            let others = members.len() - 1;
            if others > shown {
                text.push_str(&format!("; and {} more (the latest {shown} named)", others - shown));
            }
            text
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
        // The others are alerted when a new member brings the group to the threshold, and
        // again each time it doubles (2×, 4×, … the threshold): a growing group is news for
        // their cases, one more member of a large one is not. Beyond GROUP_ALERTS_UP_TO
        // members the value is shared too widely to be a ring of accounts (a service's
        // address, a carrier's IP): each member's own transfers keep their hit.
        let n = members.len();
        if !joined || n > GROUP_ALERTS_UP_TO || n % min != 0 || !(n / min).is_power_of_two() {
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
