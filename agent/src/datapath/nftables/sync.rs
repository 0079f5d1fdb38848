//! The nftables datapath's sync: what one round sends to the kernel, and when it sends
//! nothing (docs/nftables-datapath.md).
//!
//! A round applies the two in-place transactions of [`nftables::Scripts`] (sets, then
//! rules: a rule must never look up a set filled in its own transaction, or new flows can
//! miss the set at the commit). Transaction 1 goes in two steps when it can: nft creates
//! the table and sets if missing ([`nftables::Scripts::structure`]), then one netlink
//! batch, guarded by the generation, makes the sets hold exactly the config's elements:
//! only the difference from what they hold (read back over netlink), or a flush and
//! refill (nft's user-space handling of 10,000 interval elements cost about 50 ms of
//! CPU, the kernel's commit of them about 30 ms; reading them back costs a few).
//!
//! What vouches for the result: when the generation after transaction 2 moved by exactly
//! our commits since the batch's guard, nobody else committed in between, so our sets
//! hold exactly our elements and our chain exactly our rules; a netlink dump of the
//! table's chains and sets ([`super::objects`]) then catches what the in-place update
//! cannot remove (a chain or set added by hand inside our table). Otherwise the table is
//! listed, as before. A foreign object, a listing that is not ours, or a refused
//! transaction means the whole table is replaced in one transaction, which heals
//! anything. The listing is kept when it holds exactly our elements and rules
//! ([`super::state`]); a later round with the same transactions against the same listing
//! sends nothing.
//!
//! Even that listing is skipped while the nftables ruleset generation
//! ([`super::generation`], bumped by every commit in the namespace, anyone's) is the
//! one read just before the kept listing was taken: a steady-state round then costs one
//! netlink round trip. Ordering: the generation is read BEFORE the listing it vouches
//! for. The kernel bumps the generation at the start of a commit, before the commit's
//! objects become visible (nf_tables_commit: `base_seq` bumped, then the generation
//! cursor flipped), so a commit either bumped it before our read, and then the listing
//! taken after the read already shows it, or bumps it after our read, and then the next
//! round sees another generation and looks at the listing. Read after the listing, a
//! commit landing between the two would be vouched for without ever being listed. The
//! one case the counter cannot order is a commit that had bumped it but not finished
//! applying when the listing was taken (a commit stalled inside the kernel's commit for
//! the whole `nft list` run): its change goes unnoticed until the next commit anyone
//! makes, or a config change. Another generation (kube-proxy commits its own tables all
//! the time) only means "look": if our table lists as kept, the new generation (read
//! before that listing, for the same reason) is kept too and nothing is sent. No
//! generation (no netlink permission, no nf_tables) means always listing, as before.

use super::clock::RoundClock;
use super::elements;
use super::state::is_expected;
use crate::datapath::backend::{Backend, BackendError};
use crate::datapath::nftables;
use std::sync::Arc;

/// What the last round left in the kernel, as far as it could tell.
#[derive(Debug, Default)]
pub struct NftSync {
    /// Only when the last round could tell the table holds exactly what it meant.
    applied: Option<Applied>,
}

/// The transactions last applied and what vouches that the table still holds them: the
/// generation, while it is `generation`, or else a listing: equal to `listing`, or when no
/// listing was kept (the last round sent only element changes), one that holds exactly
/// our elements and rules.
#[derive(Debug)]
struct Applied {
    /// Shared with the round that applied them: keeping them copies nothing.
    scripts: Arc<nftables::Scripts>,
    listing: Option<String>,
    /// Read just before `listing` was taken (see the module's ordering argument), or
    /// right after our own commits, when they were the only ones since the generation
    /// that guarded them (an element change; a full apply whose table held only our
    /// objects).
    generation: Option<u32>,
}

impl Applied {
    /// Whether the table still holds what was applied; on a listing that shows it does,
    /// the generation read before that listing (and the listing) are kept.
    fn still_held<B: Backend>(&mut self, backend: &mut B, clock: &mut RoundClock) -> bool {
        let generation = backend.nft_generation();
        clock.mark("generation read");
        if generation.is_some() && generation == self.generation {
            return true;
        }
        let listing = backend.nft_list_table(&self.scripts.expect.table);
        clock.mark("listing");
        let Some(listing) = listing else {
            return false;
        };
        let held = match &self.listing {
            Some(kept) => *kept == listing,
            None => is_expected(&listing, &self.scripts.expect),
        };
        if held {
            self.generation = generation;
            self.listing = Some(listing);
        }
        held
    }
}

