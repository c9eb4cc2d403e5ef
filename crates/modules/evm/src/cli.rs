//! The evm module's `machina tx evm` and `machina query evm` subcommands.

use crate::action::EvmAction;
use crate::routes::CodeView;
use anyhow::Context;
use clap::Subcommand;
use machina_module_cli::{attr_text, event_attr, QueryHost, TxHost};
use machina_primitives::Amount;
use serde_json::json;

/// `machina tx evm ...`.
#[derive(Subcommand)]
pub enum EvmTx {
    /// Contracts: deploy and call them from a native account (a machine's wallet too).
    #[command(subcommand)]
    Evm(EvmTxCmd),
}

/// The evm transactions.
#[derive(Subcommand)]
pub enum EvmTxCmd {
    /// Deploy a contract: its creation code with the constructor's arguments appended.
    Deploy {
        /// Key name of the signer.
        #[arg(long)]
        from: String,
        /// Creation code as 0x-hex, or @FILE holding it (solc's `bytecode`).
        #[arg(long)]
        code: String,
        /// Micro-units sent to the constructor.
        #[arg(long, default_value = "0")]
        value: Amount,
        /// Most gas it may use; the fee buys it at one micro-unit per gas.
        #[arg(long, default_value_t = 3_000_000)]
        gas_limit: u64,
    },
    /// Call a contract with ABI-encoded data (`cast calldata` makes it).
    Call {
        /// Key name of the signer.
        #[arg(long)]
        from: String,
        /// The contract's address.
        #[arg(long)]
        to: String,
        /// Call data as 0x-hex.
        #[arg(long, default_value = "0x")]
        data: String,
        /// Micro-units sent with the call.
        #[arg(long, default_value = "0")]
        value: Amount,
        /// Most gas it may use; the fee buys it at one micro-unit per gas.
        #[arg(long, default_value_t = 500_000)]
        gas_limit: u64,
        /// Call from this machine's account, signed by its device key or a session key.
        #[arg(long)]
        machine: Option<u64>,
    },
}

/// `machina query evm ...`.
#[derive(Subcommand)]
pub enum EvmQuery {
    /// Contracts: their code.
    #[command(subcommand)]
    Evm(EvmQueryCmd),
}

/// The evm queries.
#[derive(Subcommand)]
pub enum EvmQueryCmd {
    /// A contract's code and its hash.
    Code {
        /// Address.
        address: String,
    },
}

fn hex_arg(s: &str, what: &str) -> anyhow::Result<Vec<u8>> {
    let text = match s.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
        None => s.to_owned(),
    };
    let t = text.trim();
    hex::decode(t.strip_prefix("0x").unwrap_or(t)).with_context(|| format!("{what} is not hex"))
}

/// Runs an evm `tx` subcommand.
pub fn run_tx(host: &impl TxHost<EvmAction>, cmd: EvmTx) -> anyhow::Result<()> {
    let EvmTx::Evm(cmd) = cmd;
    match cmd {
        EvmTxCmd::Deploy {
            from,
            code,
            value,
            gas_limit,
        } => {
            let code = hex_arg(&code, "--code")?;
            let (_, rec) = host.send_from(
                &from,
                vec![EvmAction::Deploy {
                    code,
                    value,
                    gas_limit,
                }],
            )?;
            let created = attr_text(event_attr(&rec, "executed", "created")).unwrap_or_default();
            let out = json!({"address": created, "tx_hash": rec["tx_hash"]});
            host.print(&out, &|| {
                format!(
                    "contract {created}\n  tx {}",
                    rec["tx_hash"].as_str().unwrap_or("")
                )
            });
        }
        EvmTxCmd::Call {
            from,
            to,
            data,
            value,
            gas_limit,
            machine,
        } => {
            let to = host.address_of(&to)?;
            let data = hex_arg(&data, "--data")?;
            let key = host.key(&from)?;
            let sender = match machine {
                Some(id) => host.machine_address(id)?,
                None => host.sender_address(&key)?,
            };
            let rec = host.send(
                &key,
                sender,
                vec![EvmAction::Call {
                    to,
                    value,
                    data,
                    gas_limit,
                }],
            )?;
            host.print_receipt(&rec);
        }
    }
    Ok(())
}

/// Runs an evm `query` subcommand.
pub fn run_query(host: &impl QueryHost, cmd: EvmQuery) -> anyhow::Result<()> {
    let EvmQuery::Evm(EvmQueryCmd::Code { address }) = cmd;
    let addr = host.address_of(&address)?;
    let (c, v): (CodeView, _) = host.get_as(&format!("/v1/evm/code/{addr}"))?;
    host.print(&v, &|| {
        format!("{}  {} bytes  code hash {}", c.address, c.size, c.code_hash)
    });
    Ok(())
}
