// SPDX-License-Identifier: MIT OR Apache-2.0
// Copyright (c) the Machina authors.
//
// Machina's precompiles: contracts at fixed addresses through which EVM code reads and acts on
// the chain's native modules. Each refusal reverts with Error("code: sentence"), the same code
// the native action returns. Amounts of the native token are in wei (10^12 wei = 1 micro-unit);
// value that is not a whole number of micro-units is refused (sub_micro_value).
pragma solidity ^0.8.20;

/// 0x0000000000000000000000000000000000000a01: machines of the identity module.
interface IMachines {
    /// A machine's record; reverts with unknown_machine when there is none.
    function machine(uint64 machineId)
        external
        view
        returns (
            address owner,
            address account,
            string memory kind,
            string memory zone,
            bool active,
            uint256 energyDeliveredWh,
            uint256 energyPromisedWh,
            uint256 leasesCompleted,
            uint256 leasesBreached,
            uint256 slashes
        );
}

/// 0x0000000000000000000000000000000000000a02: balances of the bank module.
interface IBank {
    /// An account's balance, wei.
    function balanceOf(address account) external view returns (uint256);

    /// Moves `amountWei` from the calling contract to `to` (the same as sending value, through
    /// the bank's rules and the caller's wallet policy).
    function transfer(address to, uint256 amountWei) external returns (bool);
}

/// 0x0000000000000000000000000000000000000a03: orders of the energy module.
interface IEnergy {
    /// Places an order for a machine. The caller must be the machine's owner, or be named on
    /// the machine's wallet allowlist: then it acts as the machine, whose escrow is paid from
    /// the machine's account under its policy. Anyone else: not_machine_or_owner.
    /// side: 0 bid, 1 ask. Returns the order id.
    function placeOrder(
        uint64 machineId,
        uint8 side,
        uint64 intervalStartMs,
        uint64 priceMicroPerKwh,
        uint64 qtyWh
    ) external returns (uint64 orderId);

    /// Cancels an order before its gate closes, under the same rule as placeOrder.
    function cancelOrder(uint64 machineId, string calldata zone, uint64 orderId) external returns (uint64);
}

/// 0x0000000000000000000000000000000000000a04: feeds and meters of the oracle module.
interface IOracle {
    /// A feed's current median: its magnitude, whether it is negative, its round and when it
    /// was last updated (ms of chain time).
    function feedMedian(string calldata feed)
        external
        view
        returns (uint256 magnitude, bool negative, uint256 round, uint256 updatedMs);

    /// Energy a machine's meter channel imported and exported between two times, Wh.
    function meterEnergy(uint64 machineId, uint16 channel, uint64 fromMs, uint64 toMs)
        external
        view
        returns (uint256 importWh, uint256 exportWh);
}

/// 0x0000000000000000000000000000000000000a05: module actions run by the calling contract as
/// itself. `action` is the action's canonical encoding (docs/wire.md): a tag byte, then its
/// fields, integers big-endian, an absent option 0x00 and a present one 0x01 and its value.
/// Taken: transfer, job, top_up, close, transfer_shares, offer_shares, buy_shares,
/// claim_revenue, bond, unbond (actions with signatures of their own are not).
interface IActions {
    function run(bytes calldata action) external returns (bool);
}

/// Encodings of the actions contracts run most, for IActions.run. Amounts in micro-units.
library MachinaActions {
    function transfer(address to, uint128 amountMicro) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(1), to, amountMicro);
    }

    function topUp(uint64 jobId, uint128 amountMicro) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(64), jobId, amountMicro);
    }

    function close(uint64 jobId) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(65), jobId);
    }

    function transferShares(uint64 machineId, address to, uint64 amount) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(71), machineId, to, amount);
    }

    function claimRevenue(uint64 machineId) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(76), uint8(1), machineId);
    }

    function claimAllRevenue() internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(76), uint8(0));
    }

    /// Stake backing a compute machine (subject `provider`).
    function bondProvider(uint64 machineId, uint128 amountMicro) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(50), uint8(0), machineId, amountMicro);
    }

    function unbondProvider(uint64 machineId, uint128 amountMicro) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(51), uint8(0), machineId, amountMicro);
    }
}
