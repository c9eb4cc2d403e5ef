// SPDX-License-Identifier: MIT OR Apache-2.0
// Copyright (c) the Machina authors.
//
// An example of composing Machina's modules from a contract: an agent that a machine's owner
// names on the machine's wallet allowlist, and that then buys energy for the machine when it
// is cheap enough. Used by the tests of the precompiles.
pragma solidity ^0.8.20;

import "./IMachina.sol";

contract EnergyAgent {
    IMachines constant MACHINES = IMachines(0x0000000000000000000000000000000000000a01);
    IEnergy constant ENERGY = IEnergy(0x0000000000000000000000000000000000000a03);

    event Bought(uint64 indexed machineId, uint64 orderId, string zone);

    /// Places a bid for `machineId`, which must be active; reverts with the module's reason.
    function buy(uint64 machineId, uint64 intervalStartMs, uint64 priceMicroPerKwh, uint64 qtyWh)
        external
        returns (uint64 orderId)
    {
        (, , , string memory zone, bool active, , , , , ) = MACHINES.machine(machineId);
        require(active, "machine_revoked: the machine is revoked");
        orderId = ENERGY.placeOrder(machineId, 0, intervalStartMs, priceMicroPerKwh, qtyWh);
        emit Bought(machineId, orderId, zone);
    }

    /// Like `buy`, but catches the refusal and returns its reason instead of reverting.
    function tryBuy(uint64 machineId, uint64 intervalStartMs, uint64 priceMicroPerKwh, uint64 qtyWh)
        external
        returns (bool ok, string memory reason)
    {
        try ENERGY.placeOrder(machineId, 0, intervalStartMs, priceMicroPerKwh, qtyWh) returns (uint64) {
            return (true, "");
        } catch Error(string memory r) {
            return (false, r);
        }
    }
}
