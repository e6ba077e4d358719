// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {GovernanceFixture} from "../utils/GovernanceFixture.sol";
import {AgoraGovernor} from "../../src/governance/AgoraGovernor.sol";

/// @notice Voting without gas: a voter signs an EIP-712 `Ballot` (with its governor nonce) and anyone
/// relays it. The vote counts for the signer, once, on the one governor and chain it was signed for.
contract AgoraGovernorVoteBySigTest is GovernanceFixture {
    bytes32 internal constant BALLOT_TYPEHASH =
        keccak256("Ballot(uint256 proposalId,uint8 support,address voter,uint256 nonce)");
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    uint256 internal constant VOTER_VOTES = 60_000 ether; // 6 %: above quorum on its own
    string internal constant DESCRIPTION = "Raise the fee";

    address internal voter;
    uint256 internal voterKey;
    address internal relayer = makeAddr("relayer");

    function setUp() public override {
        super.setUp();
        (voter, voterKey) = makeAddrAndKey("voter");
        _giveVotes(voter, VOTER_VOTES);
        vm.warp(block.timestamp + 1);
    }

    function test_castVoteBySig_relayedVoteCountsForSigner() public {
        uint256 proposalId = _activeProposal(governor);
        bytes memory signature = _signBallot(voterKey, address(governor), block.chainid, proposalId, 1, 0);

        vm.expectEmit(address(governor));
        emit IGovernor.VoteCast(voter, proposalId, 1, VOTER_VOTES, "");
        vm.prank(relayer);
        uint256 weight = governor.castVoteBySig(proposalId, 1, voter, signature);

        assertEq(weight, VOTER_VOTES);
        assertTrue(governor.hasVoted(proposalId, voter));
        assertFalse(governor.hasVoted(proposalId, relayer));
        (uint256 againstVotes, uint256 forVotes, uint256 abstainVotes) = governor.proposalVotes(proposalId);
        assertEq(forVotes, VOTER_VOTES);
        assertEq(againstVotes + abstainVotes, 0);
        assertEq(governor.nonces(voter), 1);
        // The signed vote alone carries the proposal.
        vm.warp(governor.proposalDeadline(proposalId) + 1);
        _assertState(proposalId, IGovernor.ProposalState.Succeeded);
    }

    function test_castVoteBySig_revertsWhenReplayed() public {
        uint256 proposalId = _activeProposal(governor);
        bytes memory signature = _signBallot(voterKey, address(governor), block.chainid, proposalId, 1, 0);
        vm.prank(relayer);
        governor.castVoteBySig(proposalId, 1, voter, signature);

        // The nonce moved on, so the replay no longer recovers the voter (not even to be told it voted).
        vm.expectRevert(abi.encodeWithSelector(IGovernor.GovernorInvalidSignature.selector, voter));
        vm.prank(relayer);
        governor.castVoteBySig(proposalId, 1, voter, signature);
    }

    function test_castVoteBySig_revertsForStaleNonce() public {
        uint256 first = _activeProposal(governor);
        uint256 second = _propose(
            alice, address(marketplace), abi.encodeCall(marketplace.setProtocolFee, (0)), "Zero fee"
        );
        vm.warp(block.timestamp + VOTING_DELAY + 1);
        // Two ballots signed with the same nonce: only the first relayed counts.
        bytes memory forFirst = _signBallot(voterKey, address(governor), block.chainid, first, 1, 0);
        bytes memory forSecond = _signBallot(voterKey, address(governor), block.chainid, second, 0, 0);
        governor.castVoteBySig(first, 1, voter, forFirst);

        vm.expectRevert(abi.encodeWithSelector(IGovernor.GovernorInvalidSignature.selector, voter));
        governor.castVoteBySig(second, 0, voter, forSecond);
        assertFalse(governor.hasVoted(second, voter));

        governor.castVoteBySig(
            second, 0, voter, _signBallot(voterKey, address(governor), block.chainid, second, 0, 1)
        );
        assertTrue(governor.hasVoted(second, voter));
    }

    function test_castVoteBySig_refusesSignatureForAnotherGovernor() public {
        AgoraGovernor other = new AgoraGovernor(
            agora, timelock, VOTING_DELAY, VOTING_PERIOD, 0, QUORUM_PERCENT, VOTE_EXTENSION, address(timelock)
        );
        // The same proposal on both governors has the same id: only the domain tells them apart.
        uint256 proposalId = _activeProposal(governor);
        assertEq(_activeProposal(other), proposalId);
        bytes memory signature = _signBallot(voterKey, address(other), block.chainid, proposalId, 1, 0);

        vm.expectRevert(abi.encodeWithSelector(IGovernor.GovernorInvalidSignature.selector, voter));
        vm.prank(relayer);
        governor.castVoteBySig(proposalId, 1, voter, signature);
        assertFalse(governor.hasVoted(proposalId, voter));

        // It was a good signature, for the other governor.
        vm.prank(relayer);
        other.castVoteBySig(proposalId, 1, voter, signature);
        assertTrue(other.hasVoted(proposalId, voter));
    }

    function test_castVoteBySig_refusesSignatureForAnotherChain() public {
        uint256 proposalId = _activeProposal(governor);
        uint256 homeChain = block.chainid;
        bytes memory forOtherChain = _signBallot(voterKey, address(governor), homeChain + 1, proposalId, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(IGovernor.GovernorInvalidSignature.selector, voter));
        governor.castVoteBySig(proposalId, 1, voter, forOtherChain);

        // A signature for this chain, relayed to the same governor address on another chain.
        bytes memory forHome = _signBallot(voterKey, address(governor), homeChain, proposalId, 1, 0);
        vm.chainId(homeChain + 1);
        vm.expectRevert(abi.encodeWithSelector(IGovernor.GovernorInvalidSignature.selector, voter));
        governor.castVoteBySig(proposalId, 1, voter, forHome);

        vm.chainId(homeChain);
        governor.castVoteBySig(proposalId, 1, voter, forHome);
        assertTrue(governor.hasVoted(proposalId, voter));
    }

    function test_castVoteBySig_refusesSignatureOfAnotherAccount() public {
        uint256 proposalId = _activeProposal(governor);
        (, uint256 otherKey) = makeAddrAndKey("other");
        bytes memory signature = _signBallot(otherKey, address(governor), block.chainid, proposalId, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(IGovernor.GovernorInvalidSignature.selector, voter));
        governor.castVoteBySig(proposalId, 1, voter, signature);
    }

    function testFuzz_castVoteBySig_refusesAlteredBallot(
        uint8 signedSupport,
        uint256 signedNonce,
        uint8 support
    ) public {
        uint256 proposalId = _activeProposal(governor);
        signedSupport = uint8(bound(signedSupport, 0, 2));
        support = uint8(bound(support, 0, 2));
        vm.assume(signedSupport != support || signedNonce != 0);
        // Relayed as another choice, or signed with a nonce the governor is not at: it recovers someone else.
        bytes memory signature =
            _signBallot(voterKey, address(governor), block.chainid, proposalId, signedSupport, signedNonce);
        vm.expectRevert(abi.encodeWithSelector(IGovernor.GovernorInvalidSignature.selector, voter));
        governor.castVoteBySig(proposalId, support, voter, signature);
    }

    /// @dev Alice's proposal on `target_`, once voting is open.
    function _activeProposal(AgoraGovernor target_) internal returns (uint256 proposalId) {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) =
            _single(address(marketplace), abi.encodeCall(marketplace.setProtocolFee, (500)));
        vm.prank(alice);
        proposalId = target_.propose(targets, values, calldatas, DESCRIPTION);
        vm.warp(block.timestamp + VOTING_DELAY + 1);
    }

    /// @dev Signs `voter`'s ballot as OpenZeppelin's Governor defines it, for the governor at `governor_`
    /// on `chainId`.
    function _signBallot(
        uint256 key,
        address governor_,
        uint256 chainId,
        uint256 proposalId,
        uint8 support,
        uint256 nonce
    ) internal view returns (bytes memory) {
        bytes32 domain = keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("AgoraGovernor"), keccak256("1"), chainId, governor_)
        );
        bytes32 structHash = keccak256(abi.encode(BALLOT_TYPEHASH, proposalId, support, voter, nonce));
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(key, keccak256(abi.encodePacked("\x19\x01", domain, structHash)));
        return abi.encodePacked(r, s, v);
    }
}
