//! The state an action runs on, with the chain's spend path through the wallet.

use machina_module::{ActionCtx, Host, SpendRefusal};
use machina_primitives::{Address, Amount, Event};
use machina_state::{StateRead, StateWrite};

/// A transaction's overlay as a module sees it: reads and writes go to the overlay, payments
/// go through the wallet, so a machine's policy applies whichever module moves its money.
pub(crate) struct TxHost<'a, S: StateWrite>(pub &'a mut S);

impl<S: StateWrite> StateRead for TxHost<'_, S> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.get(key)
    }
}

impl<S: StateWrite> StateWrite for TxHost<'_, S> {
    fn set(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.0.set(key, value);
    }

    fn delete(&mut self, key: Vec<u8>) {
        self.0.delete(key);
    }
}

impl<S: StateWrite> Host for TxHost<'_, S> {
    fn pay(
        &mut self,
        ctx: &ActionCtx,
        from: &Address,
        to: &Address,
        amount: Amount,
    ) -> Result<Event, SpendRefusal> {
        machina_wallet::pay(self.0, ctx, from, to, amount).map_err(SpendRefusal::from)
    }
}
