//! The chain's precompiles: contracts at fixed addresses through which EVM code reads the
//! modules and runs their actions, under exactly the rules and error codes of the native
//! actions (a refusal reverts with `Error("code: sentence")`).
//!
//! | address | interface (`contracts/`) | what |
//! | --- | --- | --- |
//! | `0x…0a01` | `IMachines` | a machine's owner, account, kind, zone, status, reputation |
//! | `0x…0a02` | `IBank` | balances, and transfers from the calling contract |
//! | `0x…0a03` | `IEnergy` | place and cancel orders for a machine |
//! | `0x…0a04` | `IOracle` | a feed's median, a meter's energy over a span |
//! | `0x…0a05` | `IActions` | run a compute, shares, staking or bank action as the contract |

mod actions;

use crate::abi::{error_string, selector, Args, Token};
use crate::db::{from_evm, Layer};
use crate::exec::Ctx;
use crate::units::micro_to_wei;
use alloy_primitives::{Bytes, U256};
use machina_module::{ActionCtx, Host, Module, SpendRefusal};
use machina_primitives::{Address, Amount, Event};
use machina_state::StateRead;
use revm::handler::precompile_output_to_interpreter_result;
use revm::handler::{EthPrecompiles, PrecompileProvider};
use revm::interpreter::{CallInputs, CallScheme, InterpreterResult};
use revm::precompile::{PrecompileHalt, PrecompileOutput};
use revm::primitives::hardfork::SpecId;
use revm::primitives::AddressSet;

/// The machines precompile's address.
pub const MACHINES: Address = precompile_address(0x01);
/// The bank precompile's address.
pub const BANK: Address = precompile_address(0x02);
/// The energy precompile's address.
pub const ENERGY: Address = precompile_address(0x03);
/// The oracle precompile's address.
pub const ORACLE: Address = precompile_address(0x04);
/// The actions precompile's address.
pub const ACTIONS: Address = precompile_address(0x05);

pub use actions::CONTRACT_ACTIONS;

/// Gas of a precompile call that only reads.
const READ_GAS: u64 = 2_600;
/// Gas of a precompile call that runs a module action (writes a few records).
const WRITE_GAS: u64 = 40_000;

/// Whether `a` is one of the chain's precompiles.
pub fn is_precompile(a: &Address) -> bool {
    [MACHINES, BANK, ENERGY, ORACLE, ACTIONS].contains(a)
}

const fn precompile_address(n: u8) -> Address {
    let mut a = [0u8; 20];
    a[18] = 0x0a;
    a[19] = n;
    Address(a)
}

/// Ethereum's precompiles and the chain's.
pub(crate) struct Precompiles {
    eth: EthPrecompiles,
    warm: AddressSet,
    ctx: ActionCtx,
}

impl Precompiles {
    pub(crate) fn new(spec: SpecId, ctx: ActionCtx) -> Self {
        let eth = EthPrecompiles::new(spec);
        let mut warm = eth.warm_addresses().clone();
        for a in [MACHINES, BANK, ENERGY, ORACLE, ACTIONS] {
            warm.insert(crate::db::to_evm(&a));
        }
        Precompiles { eth, warm, ctx }
    }
}

impl<'a, S: StateRead> PrecompileProvider<Ctx<'a, S>> for Precompiles {
    type Output = InterpreterResult;

    fn set_spec(&mut self, spec: SpecId) -> bool {
        <EthPrecompiles as PrecompileProvider<Ctx<'a, S>>>::set_spec(&mut self.eth, spec)
    }

