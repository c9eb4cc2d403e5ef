//! The chain's one ordered list of modules, and everything derived from it: the action enum,
//! its codec and JSON form, the module error enum, the genesis sections, stateless checks,
//! embedded signatures, dispatch and the order of the block hooks.
//!
//! Adding a module is one line in the [`modules!`] invocation at the bottom.

use machina_module::{ActionCtx, EmbeddedSig, Host, ItemSig, Module, StatelessCtx};
use machina_primitives::codec::{CodecError, Decode, Encode, Reader, Tagged};
use machina_primitives::{Address, BlockEnv, Event};
use machina_state::StateWrite;
use serde::{Deserialize, Serialize};

/// A module as the list knows it: id, name and its actions' tags and names.
#[derive(Clone, Copy, Debug)]
pub struct ModuleInfo {
    /// The module's numeric id.
    pub id: u8,
    /// The module's name, also the prefix of its state keys (`name/`).
    pub name: &'static str,
    /// Its actions' tags and names.
    pub actions: &'static [(u8, &'static str)],
    /// The error codes it owns.
    pub error_codes: &'static [&'static str],
}

fn is_default<T: Default + PartialEq>(t: &T) -> bool {
    *t == T::default()
}

macro_rules! modules {
    ($($field:ident: $variant:ident => $module:ty, $action:ty, $error:ty);* $(;)?) => {
        /// One thing a transaction asks the chain to do: an action of one of the modules.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Action {
            $(
                #[doc = concat!("An action of the `", stringify!($field), "` module.")]
                $variant(<$module as Module>::Action),
            )*
        }

        $(
            impl From<$action> for Action {
                fn from(a: $action) -> Self {
                    Action::$variant(a)
                }
            }
        )*

        impl Encode for Action {
            fn encode_to(&self, out: &mut Vec<u8>) {
                match self {
                    $(Action::$variant(a) => a.encode_to(out),)*
                }
            }
        }

        impl Decode for Action {
            fn decode_from(r: &mut Reader<'_>) -> machina_primitives::codec::Result<Self> {
                let tag = r.peek_u8()?;
                $(
                    if <<$module as Module>::Action as Tagged>::TAGS.iter().any(|(t, _)| *t == tag) {
                        return Ok(Action::$variant(Decode::decode_from(r)?));
                    }
                )*
                Err(CodecError::BadTag { what: "action", tag })
            }
        }

        impl Action {
            /// The action's name, as JSON's `type` and session-key grants spell it.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Action::$variant(a) => a.name(),)*
                }
            }

            /// The name of the module that owns it.
            pub fn module(&self) -> &'static str {
                match self {
                    $(Action::$variant(_) => <$module as Module>::NAME,)*
                }
            }

            /// Whether some module has an action called `name`.
            pub fn is_action_name(name: &str) -> bool {
                false $(|| <<$module as Module>::Action as Tagged>::TAGS.iter().any(|(_, n)| *n == name))*
            }
        }

        impl Serialize for Action {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(Action::$variant(a) => a.serialize(s),)*
                }
            }
        }

        impl<'de> Deserialize<'de> for Action {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                use serde::de::Error as _;
                let v = serde_json::Value::deserialize(d)?;
                let ty = v
                    .get("type")
                    .and_then(|t| t.as_str())
                    .ok_or_else(|| D::Error::custom("an action needs a \"type\""))?
                    .to_owned();
                $(
                    if <<$module as Module>::Action as Tagged>::TAGS.iter().any(|(_, n)| *n == ty) {
                        return serde_json::from_value(v).map(Action::$variant).map_err(D::Error::custom);
                    }
                )*
                Err(D::Error::custom(format!(
                    "no action is called {}",
                    machina_primitives::limits::quote_prefix(&ty)
                )))
            }
        }

        /// An error from a module, with its stable code.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum ModuleError {
            $(
                #[doc = concat!("From the `", stringify!($field), "` module.")]
                $variant(<$module as Module>::Error),
            )*
        }

        $(
            impl From<$error> for ModuleError {
                fn from(e: $error) -> Self {
                    ModuleError::$variant(e)
                }
            }
        )*

        impl std::fmt::Display for ModuleError {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self {
                    $(ModuleError::$variant(e) => e.fmt(f),)*
                }
            }
        }

        impl std::error::Error for ModuleError {}

        impl ModuleError {
            /// The stable code.
            pub fn code(&self) -> &'static str {
                match self {
                    $(ModuleError::$variant(e) => machina_module::ModuleError::code(e),)*
                }
            }

            /// The module that raised it.
            pub fn module(&self) -> &'static str {
                match self {
                    $(ModuleError::$variant(_) => <$module as Module>::NAME,)*
                }
            }

            /// Whether it counts against a machine's wallet record.
            pub fn is_policy_breach(&self) -> bool {
                match self {
                    $(ModuleError::$variant(e) => machina_module::ModuleError::is_policy_breach(e),)*
                }
            }
        }

        /// Every module's genesis section, under the module's name.
        #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub struct ModuleGenesis {
            $(
                #[doc = concat!("The `", stringify!($field), "` module's section.")]
                #[serde(default, skip_serializing_if = "is_default")]
                pub $field: <$module as Module>::Genesis,
            )*
        }

        /// Every module, in hook order.
        pub const MODULES: &[ModuleInfo] = &[
            $(ModuleInfo {
                id: <$module as Module>::ID,
                name: <$module as Module>::NAME,
                actions: <<$module as Module>::Action as Tagged>::TAGS,
                error_codes: <$error as machina_module::ModuleError>::CODES,
            },)*
        ];

        /// Writes every module's genesis section, in module order.
        pub(crate) fn init_genesis(
            state: &mut impl StateWrite,
            g: &ModuleGenesis,
        ) -> Result<(), ModuleError> {
            $(<$module as Module>::init_genesis(state, &g.$field)?;)*
            Ok(())
        }

        /// The owning module's stateless checks.
        pub(crate) fn check_stateless(a: &Action, cx: &StatelessCtx) -> Result<(), ModuleError> {
            match a {
                $(Action::$variant(a) => Ok(<$module as Module>::check_stateless(a, cx)?),)*
            }
        }

        /// Signatures embedded in the action.
        pub(crate) fn embedded_signatures(a: &Action, chain_id: u64, sender: &Address) -> Vec<EmbeddedSig> {
            match a {
                $(Action::$variant(a) => <$module as Module>::embedded_signatures(a, chain_id, sender),)*
            }
        }

        /// Signatures of the action's items.
        pub(crate) fn item_signatures(a: &Action, chain_id: u64) -> Vec<ItemSig> {
            match a {
                $(Action::$variant(a) => <$module as Module>::item_signatures(a, chain_id),)*
            }
        }

        /// Gas the action may use at most.
        pub(crate) fn gas_limit(a: &Action) -> u64 {
            match a {
                $(Action::$variant(a) => <$module as Module>::gas_limit(a),)*
            }
        }

        /// What the action needs the fee to cover beyond the minimum.
        pub(crate) fn fee_floor(a: &Action) -> machina_primitives::Amount {
            match a {
                $(Action::$variant(a) => <$module as Module>::fee_floor(a),)*
            }
        }

        /// Runs the action in its module.
        pub(crate) fn execute(
            host: &mut impl Host,
            ctx: &ActionCtx,
            a: &Action,
        ) -> Result<Vec<Event>, ModuleError> {
            match a {
                $(Action::$variant(a) => Ok(<$module as Module>::execute(host, ctx, a)?),)*
            }
        }

        /// Every module's begin-block hook, in module order.
        pub(crate) fn begin_block(state: &mut impl StateWrite, env: &BlockEnv) -> Vec<Event> {
            let mut events = Vec::new();
            $(events.extend(<$module as Module>::begin_block(state, env));)*
            events
        }

        /// Every module's end-block hook, in module order.
        pub(crate) fn end_block(state: &mut impl StateWrite, env: &BlockEnv) -> Vec<Event> {
            let mut events = Vec::new();
            $(events.extend(<$module as Module>::end_block(state, env));)*
            events
        }
    };
}

