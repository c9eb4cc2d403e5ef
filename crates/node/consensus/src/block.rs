//! The block consensus orders: a Machina block wrapped with the consensus context it was
//! proposed in.

use bytes::BufMut;
use commonware_codec::Buf;
use commonware_codec::{EncodeSize, Error as CodecError, FixedSize, Read, ReadExt, Write};
use commonware_consensus::simplex::types::Context;
use commonware_consensus::types::{Epoch, Height, Round, View};
use commonware_consensus::{Block as BlockTrait, BoundedBlock, CertifiableBlock, Heightable};
use commonware_cryptography::{Digest as _, Digestible, ed25519, sha256};
use machina_primitives::hash::merkle_root;
use machina_primitives::{BlockHeader, Decode, Encode, Hash, sha256 as machina_sha256};
use machina_stf::Block;
use std::sync::Arc;

/// The consensus context of a Machina block: round, leader and parent.
pub type BlockContext = Context<sha256::Digest, ed25519::PublicKey>;

/// Largest block consensus carries, encoded. Whole blocks are broadcast to every validator,
/// and this bound also sizes the p2p layer's largest message, so it sits well below the
/// 32 MiB a dev-chain block may reach.
pub const MAX_CONSENSUS_BLOCK_BYTES: usize = 8 * 1024 * 1024;
/// Most transactions in a block built under consensus.
pub const MAX_CONSENSUS_BLOCK_TXS: usize = 20_000;
/// Room kept for the header and framing when filling a block.
const HEADER_ALLOWANCE: usize = 4096;

/// What a decoder of blocks from peers or storage accepts at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockLimits {
    /// Bytes of the encoded Machina block.
    pub max_block_bytes: usize,
    /// Transactions in the block.
    pub max_txs: usize,
}

impl Default for BlockLimits {
    fn default() -> Self {
        BlockLimits {
            max_block_bytes: MAX_CONSENSUS_BLOCK_BYTES,
            max_txs: MAX_CONSENSUS_BLOCK_TXS,
        }
    }
}

impl BlockLimits {
    /// Bytes of transactions a proposer may put in a block.
    pub fn tx_bytes(&self) -> usize {
        self.max_block_bytes - HEADER_ALLOWANCE
    }
}

/// A Machina block in consensus: the context it was proposed in, the digest of its parent
/// consensus block, and the block itself. Its digest commits to all three, down to the exact
/// bytes of every transaction and signature: a transaction's id leaves its signatures out,
/// so the header alone would let a peer swap them without changing the digest.
#[derive(Clone, Debug)]
pub struct ConsensusBlock {
    /// Round, leader and parent the block was proposed for.
    pub context: BlockContext,
    /// Digest of the parent consensus block.
    pub parent: sha256::Digest,
    /// The Machina block.
    pub block: Arc<Block>,
    /// Its canonical encoding, kept so that it is encoded once.
    bytes: Arc<[u8]>,
    digest: sha256::Digest,
}

impl PartialEq for ConsensusBlock {
    fn eq(&self, other: &Self) -> bool {
        self.digest == other.digest
    }
}

impl Eq for ConsensusBlock {}

impl ConsensusBlock {
    /// Wraps `block`, computing the digest.
    pub fn new(context: BlockContext, parent: sha256::Digest, block: Block) -> Self {
        let bytes: Arc<[u8]> = Encode::encode(&block).into();
        Self::with_bytes(context, parent, Arc::new(block), bytes)
    }

    fn with_bytes(
        context: BlockContext,
        parent: sha256::Digest,
        block: Arc<Block>,
        bytes: Arc<[u8]>,
    ) -> Self {
        use commonware_codec::Encode as _;
        let h: Hash = machina_sha256(&[
            b"machina/consensus-block/v1",
            &context.encode(),
            parent.as_ref(),
            machina_sha256(&[&bytes]).as_bytes(),
        ]);
        ConsensusBlock {
            context,
            parent,
            block,
            bytes,
            digest: sha256::Digest::from(h.0),
        }
    }