    fn run(
        &mut self,
        context: &mut Ctx<'a, S>,
        inputs: &CallInputs,
    ) -> Result<Option<InterpreterResult>, String> {
        let target = from_evm(&inputs.bytecode_address);
        if !is_precompile(&target) {
            return <EthPrecompiles as PrecompileProvider<Ctx<'a, S>>>::run(
                &mut self.eth,
                context,
                inputs,
            );
        }
        let input = inputs.input.bytes(context).to_vec();
        let call = PrecompileCall {
            caller: from_evm(&inputs.caller),
            value: inputs.call_value(),
            writable: !inputs.is_static && inputs.scheme == CallScheme::Call,
            input: &input,
        };
        let result = dispatch(target, &mut context.chain, &self.ctx, &call);
        Ok(Some(to_interpreter(
            result,
            inputs.gas_limit,
            inputs.reservoir,
        )))
    }

    fn warm_addresses(&self) -> &AddressSet {
        &self.warm
    }
}

/// One call into a precompile.
struct PrecompileCall<'i> {
    /// The contract (or account) that called.
    caller: Address,
    /// Wei sent along; the chain's precompiles take none.
    value: U256,
    /// Whether the call may change state: not a static call, not a delegate call.
    writable: bool,
    input: &'i [u8],
}

/// A precompile's answer: its output or revert data, and its gas.
struct Answer {
    ok: bool,
    output: Vec<u8>,
    gas: u64,
}

fn revert(message: impl AsRef<str>, gas: u64) -> Answer {
    Answer {
        ok: false,
        output: error_string(message.as_ref()),
        gas,
    }
}

fn to_interpreter(a: Answer, gas_limit: u64, reservoir: u64) -> InterpreterResult {
    let output = if a.gas > gas_limit {
        PrecompileOutput::halt(PrecompileHalt::OutOfGas, reservoir)
    } else if a.ok {
        PrecompileOutput::new(a.gas, Bytes::from(a.output), reservoir)
    } else {
        PrecompileOutput::revert(a.gas, Bytes::from(a.output), reservoir)
    };
    precompile_output_to_interpreter_result(output, gas_limit)
}

fn dispatch<S: StateRead>(
    target: Address,
    layer: &mut Layer<'_, S>,
    ctx: &ActionCtx,
    call: &PrecompileCall<'_>,
) -> Answer {
    if !call.value.is_zero() {
        return revert(
            "value_not_accepted: the chain's precompiles take no value",
            READ_GAS,
        );
    }
    if call.input.len() < 4 {
        return revert("unknown_function: call data has no selector", READ_GAS);
    }
    let (sel, args) = call.input.split_at(4);
    let sel: [u8; 4] = sel.try_into().expect("4 bytes");
    let args = Args::new(args);
    let result = match target {
        MACHINES => machines(layer, sel, &args),
        BANK => bank(layer, ctx, call, sel, &args),
        ENERGY => energy(layer, ctx, call, sel, &args),
        ACTIONS if sel == selector("run(bytes)") => actions::run(layer, ctx, call, &args),
        ACTIONS => Err("unknown_function: IActions has run(bytes)".into()),
        _ => oracle(layer, sel, &args),
    };
    match result {
        Ok(a) => a,
        Err(message) => revert(message, READ_GAS),
    }
}

fn returns(tokens: &[Token], gas: u64) -> Answer {
    Answer {
        ok: true,
        output: crate::abi::encode(tokens),
        gas,
    }
}

fn bad_args(e: String) -> String {
    format!("bad_arguments: {e}")
}

fn machines<S: StateRead>(
    state: &Layer<'_, S>,
    sel: [u8; 4],
    args: &Args<'_>,
) -> Result<Answer, String> {
    if sel != selector("machine(uint64)") {
        return Err("unknown_function: IMachines has machine(uint64)".into());
    }
    let id = args.u64(0).map_err(bad_args)?;
    let m = machina_identity::machine(state, id)
        .ok_or_else(|| format!("unknown_machine: no machine has id {id}"))?;
    let r = &m.reputation;
    Ok(returns(
        &[
            Token::Address(m.owner),
            Token::Address(m.address),
            Token::Str(m.kind.name().to_owned()),
            Token::Str(m.zone.clone().unwrap_or_default()),
            Token::Bool(m.status == machina_identity::Status::Active),
            Token::Uint(U256::from(r.energy_delivered_wh)),
            Token::Uint(U256::from(r.energy_promised_wh)),
            Token::Uint(U256::from(r.leases_completed)),
            Token::Uint(U256::from(r.leases_breached)),
            Token::Uint(U256::from(r.slashes)),
        ],
        READ_GAS,
    ))
}

