//! Offers: published by a compute machine's owner, kept in their GPU model's price book.

use crate::action::OfferTerms;
use crate::records::{self, keys, Offer};
use crate::{ComputeError, Result, MAX_OFFERS_PER_CLASS};
use machina_primitives::limits::MAX_LABEL_BYTES;
use machina_primitives::{Address, Event, Hash};
use machina_state::{StateRead, StateWrite};

fn check_terms(t: &OfferTerms) -> Result<()> {
    let bad = |s: &str| Err(ComputeError::InvalidOffer(s.to_owned()));
    if t.capacity == 0 {
        return bad("capacity is at least 1 slot");
    }
    if t.price_per_block.0 == 0 {
        return bad("price_per_block is at least 1 micro");
    }
    if t.max_lease_blocks == 0 {
        return bad("max_lease_blocks is at least 1");
    }
    if t.region.len() > MAX_LABEL_BYTES || t.resources.gpu_model.len() > MAX_LABEL_BYTES {
        return bad("labels have at most 64 bytes");
    }
    if t.resources.gpu_model.is_empty() {
        return bad("name the GPU model (`cpu` for CPU only)");
    }
    Ok(())
}

/// The machine if `sender` owns it, it is active and of kind compute.
fn compute_machine(state: &impl StateRead, sender: &Address, machine_id: u64) -> Result<()> {
    let m = machina_identity::owned_active(state, sender, machine_id)?;
    if m.kind != machina_identity::MachineKind::Compute {
        return Err(ComputeError::InvalidOffer(format!(
            "machine {machine_id} is a {} machine; offers are of compute machines",
            m.kind.name()
        )));
    }
    Ok(())
}

/// Lists `o` in its model's book if it has a free slot and is not withdrawn. The book holds
/// only offers a job can take, so a scan never walks past full ones; its size is bounded by
/// the model's offers, which creation bounds.
pub(crate) fn book_insert(state: &mut impl StateWrite, o: &Offer) {
    if o.withdrawn || o.leased >= o.terms.capacity {
        return;
    }
    let model = &o.terms.resources.gpu_model;
    let mut b = records::book(state, model);
    let entry = (o.terms.price_per_block, o.offer_id);
    let at = b.partition_point(|e| *e < entry);
    if b.get(at) != Some(&entry) {
        b.insert(at, entry);
    }
    records::put_book(state, model, b);
}

/// Counts the model's offers that are not withdrawn: at most [`MAX_OFFERS_PER_CLASS`].
fn count_offer(state: &mut impl StateWrite, model: &str, delta: i64) -> Result<()> {
    let key = keys::class_count(model);
    let n = records::read::<u64>(state, &key).unwrap_or(0);
    let next = n.checked_add_signed(delta).expect("counted offers exist");
    if delta > 0 && next > MAX_OFFERS_PER_CLASS as u64 {
        return Err(ComputeError::BookFull(model.to_owned()));
    }
    records::put(state, key, &next);
    Ok(())
}

pub(crate) fn book_remove(state: &mut impl StateWrite, o: &Offer) {
    let model = &o.terms.resources.gpu_model;
    let mut b = records::book(state, model);
    b.retain(|e| e.1 != o.offer_id);
    records::put_book(state, model, b);
}

fn event(kind: &str, o: &Offer) -> Event {
    Event::new(
        "compute",
        kind,
        &[
            ("offer_id", o.offer_id.into()),
            ("machine_id", o.machine_id.into()),
            ("price_per_block", o.terms.price_per_block.into()),
            ("capacity", u64::from(o.terms.capacity).into()),
        ],
    )
}

fn audit_event(kind: &str, o: &Offer, auditor: &Address) -> Event {
    let mut e = event(kind, o);
    e.attrs.insert("auditor".into(), auditor.into());
    e
}

/// Publishes an offer of `machine_id`'s slots.
pub fn create_offer(
    state: &mut impl StateWrite,
    sender: &Address,
    machine_id: u64,
    terms: &OfferTerms,
) -> Result<Event> {
    check_terms(terms)?;
    compute_machine(state, sender, machine_id)?;
    let bonded = machina_staking::total(state, &machina_staking::Subject::Provider { machine_id });
    let min = machina_staking::StakingParams::load(state).min_provider_bond;
    if bonded < min {
        return Err(ComputeError::NoProviderBond {
            machine_id,
            bonded,
            min,
        });
    }
    let offer_id = records::next_id(state, keys::next_offer());
    let o = Offer {
        offer_id,
        machine_id,
        terms: terms.clone(),
        leased: 0,
        withdrawn: false,
        attestation: None,
    };
    count_offer(state, &o.terms.resources.gpu_model, 1)?;
    book_insert(state, &o);
    records::put(state, keys::offer(offer_id), &o);
    Ok(event("offer_created", &o))
}

