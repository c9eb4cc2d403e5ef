//! A dev chain's revert: the blocks above a height go, with everything that indexes them.

use crate::pending::{self, Pending};
use crate::{
    body, corrupt, head_of_write, history, read_header, stream, write_state, ChangeSet, Result,
    Store, TxPosition, ACCOUNT_TXS, BLOCK_EVENTS, BLOCK_HEIGHTS, BODIES, FLUSHED, HEAD, HEADERS,
    LOCATORS, MACHINE_TXS, META, STATE, TX_IDS,
};

impl Store {
    /// Takes the chain back to `height` (a dev chain's revert), in one transaction: every
    /// later block, its transactions, receipts, events and history entries go, `changes`
    /// (which turn the head's state into the state at `height`) are written, and the head
    /// moves back.
    pub fn revert_to(&self, height: u64, changes: &ChangeSet) -> Result<()> {
        // Readers wait: the tables and what waits change together.
        let mut p = self.waiting_mut();
        let w = self.db.begin_write()?;
        let head = head_of_write(&w)?.unwrap_or(0);
        // The tables first catch up with the head, then lose what is above `height`.
        p.write_to(&w)?;
        {
            let (mut headers, mut heights) = (w.open_table(HEADERS)?, w.open_table(BLOCK_HEIGHTS)?);
            let (mut bodies, mut locators) = (w.open_table(BODIES)?, w.open_table(LOCATORS)?);
            let mut events = w.open_table(BLOCK_EVENTS)?;
            let mut ids = w.open_table(TX_IDS)?;
            let (mut by_account, mut by_machine) =
                (w.open_table(ACCOUNT_TXS)?, w.open_table(MACHINE_TXS)?);
            for h in height + 1..=head {
                let header = read_header(&headers, h)?.ok_or_else(|| corrupt("header", h))?;
                headers.remove(h)?;
                heights.remove(header.hash().0.as_slice())?;
                events.remove(h)?;
                for (i, (hash, tx, receipt)) in body::all(&bodies, &locators, h)?.iter().enumerate()
                {
                    let at = TxPosition {
                        height: h,
                        index: u32::try_from(i).map_err(|_| corrupt("block", h))?,
                    };
                    ids.remove((pending::id_prefix(hash), h, at.index))?;
                    let (accounts, machines) = history::touched(tx, receipt);
                    for a in accounts {
                        by_account.remove(history::key(&a.0, at).as_slice())?;
                    }
                    for m in machines {
                        by_machine.remove(history::key(&m.to_be_bytes(), at).as_slice())?;
                    }
                }
            }
            if head > height {
                stream::remove(&mut bodies, height + 1..=head)?;
                stream::remove(&mut locators, height + 1..=head)?;
            }
            write_state(&mut w.open_table(STATE)?, changes)?;
            let mut meta = w.open_table(META)?;
            meta.insert(HEAD, height.to_be_bytes().as_slice())?;
            meta.insert(FLUSHED, height.to_be_bytes().as_slice())?;
        }
        w.commit()?;
        *p = Pending::new(height, self.limits);
        Ok(())
    }
}