// field: Variant => module, its action type, its error type (named, not projected, so that the
// `From` impls are coherent; the enum's variants are typed through the module, so a mismatch
// does not compile).
modules! {
    bank: Bank => machina_bank::Bank, machina_bank::BankAction, machina_bank::BankError;
    identity: Identity => machina_identity::Identity, machina_identity::IdentityAction, machina_identity::IdentityError;
    wallet: Wallet => machina_wallet::Wallet, machina_wallet::WalletAction, machina_wallet::WalletError;
    oracle: Oracle => machina_oracle::Oracle, machina_oracle::OracleAction, machina_oracle::OracleError;
    energy: Energy => machina_energy::Energy, machina_energy::EnergyAction, machina_energy::EnergyError;
    staking: Staking => machina_staking::Staking, machina_staking::StakingAction, machina_staking::StakingError;
    compute: Compute => machina_compute::Compute, machina_compute::ComputeAction, machina_compute::ComputeError;
    shares: Shares => machina_shares::Shares, machina_shares::SharesAction, machina_shares::SharesError;
    evm: Evm => machina_evm::Evm, machina_evm::EvmAction, machina_evm::EvmError;
}

impl machina_primitives::Envelope for Action {
    fn foreign_id(&self) -> Option<machina_primitives::Hash> {
        match self {
            Action::Evm(a) => a.foreign_id(),
            _ => None,
        }
    }
}