    /// The block every validator starts from: the genesis header, no transactions, and a
    /// fixed context, so that all derive the same digest from the same genesis.
    pub fn genesis(header: BlockHeader) -> Self {
        let context = Context {
            round: Round::new(Epoch::zero(), View::zero()),
            leader: genesis_leader(),
            parent: (View::zero(), sha256::Digest::EMPTY),
        };
        ConsensusBlock::new(
            context,
            sha256::Digest::EMPTY,
            Block {
                header,
                txs: Vec::new(),
            },
        )
    }

    /// The Machina header.
    pub fn header(&self) -> &BlockHeader {
        &self.block.header
    }
}

/// The leader named in the genesis block's context: a key derived from a fixed label, which
/// never signs anything.
fn genesis_leader() -> ed25519::PublicKey {
    use commonware_cryptography::Signer as _;
    ed25519::PrivateKey::from_seed(0).public_key()
}

impl Write for ConsensusBlock {
    fn write(&self, buf: &mut impl BufMut) {
        self.context.write(buf);
        self.parent.write(buf);
        let len = u32::try_from(self.bytes.len()).expect("block sizes are bounded far below 4 GiB");
        buf.put_u32(len);
        buf.put_slice(&self.bytes);
    }
}

impl EncodeSize for ConsensusBlock {
    fn encode_size(&self) -> usize {
        self.context.encode_size() + self.parent.encode_size() + 4 + self.bytes.len()
    }
}

impl Read for ConsensusBlock {
    type Cfg = BlockLimits;

    fn read_cfg(buf: &mut impl Buf, limits: &BlockLimits) -> Result<Self, CodecError> {
        let context = BlockContext::read(buf)?;
        let parent = sha256::Digest::read(buf)?;
        let len = u32::read(buf)? as usize;
        // Checked before copying: copying more than remains would panic.
        if len > limits.max_block_bytes {
            return Err(CodecError::Invalid(
                "ConsensusBlock",
                "block above the size limit",
            ));
        }
        if bytes::Buf::remaining(buf) < len {
            return Err(CodecError::EndOfBuffer);
        }
        let bytes = bytes::Buf::copy_to_bytes(buf, len);
        let block = Block::decode_exact(&bytes, limits.max_block_bytes)
            .map_err(|_| CodecError::Invalid("ConsensusBlock", "malformed Machina block"))?;
        if block.txs.len() > limits.max_txs {
            return Err(CodecError::Invalid(
                "ConsensusBlock",
                "too many transactions",
            ));
        }
        // The header must commit to these transactions: a block's transactions are then
        // fixed by its (finalized) header as well as by its digest.
        let ids: Vec<Hash> = block.txs.iter().map(|t| t.hash()).collect();
        if merkle_root(&ids) != block.header.tx_root {
            return Err(CodecError::Invalid(
                "ConsensusBlock",
                "transactions do not match tx_root",
            ));
        }
        Ok(ConsensusBlock::with_bytes(
            context,
            parent,
            Arc::new(block),
            bytes.as_ref().into(),
        ))
    }
}

impl Digestible for ConsensusBlock {
    type Digest = sha256::Digest;

    fn digest(&self) -> sha256::Digest {
        self.digest
    }
}

impl Heightable for ConsensusBlock {
    fn height(&self) -> Height {
        Height::new(self.block.header.height)
    }
}

impl BlockTrait for ConsensusBlock {
    fn parent(&self) -> sha256::Digest {
        self.parent
    }
}

impl CertifiableBlock for ConsensusBlock {
    type Context = BlockContext;

    fn context(&self) -> BlockContext {
        self.context.clone()
    }
}

impl BoundedBlock for ConsensusBlock {
    fn max_encode_size(limits: &BlockLimits) -> usize {
        use commonware_codec::MaxEncodeSize as _;
        BlockContext::MAX_ENCODE_SIZE + sha256::Digest::SIZE + 4 + limits.max_block_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Decode as _, Encode as _};
    use machina_primitives::{Address, Keypair};
    use machina_stf::{Transaction, TxBody};