/// The context a module action runs in when a precompile runs it for `sender`.
fn action_ctx(ctx: &ActionCtx, sender: Address, machine: Option<u64>) -> ActionCtx {
    ActionCtx {
        sender,
        machine,
        session: None,
        bad_items: Vec::new(),
        ..ctx.clone()
    }
}

/// Runs a module's action in the layer; a refusal becomes the revert reason.
fn run_action<M: Module, S: StateRead>(
    layer: &mut Layer<'_, S>,
    ctx: &ActionCtx,
    action: &M::Action,
) -> Result<(), String> {
    let events = M::execute(layer, ctx, action)
        .map_err(|e| format!("{}: {e}", machina_module::ModuleError::code(&e)))?;
    layer.emit(events);
    Ok(())
}

fn bank<S: StateRead>(
    layer: &mut Layer<'_, S>,
    ctx: &ActionCtx,
    call: &PrecompileCall<'_>,
    sel: [u8; 4],
    args: &Args<'_>,
) -> Result<Answer, String> {
    if sel == selector("balanceOf(address)") {
        let who = args.address(0).map_err(bad_args)?;
        let bal = machina_bank::account(layer, &who).balance;
        return Ok(returns(&[Token::Uint(micro_to_wei(bal))], READ_GAS));
    }
    if sel == selector("transfer(address,uint256)") {
        if !call.writable {
            return Err("read_only: transfer cannot run in a static or delegate call".into());
        }
        let to = args.address(0).map_err(bad_args)?;
        let amount = crate::envelope::whole_micro(args.u256(1).map_err(bad_args)?)
            .map_err(|e| format!("{}: {e}", e.code()))?;
        let action = machina_bank::BankAction::Transfer { to, amount };
        run_action::<machina_bank::Bank, S>(layer, &action_ctx(ctx, call.caller, None), &action)?;
        return Ok(returns(&[Token::Bool(true)], WRITE_GAS));
    }
    Err("unknown_function: IBank has balanceOf(address) and transfer(address,uint256)".into())
}

/// Whom a contract acts as for `machine_id`: the machine's own account when the machine's
/// wallet policy names the contract on its allowlist, else itself (the owner acts as owner;
/// anyone else is refused by the module's own rule).
fn acting_for<S: StateRead>(
    layer: &Layer<'_, S>,
    caller: Address,
    machine_id: u64,
) -> (Address, Option<u64>) {
    let Some(m) = machina_identity::machine(layer, machine_id) else {
        return (caller, None);
    };
    let allowed = machina_wallet::wallet(layer, &m.address)
        .is_some_and(|w| w.policy.allowlist.contains(&caller));
    if allowed && caller != m.owner {
        (m.address, Some(machine_id))
    } else {
        (caller, None)
    }
}