impl NftSync {
    /// One round of the nftables datapath: nothing if the table is as the last round left
    /// it; only the element changes (one transaction) when the sets' elements are all that
    /// changed; else the two in-place transactions (the whole-table replacement if they
    /// fail or leave something foreign).
    pub fn sync<B: Backend>(
        &mut self,
        backend: &mut B,
        scripts: &Arc<nftables::Scripts>,
    ) -> Result<(), BackendError> {
        let mut clock = RoundClock::start();
        let result = self.round(backend, scripts, &mut clock);
        if let Some(summary) = clock.summary() {
            tracing::debug!("nft round: {summary}");
        }
        result
    }

    fn round<B: Backend>(
        &mut self,
        backend: &mut B,
        scripts: &Arc<nftables::Scripts>,
        clock: &mut RoundClock,
    ) -> Result<(), BackendError> {
        if let Some(mut applied) = self.applied.take() {
            if applied.still_held(backend, clock) {
                let unchanged = applied.scripts == *scripts;
                clock.mark("comparison");
                if unchanged {
                    tracing::debug!("nft table unchanged: no transaction");
                    self.applied = Some(applied);
                    return Ok(());
                }
                if self.edit_elements(backend, &applied, scripts, clock) {
                    return Ok(());
                }
            }
        }
        self.apply(backend, scripts, clock)
    }

    /// Sends only the element changes from `applied` to `scripts`, when those are all
    /// that differ and the generation vouching for `applied` is known (the kernel commits
    /// the change only at that generation). False when the full sync is needed.
    fn edit_elements<B: Backend>(
        &mut self,
        backend: &mut B,
        applied: &Applied,
        scripts: &Arc<nftables::Scripts>,
        clock: &mut RoundClock,
    ) -> bool {
        let Some(generation) = applied.generation else {
            return false;
        };
        if applied.scripts.rules != scripts.rules {
            return false;
        }
        let edit = elements::edit(&applied.scripts.expect, &scripts.expect, generation);
        clock.mark("difference");
        let Some(edit) = edit else {
            return false;
        };
        let sent = backend.nft_edit_elements(&edit);
        clock.mark("element batch");
        if let Err(e) = sent {
            tracing::warn!("nft element update failed, applying the two transactions: {e}");
            return false;
        }
        let (deleted, added) = edit.counts();
        tracing::debug!("nft elements: {deleted} deleted, {added} added in one transaction");
        // Our commit is the only one since `generation` when the generation moved by
        // exactly one: it then vouches for the new contents; otherwise the next round
        // lists the table.
        let after = backend.nft_generation();
        clock.mark("generation read");
        self.applied = Some(Applied {
            scripts: scripts.clone(),
            listing: None,
            generation: after.filter(|g| *g == generation.wrapping_add(1)),
        });
        clock.mark("kept");
        true
    }

    /// The two in-place transactions (the whole-table replacement if they fail or leave
    /// something foreign), then what vouches for them: the generation arithmetic and the
    /// table's objects when only our commits happened ([`Self::in_place`]), else the
    /// listing.
    fn apply<B: Backend>(
        &mut self,
        backend: &mut B,
        scripts: &Arc<nftables::Scripts>,
        clock: &mut RoundClock,
    ) -> Result<(), BackendError> {
        let table = &scripts.expect.table;
        let in_place = Self::in_place(backend, scripts, clock);
        let mut replaced = false;
        let vouched = match in_place {
            Ok(vouched) => vouched,
            Err(e) => {
                tracing::warn!("nft in-place update failed, replacing the whole table: {e}");
                backend.nft_apply(&scripts.replace)?;
                tracing::debug!("nft transaction applied:\n{}", scripts.replace);
                replaced = true;
                None
            }
        };
        if let Some(generation) = vouched {
            let objects = backend.nft_table_objects(table);
            clock.mark("table objects");
            match objects {
                Some(objects) if objects.are_ours(&scripts.expect) => {
                    self.applied = Some(Applied {
                        scripts: scripts.clone(),
                        listing: None,
                        generation: Some(generation),
                    });
                    return Ok(());
                }
                Some(objects) => {
                    // A chain or set added inside our table: only the whole-table
                    // replacement removes it.
                    tracing::warn!("nft table holds objects not ours ({objects:?}): replacing it");
                    backend.nft_apply(&scripts.replace)?;
                    replaced = true;
                }
                None => {}
            }
        }
        let ours = |l: &str| is_expected(l, &scripts.expect);
        let mut generation = backend.nft_generation();
        let mut listing = backend.nft_list_table(table);
        clock.mark("listing");
        // Whether the listing is exactly ours; `None`: nft could not list, which is no
        // evidence of drift: leave it to the next round, which will apply again (nothing
        // is kept).
        let mut fits = listing.as_deref().map(ours);
        if !replaced && fits == Some(false) {
            // Something the in-place update cannot remove (a chain or set added by hand
            // inside our table): the whole-table replacement heals it.
            tracing::warn!("nft table still differs after the in-place update: replacing it");
            backend.nft_apply(&scripts.replace)?;
            generation = backend.nft_generation();
            listing = backend.nft_list_table(table);
            fits = listing.as_deref().map(ours);
        }
        self.applied = match (listing, fits) {
            (Some(listing), Some(true)) => Some(Applied {
                scripts: scripts.clone(),
                listing: Some(listing),
                generation,
            }),
            _ => None,
        };
        Ok(())
    }

