//! The bank's `machina tx` and `machina query` subcommands.

use crate::routes::AccountView;
use crate::BankAction;
use clap::Subcommand;
use machina_module_cli::{QueryHost, TxHost};
use machina_primitives::Amount;

/// `machina tx transfer`.
#[derive(Subcommand)]
pub enum BankTx {
    /// Transfer micro-units to an address.
    Transfer {
        /// Key name of the signer (the sender, or a machine's device or session key).
        #[arg(long)]
        from: String,
        /// Recipient: an address, or a key name.
        #[arg(long)]
        to: String,
        /// Micro-units to send (integer; 1 token = 1000000).
        #[arg(long)]
        amount: Amount,
        /// Spend from this machine's account, signed by its device key or a session key.
        #[arg(long)]
        machine: Option<u64>,
    },
}

/// `machina query account`.
#[derive(Subcommand)]
pub enum BankQuery {
    /// An account's balance and nonce.
    Account {
        /// Address or key name.
        address: String,
    },
}

/// Runs a bank `tx` subcommand.
pub fn run_tx(host: &impl TxHost<BankAction>, cmd: BankTx) -> anyhow::Result<()> {
    let BankTx::Transfer {
        from,
        to,
        amount,
        machine,
    } = cmd;
    let to = host.address_of(&to)?;
    let key = host.key(&from)?;
    let sender = match machine {
        Some(id) => host.machine_address(id)?,
        None => host.sender_address(&key)?,
    };
    let rec = host.send(&key, sender, vec![BankAction::Transfer { to, amount }])?;
    host.print_receipt(&rec);
    Ok(())
}

/// Runs a bank `query` subcommand.
pub fn run_query(host: &impl QueryHost, cmd: BankQuery) -> anyhow::Result<()> {
    let BankQuery::Account { address } = cmd;
    let addr = host.address_of(&address)?;
    let (a, v): (AccountView, _) = host.get_as(&format!("/v1/account/{addr}"))?;
    host.print(&v, &|| {
        format!(
            "{}  balance {} micro  nonce {}",
            a.address, a.balance, a.nonce
        )
    });
    Ok(())
}
