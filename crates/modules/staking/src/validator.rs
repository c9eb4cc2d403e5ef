//! Validators: the set and its stake written at genesis, and evidence that one of them signed
//! two conflicting consensus votes.
//!
//! The evidence is what Commonware simplex reports when a validator receives both votes: a
//! `ConflictingNotarize`, `ConflictingFinalize` or `NullifyFinalize` with the two signed
//! messages. The chain decodes it in simplex's own encoding, checks both ed25519 signatures
//! against the genesis validator set under the chain's consensus namespace, and slashes the
//! signer. The same offence (signer, epoch, view) is punished once, whichever pair proves it.

use crate::stake::genesis_bond;
use crate::{
    evidence_id, prover_and_pool, EvidenceKind, GenesisValidator, Result, Slash, StakingError,
    Subject,
};
use commonware_codec::{DecodeExt, Encode as _};
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::types::{
    Attributable, ConflictingFinalize, ConflictingNotarize, NullifyFinalize,
};
use commonware_consensus::{Epochable, Viewable};
use commonware_cryptography::{ed25519, sha256::Digest};
use commonware_utils::ordered::Set;
use machina_module::ActionCtx;
use machina_primitives::{Decode, Encode, Event, PublicKey};
use machina_state::{StateRead, StateWrite};

/// Most validators a genesis may list.
pub const MAX_VALIDATORS: usize = 128;

#[derive(Encode, Decode)]
struct ValidatorSet(#[codec(max = MAX_VALIDATORS, what = "validator set")] Vec<PublicKey>);

/// The consensus namespace of a chain: what every simplex signature of it is bound to.
pub fn consensus_namespace(chain_id: u64) -> Vec<u8> {
    format!("machina/consensus/v1/{chain_id}").into_bytes()
}

/// The validator set written at genesis, in key order (empty on a dev chain).
pub fn validator_set(state: &impl StateRead) -> Vec<PublicKey> {
    state
        .get(&crate::keys::validators())
        .map_or_else(Vec::new, |b| {
            ValidatorSet::decode_exact(&b, 64 * MAX_VALIDATORS)
                .expect("staking wrote the set")
                .0
        })
}

/// Writes the validator set and bonds each validator's stake from its own genesis balance.
pub(crate) fn init_genesis(state: &mut impl StateWrite, vs: &[GenesisValidator]) -> Result<()> {
    if vs.is_empty() {
        return Ok(());
    }
    if vs.len() > MAX_VALIDATORS {
        return Err(StakingError::InvalidGenesis(format!(
            "{} validators; at most {MAX_VALIDATORS}",
            vs.len()
        )));
    }
    let mut keys: Vec<PublicKey> = vs.iter().map(|v| v.key).collect();
    keys.sort();
    keys.dedup();
    if keys.len() != vs.len() {
        return Err(StakingError::InvalidGenesis(
            "a validator key repeats".into(),
        ));
    }
    for v in vs {
        if ed25519::PublicKey::decode(v.key.0.to_vec()).is_err() {
            return Err(StakingError::InvalidGenesis(format!(
                "validator key {} is not an ed25519 point",
                v.key
            )));
        }
        genesis_bond(
            state,
            &Subject::Validator { key: v.key },
            &v.key.address(),
            v.amount,
        )?;
    }
    state.set(crate::keys::validators(), ValidatorSet(keys).encode());
    Ok(())
}

/// Decoded validator-equivocation evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Equivocation {
    /// Two notarize votes for different proposals in one view.
    Notarize(ConflictingNotarize<Scheme, Digest>),
    /// Two finalize votes for different proposals in one view.
    Finalize(ConflictingFinalize<Scheme, Digest>),
    /// A nullify and a finalize vote in one view.
    NullifyFinalize(NullifyFinalize<Scheme, Digest>),
}

impl Equivocation {
    /// Decodes evidence: a kind byte (0 notarize, 1 finalize, 2 nullify-finalize), then the
    /// simplex encoding. Never panics on untrusted bytes.
    pub fn decode(bytes: &[u8]) -> Result<Equivocation> {
        let bad = |e: commonware_codec::Error| {
            StakingError::InvalidEvidence(format!("the evidence does not decode: {e}"))
        };
        let Some((kind, rest)) = bytes.split_first() else {
            return Err(StakingError::InvalidEvidence(
                "the evidence is empty".into(),
            ));
        };
        Ok(match kind {
            0 => Equivocation::Notarize(ConflictingNotarize::decode(rest.to_vec()).map_err(bad)?),
            1 => Equivocation::Finalize(ConflictingFinalize::decode(rest.to_vec()).map_err(bad)?),
            2 => {
                Equivocation::NullifyFinalize(NullifyFinalize::decode(rest.to_vec()).map_err(bad)?)
            }
            k => {
                return Err(StakingError::InvalidEvidence(format!(
                    "evidence kind {k}: 0 (conflicting notarize), 1 (conflicting finalize) or 2 \
                     (nullify and finalize)"
                )))
            }
        })
    }