    fn header(tx_root: Hash) -> BlockHeader {
        BlockHeader {
            chain_id: 7,
            height: 1,
            parent_hash: Hash::ZERO,
            timestamp_ms: 5,
            proposer: Address::default(),
            tx_root,
            receipts_root: Hash::ZERO,
            state_root: Hash::ZERO,
        }
    }

    fn tx(nonce: u64) -> Transaction {
        let k = Keypair::dev("alice");
        TxBody {
            chain_id: 7,
            sender: k.address(),
            nonce,
            fee: machina_primitives::Amount(1),
            expiry_height: 10,
            fee_payer: None,
            actions: vec![],
        }
        .sign(&[&k])
    }

    fn block_with(txs: Vec<Transaction>) -> ConsensusBlock {
        let ids: Vec<Hash> = txs.iter().map(|t| t.hash()).collect();
        let genesis = ConsensusBlock::genesis(header(Hash::ZERO));
        let context = Context {
            round: Round::new(Epoch::zero(), View::new(1)),
            leader: genesis_leader(),
            parent: (View::zero(), genesis.digest()),
        };
        ConsensusBlock::new(
            context,
            genesis.digest(),
            Block {
                header: header(merkle_root(&ids)),
                txs,
            },
        )
    }

    #[test]
    fn round_trips_and_keeps_its_digest() {
        let b = block_with(vec![tx(0), tx(1)]);
        let bytes = b.encode();
        assert_eq!(bytes.len(), b.encode_size());
        let d = ConsensusBlock::decode_cfg(bytes, &BlockLimits::default()).expect("decodes");
        assert_eq!(d.digest(), b.digest());
        assert_eq!(d.block, b.block);
    }

    #[test]
    fn other_signatures_change_the_digest() {
        let b = block_with(vec![tx(0)]);
        let mut swapped = (*b.block).clone();
        swapped.txs[0].signatures[0].signature.0[0] ^= 1;
        assert_eq!(
            swapped.txs[0].hash(),
            b.block.txs[0].hash(),
            "ids leave signatures out"
        );
        let c = ConsensusBlock::new(b.context.clone(), b.parent, swapped);
        assert_ne!(c.digest(), b.digest());
        let decoded =
            ConsensusBlock::decode_cfg(c.encode(), &BlockLimits::default()).expect("decodes");
        assert_eq!(decoded.digest(), c.digest());
    }

    #[test]
    fn more_transactions_than_the_limit_are_refused() {
        let b = block_with(vec![tx(0), tx(1), tx(2)]);
        let limits = BlockLimits {
            max_txs: 2,
            ..BlockLimits::default()
        };
        assert!(ConsensusBlock::decode_cfg(b.encode(), &limits).is_err());
    }

    #[test]
    fn transactions_other_than_the_headers_are_refused() {
        let b = block_with(vec![tx(0)]);
        let mut other = (*b.block).clone();
        other.txs = vec![tx(1)];
        let bytes = ConsensusBlock::new(b.context.clone(), b.parent, other).encode();
        assert!(ConsensusBlock::decode_cfg(bytes, &BlockLimits::default()).is_err());
    }

    #[test]
    fn oversized_and_truncated_blocks_are_refused_without_panicking() {
        let b = block_with(vec![tx(0)]);
        let bytes = b.encode();
        let small = BlockLimits {
            max_block_bytes: 100,
            ..BlockLimits::default()
        };
        assert!(ConsensusBlock::decode_cfg(bytes.clone(), &small).is_err());
        for cut in 0..bytes.len() {
            assert!(
                ConsensusBlock::decode_cfg(bytes[..cut].to_vec(), &BlockLimits::default()).is_err()
            );
        }
    }

    #[test]
    fn the_digest_commits_to_context_parent_and_header() {
        let b = block_with(vec![]);
        let mut other = b.context.clone();
        other.round = Round::new(Epoch::zero(), View::new(2));
        assert_ne!(
            ConsensusBlock::new(other, b.parent, (*b.block).clone()).digest(),
            b.digest()
        );
        assert_ne!(
            ConsensusBlock::new(b.context.clone(), sha256::Digest::EMPTY, (*b.block).clone())
                .digest(),
            b.digest()
        );
    }
}