fn owned_offer(state: &impl StateRead, sender: &Address, offer_id: u64) -> Result<Offer> {
    let o = records::offer(state, offer_id).ok_or(ComputeError::UnknownOffer(offer_id))?;
    let m = machina_identity::machine(state, o.machine_id)
        .ok_or(ComputeError::UnknownOffer(offer_id))?;
    if m.owner != *sender {
        return Err(ComputeError::NotYours(*sender));
    }
    if o.withdrawn {
        return Err(ComputeError::OfferWithdrawn(offer_id));
    }
    Ok(o)
}

/// New terms for an offer; its leased slots stay leased at their old price.
pub fn update_offer(
    state: &mut impl StateWrite,
    sender: &Address,
    offer_id: u64,
    terms: &OfferTerms,
) -> Result<Vec<Event>> {
    check_terms(terms)?;
    let mut o = owned_offer(state, sender, offer_id)?;
    if terms.resources.gpu_model != o.terms.resources.gpu_model {
        return Err(ComputeError::InvalidOffer(
            "the GPU model of an offer is fixed: withdraw it and offer again".into(),
        ));
    }
    if terms.capacity < o.leased {
        return Err(ComputeError::CapacityInUse { leased: o.leased });
    }
    book_remove(state, &o);
    // An auditor vouched for hardware and region, not for price or capacity.
    let dropped = o.attestation.is_some()
        && crate::offer_attributes(terms) != crate::offer_attributes(&o.terms);
    if dropped {
        o.attestation = None;
    }
    o.terms = terms.clone();
    book_insert(state, &o);
    records::put(state, keys::offer(offer_id), &o);
    let mut events = vec![event("offer_updated", &o)];
    if dropped {
        events.push(event("attestation_dropped", &o));
    }
    Ok(events)
}

/// Withdraws an offer: no new leases; running ones run to their end.
pub fn withdraw_offer(
    state: &mut impl StateWrite,
    sender: &Address,
    offer_id: u64,
) -> Result<Event> {
    let mut o = owned_offer(state, sender, offer_id)?;
    book_remove(state, &o);
    count_offer(state, &o.terms.resources.gpu_model, -1)?;
    o.withdrawn = true;
    records::put(state, keys::offer(offer_id), &o);
    Ok(event("offer_withdrawn", &o))
}

fn auditor(state: &impl StateRead, sender: &Address) -> Result<()> {
    if crate::ComputeParams::load(state).auditors.contains(sender) {
        Ok(())
    } else {
        Err(ComputeError::NotAuditor(*sender))
    }
}

/// A registered auditor attests `offer_id`'s attributes, which must still be `attributes`.
pub fn attest(
    state: &mut impl StateWrite,
    sender: &Address,
    offer_id: u64,
    attributes: &Hash,
    height: u64,
) -> Result<Event> {
    auditor(state, sender)?;
    let mut o = records::offer(state, offer_id).ok_or(ComputeError::UnknownOffer(offer_id))?;
    if o.withdrawn {
        return Err(ComputeError::OfferWithdrawn(offer_id));
    }
    if crate::offer_attributes(&o.terms) != *attributes {
        return Err(ComputeError::AttributesChanged(offer_id));
    }
    o.attestation = Some(records::Attestation {
        auditor: *sender,
        attributes: *attributes,
        height,
    });
    records::put(state, keys::offer(offer_id), &o);
    Ok(audit_event("offer_attested", &o, sender))
}

/// A registered auditor withdraws `offer_id`'s attestation (any auditor may: one that finds
/// the hardware gone need not wait for the one that attested it).
pub fn revoke_attestation(
    state: &mut impl StateWrite,
    sender: &Address,
    offer_id: u64,
) -> Result<Event> {
    auditor(state, sender)?;
    let mut o = records::offer(state, offer_id).ok_or(ComputeError::UnknownOffer(offer_id))?;
    if o.attestation.take().is_none() {
        return Err(ComputeError::NotAttested(offer_id));
    }
    records::put(state, keys::offer(offer_id), &o);
    Ok(audit_event("attestation_revoked", &o, sender))
}
