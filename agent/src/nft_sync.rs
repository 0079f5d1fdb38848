//! The nftables datapath's sync: what one round sends to the kernel, and when it sends
//! nothing (docs/nftables-datapath.md).
//!
//! A round applies the two in-place transactions of [`nftables::Scripts`] (sets, then
//! rules: a rule must never look up a set filled in its own transaction, or new flows can
//! miss the set at the commit), then lists the table. If the listing still holds
//! something the in-place update cannot remove (a chain or set added by hand inside our
//! table), or if either transaction was refused (an object of another shape), the whole
//! table is replaced in one transaction, which heals anything. The listing is kept when
//! it holds exactly our elements and rules ([`crate::nftstate`]); a later round with the
//! same transactions against the same listing sends nothing, so a steady-state round
//! costs one `nft list table`.

use crate::backend::{Backend, BackendError};
use crate::config::Config;
use crate::daemon::Settings;
use crate::nftables::{self, NftOptions};

/// The nftables datapath's transactions for a config.
pub fn nft_scripts(config: &Config, settings: &Settings, random_fully: bool) -> nftables::Scripts {
    nftables::scripts(
        config,
        &NftOptions {
            chain: settings.chain.clone(),
            random_fully,
            to_ports: settings.to_ports.clone(),
            ipv6: settings.parse.enable_ipv6,
        },
    )
}

/// What the last round left in the kernel, as far as it could tell.
#[derive(Debug, Default)]
pub struct NftSync {
    /// The transactions last applied and the table's listing right after them (only when
    /// that listing was exactly what they meant): a round that would apply the same to
    /// the same listing sends nothing.
    applied: Option<(nftables::Scripts, String)>,
}

impl NftSync {
    /// One round of the nftables datapath: nothing if the table is as the last round left
    /// it, else the two in-place transactions (the whole-table replacement if they fail or
    /// leave something foreign).
    pub fn sync<B: Backend>(
        &mut self,
        backend: &mut B,
        scripts: &nftables::Scripts,
    ) -> Result<(), BackendError> {
        let table = &scripts.expect.table;
        if let Some((applied, listing)) = self.applied.take() {
            if applied == *scripts
                && backend.nft_list_table(table).as_deref() == Some(listing.as_str())
            {
                tracing::debug!("nft table unchanged: no transaction");
                self.applied = Some((applied, listing));
                return Ok(());
            }
        }
        let in_place = backend
            .nft_apply(&scripts.sets)
            .and_then(|()| backend.nft_apply(&scripts.rules));
        match &in_place {
            Ok(()) => tracing::debug!(
                "nft transactions applied:\n{}{}",
                scripts.sets,
                scripts.rules
            ),
            Err(e) => {
                tracing::warn!("nft in-place update failed, replacing the whole table: {e}");
                backend.nft_apply(&scripts.replace)?;
                tracing::debug!("nft transaction applied:\n{}", scripts.replace);
            }
        }
        let ours = |l: &str| crate::nftstate::is_expected(l, &scripts.expect);
        let mut listing = backend.nft_list_table(table);
        // No listing (nft could not list) is no evidence of drift: leave it to the next
        // round, which will apply again (nothing was kept).
        if in_place.is_ok() && listing.as_deref().is_some_and(|l| !ours(l)) {
            // Something the in-place update cannot remove (a chain or set added by hand
            // inside our table): the whole-table replacement heals it.
            tracing::warn!("nft table still differs after the in-place update: replacing it");
            backend.nft_apply(&scripts.replace)?;
            listing = backend.nft_list_table(table);
        }
        self.applied = listing.filter(|l| ours(l)).map(|l| (scripts.clone(), l));
        Ok(())
    }
}
