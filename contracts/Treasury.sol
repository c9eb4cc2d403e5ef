// SPDX-License-Identifier: MIT OR Apache-2.0
// Copyright (c) the Machina authors.
//
// An example of a contract running module actions as itself through IActions: a treasury that
// pays out, claims revenue for the shares it holds and tops up compute jobs. Used by the tests
// of the precompiles.
pragma solidity ^0.8.20;

import "./IMachina.sol";

contract Treasury {
    IActions constant ACTIONS = IActions(0x0000000000000000000000000000000000000A05);

    receive() external payable {}

    function pay(address to, uint128 amountMicro) external {
        ACTIONS.run(MachinaActions.transfer(to, amountMicro));
    }

    function claim(uint64 machineId) external {
        ACTIONS.run(MachinaActions.claimRevenue(machineId));
    }

    function topUp(uint64 jobId, uint128 amountMicro) external {
        ACTIONS.run(MachinaActions.topUp(jobId, amountMicro));
    }

    /// Runs any encoded action (the tests pass ones that are refused).
    function runRaw(bytes calldata action) external {
        ACTIONS.run(action);
    }
}