    /// The two in-place transactions, transaction 1 split when it can be: its table and
    /// sets through nft ([`nftables::Scripts::structure`]), its elements over netlink
    /// ([`Self::refill`]), nft's own transaction 1 when that fails. Returns the
    /// generation after transaction 2 when it proves that our commits were the only
    /// ones since the generation guarding the elements: the batch commits only at that
    /// generation, and each commit moves it by exactly one.
    fn in_place<B: Backend>(
        backend: &mut B,
        scripts: &Arc<nftables::Scripts>,
        clock: &mut RoundClock,
    ) -> Result<Option<u32>, BackendError> {
        backend.nft_apply(&scripts.structure)?;
        clock.mark("table and sets (nft)");
        let refilled = Self::refill(backend, &scripts.expect, clock);
        if refilled.is_none() {
            backend.nft_apply(&scripts.sets)?;
            clock.mark("sets refilled (nft)");
        }
        backend.nft_apply(&scripts.rules)?;
        clock.mark("rules (nft)");
        tracing::debug!(
            "nft transactions applied:\n{}{}",
            if refilled.is_some() {
                &scripts.structure
            } else {
                &scripts.sets
            },
            scripts.rules
        );
        let Some((guard, Some(commits))) = refilled else {
            return Ok(None);
        };
        let after = backend.nft_generation();
        clock.mark("generation read");
        Ok(after.filter(|a| *a == guard.wrapping_add(commits + 1)))
    }

    /// Makes the sets hold exactly `expect`'s elements over netlink, in at most one
    /// transaction guarded by the generation read first: only the difference from what
    /// they hold when that can be read (unchanged by anyone since the guard: nothing to
    /// send at all for a table that already holds them), else every set flushed and
    /// refilled. Returns the guard and how many commits that made (`None`: unknown, a
    /// flush of sets that may have been empty); `None` when nft must refill instead.
    fn refill<B: Backend>(
        backend: &mut B,
        expect: &nftables::Expected,
        clock: &mut RoundClock,
    ) -> Option<(u32, Option<u32>)> {
        let guard = backend.nft_generation()?;
        let current: Option<Vec<_>> = expect
            .sets
            .iter()
            .map(|(name, _)| backend.nft_set_contents(&expect.table, name))
            .collect();
        // Read at the guard's generation only if nothing was committed during the read.
        let after_read = backend.nft_generation();
        clock.mark("set contents read");
        let difference = match current {
            Some(now) if after_read == Some(guard) => elements::difference(&now, expect, guard),
            Some(_) => {
                tracing::debug!("nft generation moved from {guard} to {after_read:?} while the sets were read: refilling them");
                None
            }
            None => {
                tracing::debug!("nft sets not readable as prefixes: refilling them");
                None
            }
        };
        let (edit, commits) = match difference {
            Some(edit) => {
                let commits = u32::from(edit.counts() != (0, 0));
                (edit, Some(commits))
            }
            None => {
                let fill = elements::fill(expect, guard)?;
                let adds = fill.counts().1 > 0;
                (fill, adds.then_some(1))
            }
        };
        clock.mark("difference");
        if commits == Some(0) {
            tracing::debug!("nft sets already hold exactly the config's elements");
            return Some((guard, commits));
        }
        let sent = backend.nft_edit_elements(&edit);
        clock.mark("element batch");
        if let Err(e) = sent {
            tracing::warn!("nft set elements over netlink failed, refilling with nft: {e}");
            return None;
        }
        let (deleted, added) = edit.counts();
        let flushed = edit.sets.iter().any(|s| s.flush);
        tracing::debug!(
            "nft sets {}: {deleted} deleted, {added} added in one transaction",
            if flushed {
                "flushed and refilled"
            } else {
                "updated"
            },
        );
        Some((guard, commits))
    }
}
