//! Blocks and the environment a block executes in.

use crate::codec::{put_vec, Decode, Encode, Reader, Result};
use crate::limits::MAX_BLOCK_TXS;
use crate::{sha256, Address, Hash, Transaction};
use serde::{Deserialize, Serialize};

/// What the producer (dev mode) or consensus fixes for a block before executing it. The state
/// transition function reads time, height and proposer only from here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockEnv {
    /// The chain's id.
    pub chain_id: u64,
    /// Height of the block being executed (genesis state is height 0).
    pub height: u64,
    /// Chain time in milliseconds since the Unix epoch, fixed by the producer.
    pub timestamp_ms: u64,
    /// The account that receives the block's fees.
    pub proposer: Address,
}

/// A block header. Its hash identifies the block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    /// The chain's id.
    pub chain_id: u64,
    /// Height, starting at 1 for the first block after genesis.
    pub height: u64,
    /// Hash of the previous header ([`Hash::ZERO`] for height 1's parent, the genesis).
    pub parent_hash: Hash,
    /// Chain time in milliseconds.
    pub timestamp_ms: u64,
    /// Who produced it and receives its fees.
    pub proposer: Address,
    /// Merkle root of the transaction ids.
    pub tx_root: Hash,
    /// Merkle root of the receipt hashes.
    pub receipts_root: Hash,
    /// State root after executing the block.
    pub state_root: Hash,
}

impl BlockHeader {
    /// The block's id: SHA-256 of a domain prefix and the canonical header.
    pub fn hash(&self) -> Hash {
        sha256(&[b"machina/block/v1", &self.encode()])
    }

    /// The execution environment this header fixes.
    pub fn env(&self) -> BlockEnv {
        BlockEnv {
            chain_id: self.chain_id,
            height: self.height,
            timestamp_ms: self.timestamp_ms,
            proposer: self.proposer,
        }
    }
}

impl Encode for BlockHeader {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.chain_id.encode_to(out);
        self.height.encode_to(out);
        self.parent_hash.encode_to(out);
        self.timestamp_ms.encode_to(out);
        self.proposer.encode_to(out);
        self.tx_root.encode_to(out);
        self.receipts_root.encode_to(out);
        self.state_root.encode_to(out);
    }
}

impl Decode for BlockHeader {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        Ok(BlockHeader {
            chain_id: r.u64()?,
            height: r.u64()?,
            parent_hash: Hash::decode_from(r)?,
            timestamp_ms: r.u64()?,
            proposer: Address::decode_from(r)?,
            tx_root: Hash::decode_from(r)?,
            receipts_root: Hash::decode_from(r)?,
            state_root: Hash::decode_from(r)?,
        })
    }
}

/// A block: a header and the transactions it orders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block<A> {
    /// The header.
    pub header: BlockHeader,
    /// Transactions in execution order.
    pub txs: Vec<Transaction<A>>,
}

impl<A: Encode> Encode for Block<A> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.header.encode_to(out);
        put_vec(out, &self.txs);
    }
}

impl<A: Decode> Decode for Block<A> {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Block {
            header: BlockHeader::decode_from(r)?,
            txs: r.vec("block transactions", MAX_BLOCK_TXS)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MAX_BLOCK_BYTES;

    #[test]
    fn blocks_round_trip_and_hash_changes_with_the_header() {
        let mut b: Block<u8> = Block {
            header: BlockHeader {
                chain_id: 1,
                height: 3,
                parent_hash: Hash::ZERO,
                timestamp_ms: 1000,
                proposer: Address::default(),
                tx_root: Hash::ZERO,
                receipts_root: Hash::ZERO,
                state_root: Hash::ZERO,
            },
            txs: vec![],
        };
        assert_eq!(
            Block::<u8>::decode_exact(&b.encode(), MAX_BLOCK_BYTES),
            Ok(b.clone())
        );
        let h = b.header.hash();
        b.header.height = 4;
        assert_ne!(h, b.header.hash());
    }
}
