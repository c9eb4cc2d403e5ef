// SPDX-License-Identifier: MIT OR Apache-2.0
// Copyright (c) the Machina authors.
//
// Composability in one transaction: an operator contract, named on a machine's wallet allowlist,
// buys energy for the machine, tops up a compute job and splits a payment between payees from
// its own account. Either all of it happens or none of it does. Used by the tests of the
// precompiles.
pragma solidity ^0.8.20;

import "./IMachina.sol";

contract Operator {
    IEnergy constant ENERGY = IEnergy(0x0000000000000000000000000000000000000a03);
    IActions constant ACTIONS = IActions(0x0000000000000000000000000000000000000A05);

    event Operated(uint64 indexed machineId, uint64 orderId, uint64 jobId, uint256 payees);

    receive() external payable {}

    /// Places a bid for `machineId`, tops up `jobId` by `topUpMicro` (skipped when `jobId` is
    /// 0) and pays each of `payees` `eachMicro`. Any refusal reverts the whole transaction with
    /// the refusing module's reason.
    function operate(
        uint64 machineId,
        uint64 intervalStartMs,
        uint64 priceMicroPerKwh,
        uint64 qtyWh,
        uint64 jobId,
        uint128 topUpMicro,
        address[] calldata payees,
        uint128 eachMicro
    ) external returns (uint64 orderId) {
        orderId = ENERGY.placeOrder(machineId, 0, intervalStartMs, priceMicroPerKwh, qtyWh);
        if (jobId != 0) {
            ACTIONS.run(MachinaActions.topUp(jobId, topUpMicro));
        }
        for (uint256 i = 0; i < payees.length; i++) {
            ACTIONS.run(MachinaActions.transfer(payees[i], eachMicro));
        }
        emit Operated(machineId, orderId, jobId, payees.length);
    }
}
