//! The evm as a module: its actions' checks, their execution, and the events they leave.

use crate::action::EvmAction;
use crate::envelope::{decode_with_sender, hash_raw};
use crate::exec::{self, Call, Log, Status};
use crate::{abi, EvmError, Result, MAX_TX_GAS, MIN_TX_GAS};
use machina_module::{ActionCtx, Host, Module, ModuleError, StatelessCtx};
use machina_primitives::{Address, Amount, AttrValue, BlockEnv, Event, Hash};
use machina_state::{StateRead, StateWrite};
use serde::{Deserialize, Serialize};

/// Most logs one transaction may leave: each is an event of its receipt, which holds at most
/// `MAX_EVENTS_PER_RECEIPT`, and the fee and summary events need room too.
pub const MAX_LOGS_PER_TX: usize = 200;

/// Most data bytes of one log: its hex form is an event attribute, at most 4,096 characters.
pub const MAX_LOG_DATA_BYTES: usize = 2_047;

/// The evm module's genesis section: contracts present from the start.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvmGenesis {}

/// The evm module.
pub struct Evm;

impl ModuleError for EvmError {
    const CODES: &'static [&'static str] = &[
        "bad_ethereum_tx",
        "unsupported_tx_type",
        "no_chain_id",
        "bad_ethereum_signature",
        "sub_micro_value",
        "gas_price_too_low",
        "bad_gas_limit",
        "execution_reverted",
        "execution_halted",
        "invalid_evm_call",
        "no_code",
    ];

    fn code(&self) -> &'static str {
        EvmError::code(self)
    }

    fn is_policy_breach(&self) -> bool {
        matches!(self, EvmError::Refused(r) if r.policy_breach)
    }
}

impl EvmAction {
    /// The carried Ethereum transaction's hash, for an envelope.
    pub fn foreign_id(&self) -> Option<Hash> {
        match self {
            EvmAction::Ethereum { raw } => Some(hash_raw(raw)),
            _ => None,
        }
    }
}

impl Module for Evm {
    const NAME: &'static str = "evm";
    const ID: u8 = 8;
    type Action = EvmAction;
    type Error = EvmError;
    type Genesis = EvmGenesis;

    fn check_stateless(action: &EvmAction, _cx: &StatelessCtx) -> Result<()> {
        match action {
            // Decoded and recovered when the envelope is verified.
            EvmAction::Ethereum { .. } => Ok(()),
            EvmAction::Call { gas_limit, .. } | EvmAction::Deploy { gas_limit, .. } => {
                if !(MIN_TX_GAS..=MAX_TX_GAS).contains(gas_limit) {
                    return Err(EvmError::BadGasLimit {
                        got: *gas_limit,
                        min: MIN_TX_GAS,
                        max: MAX_TX_GAS,
                    });
                }
                Ok(())
            }
        }
    }

    fn gas_limit(action: &EvmAction) -> u64 {
        // An envelope's gas is its carried transaction's, which the stf knows once verified.
        action.gas_limit().unwrap_or(0)
    }

    fn fee_floor(action: &EvmAction) -> Amount {
        // A native call buys its whole gas limit at the base fee with its transaction's fee.
        action
            .gas_limit()
            .and_then(|g| crate::gas_fee(g, crate::BASE_FEE_WEI))
            .unwrap_or(Amount::ZERO)
    }

    fn execute(host: &mut impl Host, ctx: &ActionCtx, action: &EvmAction) -> Result<Vec<Event>> {
        let call = match action {
            EvmAction::Ethereum { raw } => {
                let eth = decode_with_sender(raw, ctx.sender)?;
                Call {
                    caller: ctx.sender,
                    to: eth.to,
                    value: eth.value,
                    data: eth.input,
                    gas_limit: eth.gas_limit,
                    nonce: ctx.tx_nonce,
                    access_list: eth.access_list,
                }
            }
            EvmAction::Call {
                to,
                value,
                data,
                gas_limit,
            } => {
                if crate::db::code_of(host, to).is_none() && !crate::precompiles::is_precompile(to)
                {
                    return Err(EvmError::NoCode(*to));
                }
                approve_value(host, ctx, to, *value)?;
                Call {
                    caller: ctx.sender,
                    to: Some(*to),
                    value: *value,
                    data: data.clone(),
                    gas_limit: *gas_limit,
                    nonce: ctx.tx_nonce,
                    access_list: Vec::new(),
                }
            }
            EvmAction::Deploy {
                code,
                value,
                gas_limit,
            } => {
                approve_value(
                    host,
                    ctx,
                    &create_address(&ctx.sender, ctx.tx_nonce),
                    *value,
                )?;
                Call {
                    caller: ctx.sender,
                    to: None,
                    value: *value,
                    data: code.clone(),
                    gas_limit: *gas_limit,
                    nonce: ctx.tx_nonce,
                    access_list: Vec::new(),
                }
            }
        };
        execute_call(host, ctx, &call)
    }
}