fn energy<S: StateRead>(
    layer: &mut Layer<'_, S>,
    ctx: &ActionCtx,
    call: &PrecompileCall<'_>,
    sel: [u8; 4],
    args: &Args<'_>,
) -> Result<Answer, String> {
    if !call.writable {
        return Err(
            "read_only: IEnergy's functions cannot run in a static or delegate call".into(),
        );
    }
    use machina_energy::{EnergyAction, Side};
    let (machine_id, action) = if sel == selector("placeOrder(uint64,uint8,uint64,uint64,uint64)") {
        let machine_id = args.u64(0).map_err(bad_args)?;
        let side = match args.u64(1).map_err(bad_args)? {
            0 => Side::Bid,
            1 => Side::Ask,
            n => return Err(bad_args(format!("side {n} is neither 0 (bid) nor 1 (ask)"))),
        };
        let action = EnergyAction::PlaceOrder {
            machine_id,
            side,
            interval_start_ms: args.u64(2).map_err(bad_args)?,
            price: args.u64(3).map_err(bad_args)?,
            qty_wh: args.u64(4).map_err(bad_args)?,
        };
        (machine_id, action)
    } else if sel == selector("cancelOrder(uint64,string,uint64)") {
        let machine_id = args.u64(0).map_err(bad_args)?;
        let action = EnergyAction::CancelOrder {
            zone: args
                .string(1, machina_primitives::limits::MAX_LABEL_BYTES)
                .map_err(bad_args)?,
            order_id: args.u64(2).map_err(bad_args)?,
        };
        (machine_id, action)
    } else {
        return Err("unknown_function: IEnergy has placeOrder and cancelOrder".into());
    };
    let (sender, machine) = acting_for(layer, call.caller, machine_id);
    let before = layer_events(layer);
    run_action::<machina_energy::Energy, S>(layer, &action_ctx(ctx, sender, machine), &action)?;
    let order_id = order_id_since(layer, before);
    Ok(returns(&[Token::Uint(U256::from(order_id))], WRITE_GAS))
}

fn layer_events<S: StateRead>(layer: &Layer<'_, S>) -> usize {
    layer.events().len()
}

/// The order id in the newest `order_placed` event since `from` (0 for a cancellation).
fn order_id_since<S: StateRead>(layer: &Layer<'_, S>, from: usize) -> u64 {
    layer.events()[from..]
        .iter()
        .rev()
        .find_map(|e| match e.attrs.get("order_id") {
            Some(machina_primitives::AttrValue::Int(n)) if e.kind == "order_placed" => Some(*n),
            _ => None,
        })
        .unwrap_or(0)
}

fn oracle<S: StateRead>(
    layer: &Layer<'_, S>,
    sel: [u8; 4],
    args: &Args<'_>,
) -> Result<Answer, String> {
    if sel == selector("feedMedian(string)") {
        let name = args
            .string(0, machina_primitives::limits::MAX_LABEL_BYTES)
            .map_err(bad_args)?;
        let f = machina_oracle::feed(layer, &name)
            .ok_or_else(|| format!("unknown_feed: no feed is called {name}"))?;
        let value = f
            .value
            .ok_or_else(|| format!("no_value: feed {name} has no median yet"))?;
        return Ok(returns(
            &[
                Token::Uint(U256::from(value as u64)),
                Token::Bool(value < 0),
                Token::Uint(U256::from(f.round)),
                Token::Uint(U256::from(f.updated_ms)),
            ],
            READ_GAS,
        ));
    }
    if sel == selector("meterEnergy(uint64,uint16,uint64,uint64)") {
        let e = machina_oracle::energy_between(
            layer,
            args.u64(0).map_err(bad_args)?,
            u16::try_from(args.u64(1).map_err(bad_args)?)
                .map_err(|_| bad_args("channel does not fit 16 bits".into()))?,
            args.u64(2).map_err(bad_args)?,
            args.u64(3).map_err(bad_args)?,
        )
        .map_err(|e| format!("{}: {e}", machina_module::ModuleError::code(&e)))?;
        return Ok(returns(
            &[
                Token::Uint(U256::from(e.import_wh)),
                Token::Uint(U256::from(e.export_wh)),
            ],
            READ_GAS,
        ));
    }
    Err("unknown_function: IOracle has feedMedian(string) and meterEnergy(uint64,uint16,uint64,uint64)".into())
}

impl<S: StateRead> Host for Layer<'_, S> {
    fn pay(
        &mut self,
        ctx: &ActionCtx,
        from: &Address,
        to: &Address,
        amount: Amount,
    ) -> Result<Event, SpendRefusal> {
        machina_wallet::pay(self, ctx, from, to, amount).map_err(SpendRefusal::from)
    }
}