    /// The encoding [`Equivocation::decode`] reads.
    pub fn encode(&self) -> Vec<u8> {
        let (kind, body) = match self {
            Equivocation::Notarize(e) => (0u8, e.encode()),
            Equivocation::Finalize(e) => (1, e.encode()),
            Equivocation::NullifyFinalize(e) => (2, e.encode()),
        };
        [&[kind][..], &body].concat()
    }

    /// The signer's index in the validator set.
    fn signer(&self) -> commonware_utils::Participant {
        match self {
            Equivocation::Notarize(e) => e.signer(),
            Equivocation::Finalize(e) => e.signer(),
            Equivocation::NullifyFinalize(e) => e.signer(),
        }
    }

    /// The epoch and view of the two votes.
    fn round(&self) -> (u64, u64) {
        let (epoch, view) = match self {
            Equivocation::Notarize(e) => (e.epoch(), e.view()),
            Equivocation::Finalize(e) => (e.epoch(), e.view()),
            Equivocation::NullifyFinalize(e) => (e.epoch(), e.view()),
        };
        (epoch.get(), view.get())
    }

    fn verify(&self, scheme: &Scheme) -> bool {
        // Single ed25519 attestations are checked one by one and draw nothing from the rng;
        // a fixed seed keeps the state transition free of randomness all the same.
        let mut rng =
            <rand_chacha_010::ChaCha20Rng as rand_chacha_010::rand_core::SeedableRng>::from_seed(
                [0; 32],
            );
        let s = &commonware_parallel::Sequential;
        match self {
            Equivocation::Notarize(e) => e.verify(&mut rng, scheme, s),
            Equivocation::Finalize(e) => e.verify(&mut rng, scheme, s),
            Equivocation::NullifyFinalize(e) => e.verify(&mut rng, scheme, s),
        }
    }
}

/// The Machina form of a consensus key (the same 32 bytes).
fn machina_key(k: &ed25519::PublicKey) -> PublicKey {
    PublicKey(
        k.encode()[..]
            .try_into()
            .expect("an ed25519 key has 32 bytes"),
    )
}

/// What verified equivocation evidence proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offence {
    /// The validator that signed both votes.
    pub offender: PublicKey,
    /// The epoch of the votes.
    pub epoch: u64,
    /// The view of the votes.
    pub view: u64,
}

/// Decodes `evidence` and verifies both signatures against the genesis validator set under
/// chain `chain_id`'s consensus namespace: what it proves, or why it proves nothing. A
/// validator runs this before it spends a fee on the evidence; the chain runs it again.
pub fn check_equivocation(
    state: &impl StateRead,
    chain_id: u64,
    evidence: &[u8],
) -> Result<Offence> {
    let e = Equivocation::decode(evidence)?;
    let set = validator_set(state);
    if set.is_empty() {
        return Err(StakingError::InvalidEvidence(
            "this chain has no validator set (a dev chain): there is no consensus to equivocate in"
                .into(),
        ));
    }
    let participants = Set::from_iter_dedup(
        set.iter()
            .map(|k| ed25519::PublicKey::decode(k.0.to_vec()).expect("genesis checked every key")),
    );
    let signer = usize::from(e.signer());
    let Some(offender) = participants.get(signer).map(machina_key) else {
        return Err(StakingError::InvalidEvidence(format!(
            "signer {signer} is not in the validator set of {} validators",
            set.len()
        )));
    };
    let scheme = Scheme::verifier(&consensus_namespace(chain_id), participants);
    if !e.verify(&scheme) {
        return Err(StakingError::InvalidEvidence(
            "a vote's signature does not verify against the validator set".into(),
        ));
    }
    let (epoch, view) = e.round();
    Ok(Offence {
        offender,
        epoch,
        view,
    })
}

/// Verifies validator-equivocation evidence and slashes the signer; the sender is the prover.
pub(crate) fn prove(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    evidence: &[u8],
) -> Result<Event> {
    let Offence {
        offender,
        epoch,
        view,
    } = check_equivocation(state, ctx.env.chain_id, evidence)?;
    let id = evidence_id(
        EvidenceKind::ValidatorEquivocation,
        &[&offender.0, &epoch.to_be_bytes(), &view.to_be_bytes()],
    );
    let subject = Subject::Validator { key: offender };
    // One incident, one slash: votes a validator double-signed before its first slash landed
    // (often several views in the same block) are not slashed again while it is jailed.
    if let Some(at) = crate::evidence_used(state, &id) {
        return Err(StakingError::EvidenceUsed(at));
    }
    let until = crate::stake(state, &subject).jailed_until;
    if until > ctx.height() {
        return Err(StakingError::AlreadyJailed {
            subject: subject.id(),
            until,
        });
    }
    let payees = prover_and_pool(state, &ctx.sender);
    let bps = crate::StakingParams::load(state).validator_equivocation_bps;
    let (_, mut event) = crate::slash(
        state,
        ctx.height(),
        &Slash {
            subject: &subject,
            kind: EvidenceKind::ValidatorEquivocation,
            evidence: id,
            bps,
            payees: &payees,
        },
    )?;
    event.attrs.insert("view".into(), view.into());
    Ok(event)
}