/// Where `CREATE` puts the contract `sender` deploys with `nonce`.
pub fn create_address(sender: &Address, nonce: u64) -> Address {
    crate::db::from_evm(&crate::db::to_evm(sender).create(nonce))
}

/// Value a native call sends passes the sender's wallet policy, as any payment does.
fn approve_value(host: &mut impl Host, ctx: &ActionCtx, to: &Address, value: Amount) -> Result<()> {
    if value == Amount::ZERO {
        return Ok(());
    }
    machina_wallet::approve_outflow(host, ctx, &ctx.sender, to, value).map_err(|e| {
        EvmError::Refused(machina_module::SpendRefusal {
            code: e.code(),
            message: e.to_string(),
            policy_breach: e.is_policy_breach(),
        })
    })
}

/// Runs a call and, when it succeeds, applies it; its events are the execution's summary,
/// its logs and the events of the module actions its precompiles ran.
pub(crate) fn execute_call(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    call: &Call,
) -> Result<Vec<Event>> {
    let (outcome, effects) = exec::run(&*state, ctx, call)?;
    let gas_used = outcome.gas_used;
    match outcome.status {
        Status::Success { created, .. } => {
            check_logs(&outcome.logs, gas_used)?;
            let effects = effects.expect("a successful execution has effects");
            exec::apply(state, &call.caller, effects).map_err(|e| match e {
                EvmError::Invalid(reason) | EvmError::SubMicroValue(reason) => {
                    EvmError::Halted { reason, gas_used }
                }
                other => other,
            })?;
            let mut attrs = vec![("gas_used", AttrValue::Int(gas_used))];
            if let Some(c) = created {
                attrs.push(("created", (&c).into()));
            }
            let mut events = vec![Event::new("evm", "executed", &attrs)];
            events.extend(outcome.logs.iter().map(log_event));
            events.extend(outcome.events);
            Ok(events)
        }
        Status::Revert { output } => Err(EvmError::Reverted {
            reason: abi::decode_error_string(&output).unwrap_or_else(|| {
                if output.is_empty() {
                    String::new()
                } else {
                    format!("0x{}", hex::encode(&output))
                }
            }),
            gas_used,
        }),
        Status::Halt { reason } => Err(EvmError::Halted { reason, gas_used }),
    }
}

fn check_logs(logs: &[Log], gas_used: u64) -> Result<()> {
    if logs.len() > MAX_LOGS_PER_TX {
        return Err(EvmError::Halted {
            reason: format!(
                "{} logs, a transaction may leave at most {MAX_LOGS_PER_TX}",
                logs.len()
            ),
            gas_used,
        });
    }
    if let Some(l) = logs.iter().find(|l| l.data.len() > MAX_LOG_DATA_BYTES) {
        return Err(EvmError::Halted {
            reason: format!(
                "a log of {} data bytes, at most {MAX_LOG_DATA_BYTES}",
                l.data.len()
            ),
            gas_used,
        });
    }
    Ok(())
}

/// A log as an event of the receipt: `address`, `topics` (comma-separated hex) and `data`.
fn log_event(l: &Log) -> Event {
    let topics: Vec<String> = l
        .topics
        .iter()
        .map(|t| format!("0x{}", hex::encode(t)))
        .collect();
    Event::new(
        "evm",
        "log",
        &[
            ("address", (&l.address).into()),
            ("topics", AttrValue::Text(topics.join(","))),
            (
                "data",
                AttrValue::Text(format!("0x{}", hex::encode(&l.data))),
            ),
        ],
    )
}

/// Runs `call` on `state` in a block with `env` and changes nothing: `eth_call` and
/// `eth_estimateGas`. The caller's nonce is its next one, as for a transaction.
pub fn simulate(state: &impl StateRead, env: BlockEnv, call: &Call) -> Result<exec::Outcome> {
    let ctx = ActionCtx {
        sender: call.caller,
        machine: None,
        env,
        tx_index: 0,
        tx_nonce: call.nonce,
        action_index: 0,
        session: None,
        bad_items: Vec::new(),
    };
    let (outcome, effects) = exec::run(state, &ctx, call)?;
    // A successful call is checked the way a transaction would be: a call that would end
    // between micro-units or burn value fails here too.
    if let Some(fx) = effects {
        let mut scratch = machina_state::Overlay::new(state);
        if let Err(e) = exec::apply(&mut scratch, &call.caller, fx) {
            return Ok(exec::Outcome {
                status: Status::Halt {
                    reason: e.to_string(),
                },
                ..outcome
            });
        }
    }
    Ok(outcome)
}

/// Gas an EVM execution used, from its events.
pub fn gas_used(events: &[Event]) -> Option<u64> {
    events
        .iter()
        .find(|e| e.module == "evm" && e.kind == "executed")
        .and_then(|e| e.attrs.get("gas_used"))
        .and_then(AttrValue::as_u64)
}
