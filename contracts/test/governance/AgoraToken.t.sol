// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "forge-std/Test.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {Votes} from "@openzeppelin/contracts/governance/utils/Votes.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {AgoraToken} from "../../src/governance/AgoraToken.sol";

contract AgoraTokenTest is ProtocolFixture {
    bytes32 internal constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");
    bytes32 internal constant DELEGATION_TYPEHASH =
        keccak256("Delegation(address delegatee,uint256 nonce,uint256 expiry)");
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    function test_constructor_mintsTheDeclaredAllocation() public view {
        assertEq(agora.name(), "Agora");
        assertEq(agora.symbol(), "AGORA");
        assertEq(agora.decimals(), 18);
        assertEq(agora.totalSupply(), AGORA_SUPPLY);
        assertEq(TREASURY + REWARDS_RESERVE + VESTED + DEPLOYER_GRANT, AGORA_SUPPLY);
        assertEq(agora.balanceOf(address(timelock)), TREASURY);
        assertEq(agora.balanceOf(address(rewards)), REWARDS_RESERVE);
        assertEq(agora.balanceOf(address(carolVesting)), VESTED);
        assertEq(agora.balanceOf(deployer), DEPLOYER_GRANT);
    }

    function test_clock_isTimestamp() public {
        vm.warp(1234);
        assertEq(agora.clock(), 1234);
        assertEq(agora.CLOCK_MODE(), "mode=timestamp");
        // Blocks alone do not move it.
        vm.roll(block.number + 1000);
        assertEq(agora.clock(), 1234);
        vm.warp(1_900_000_000);
        assertEq(agora.clock(), 1_900_000_000);
    }

    function testFuzz_clock_followsBlockTimestamp(uint48 timestamp, uint64 blockNumber) public {
        vm.warp(timestamp);
        vm.roll(blockNumber);
        assertEq(agora.clock(), timestamp);
    }

    function test_delegate_givesVotesOnlyAfterDelegation() public {
        vm.prank(deployer);
        assertTrue(agora.transfer(bob, 1000 ether));
        assertEq(agora.getVotes(bob), 0);

        vm.prank(bob);
        agora.delegate(bob);
        uint256 delegatedAt = block.timestamp;
        assertEq(agora.getVotes(bob), 1000 ether);
        assertEq(agora.delegates(bob), bob);

        vm.warp(block.timestamp + 1);
        assertEq(agora.getPastVotes(bob, delegatedAt), 1000 ether);
        assertEq(agora.getPastVotes(bob, delegatedAt - 1), 0);
    }

    function test_getPastVotes_readsByTimestamp() public {
        vm.warp(1_700_000_000);
        vm.prank(deployer);
        assertTrue(agora.transfer(bob, 1000 ether));
        vm.prank(bob);
        agora.delegate(bob);
        uint256 delegatedAt = block.timestamp;

        // 100 seconds later in the same block: the checkpoints are keyed by time, not by block.
        vm.warp(delegatedAt + 100);
        vm.prank(deployer);
        assertTrue(agora.transfer(bob, 500 ether));
        vm.warp(delegatedAt + 101);

        assertEq(agora.getPastVotes(bob, delegatedAt - 1), 0);
        assertEq(agora.getPastVotes(bob, delegatedAt), 1000 ether);
        assertEq(agora.getPastVotes(bob, delegatedAt + 99), 1000 ether);
        assertEq(agora.getPastVotes(bob, delegatedAt + 100), 1500 ether);
        assertEq(agora.getPastTotalSupply(delegatedAt), AGORA_SUPPLY);

        // The present and the future are not past yet.
        vm.expectRevert(
            abi.encodeWithSelector(Votes.ERC5805FutureLookup.selector, delegatedAt + 101, delegatedAt + 101)
        );
        agora.getPastVotes(bob, delegatedAt + 101);
    }

    function test_delegate_toAnotherAccount() public {
        vm.prank(deployer);
        assertTrue(agora.transfer(bob, 1000 ether));
        vm.prank(bob);
        agora.delegate(carol);
        assertEq(agora.getVotes(carol), 1000 ether);
        assertEq(agora.getVotes(bob), 0);
    }

    function test_transfer_movesVotesBetweenDelegates() public {
        vm.prank(deployer);
        agora.delegate(deployer);
        vm.prank(bob);
        agora.delegate(bob);
        vm.prank(deployer);
        assertTrue(agora.transfer(bob, 300 ether));
        assertEq(agora.getVotes(deployer), DEPLOYER_GRANT - 300 ether);
        assertEq(agora.getVotes(bob), 300 ether);
    }

    function test_allocation_carriesNoVotesUntilDelegated() public view {
        // Minting checkpoints nobody's votes: the treasury, the reserve and the vesting wallet never vote.
        address[4] memory holders = [deployer, address(timelock), address(rewards), address(carolVesting)];
        for (uint256 i; i < holders.length; ++i) {
            assertEq(agora.delegates(holders[i]), address(0));
            assertEq(agora.getVotes(holders[i]), 0);
        }
    }

    // ---------------------------------------------------------------- delegateBySig

    function test_delegateBySig_relayedDelegatesForSigner() public {
        (address signer, uint256 key) = makeAddrAndKey("delegator");
        vm.prank(deployer);
        assertTrue(agora.transfer(signer, 1000 ether));
        uint256 expiry = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _signDelegation(key, address(agora), block.chainid, bob, 0, expiry);

        // Anyone pays the gas; the signer delegates.
        vm.expectEmit(address(agora));
        emit IVotes.DelegateChanged(signer, address(0), bob);
        vm.prank(alice);
        agora.delegateBySig(bob, 0, expiry, v, r, s);
        assertEq(agora.delegates(signer), bob);
        assertEq(agora.delegates(alice), address(0));
        assertEq(agora.getVotes(bob), 1000 ether);
        assertEq(agora.nonces(signer), 1);
    }

    function test_delegateBySig_revertsWhenReplayed() public {
        (address signer, uint256 key) = makeAddrAndKey("delegator");
        vm.prank(deployer);
        assertTrue(agora.transfer(signer, 1000 ether));
        uint256 expiry = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _signDelegation(key, address(agora), block.chainid, bob, 0, expiry);
        agora.delegateBySig(bob, 0, expiry, v, r, s);

        // The signer moves on; the old signature cannot take its votes back to bob.
        vm.prank(signer);
        agora.delegate(signer);
        vm.expectRevert(abi.encodeWithSelector(Nonces.InvalidAccountNonce.selector, signer, 1));
        agora.delegateBySig(bob, 0, expiry, v, r, s);
        assertEq(agora.delegates(signer), signer);
        assertEq(agora.getVotes(bob), 0);
    }

    function test_delegateBySig_signatureForAnotherChainDoesNotDelegateForSigner() public {
        (address signer, uint256 key) = makeAddrAndKey("delegator");
        vm.prank(deployer);
        assertTrue(agora.transfer(signer, 1000 ether));
        uint256 expiry = block.timestamp + 1 hours;
        uint256 homeChain = block.chainid;
        (uint8 v, bytes32 r, bytes32 s) = _signDelegation(key, address(agora), homeChain, bob, 0, expiry);

        // The same token address on another chain: the domain differs, so the signature recovers some
        // other address (with no tokens), never the signer.
        vm.chainId(homeChain + 1);
        agora.delegateBySig(bob, 0, expiry, v, r, s);
        assertEq(agora.delegates(signer), address(0));
        assertEq(agora.nonces(signer), 0);
        assertEq(agora.getVotes(bob), 0);

        // A signature made for the other chain is refused here alike.
        vm.chainId(homeChain);
        (v, r, s) = _signDelegation(key, address(agora), homeChain + 1, carol, 0, expiry);
        agora.delegateBySig(carol, 0, expiry, v, r, s);
        assertEq(agora.delegates(signer), address(0));
        assertEq(agora.nonces(signer), 0);
        assertEq(agora.getVotes(carol), 0);
    }

    function test_delegateBySig_revertsWhenExpired() public {
        (, uint256 key) = makeAddrAndKey("delegator");
        uint256 expiry = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _signDelegation(key, address(agora), block.chainid, bob, 0, expiry);
        vm.warp(expiry + 1);
        vm.expectRevert(abi.encodeWithSelector(IVotes.VotesExpiredSignature.selector, expiry));
        agora.delegateBySig(bob, 0, expiry, v, r, s);
    }

    function test_permit_setsAllowanceAndUsesNonce() public {
        (address owner, uint256 key) = makeAddrAndKey("permitOwner");
        vm.prank(deployer);
        assertTrue(agora.transfer(owner, 10 ether));
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _signPermit(key, owner, bob, 5 ether, 0, deadline);

        agora.permit(owner, bob, 5 ether, deadline, v, r, s);
        assertEq(agora.allowance(owner, bob), 5 ether);
        assertEq(agora.nonces(owner), 1);

        vm.prank(bob);
        assertTrue(agora.transferFrom(owner, bob, 5 ether));
        assertEq(agora.balanceOf(bob), 5 ether);
    }

    function test_permit_revertsWhenReplayed() public {
        (address owner, uint256 key) = makeAddrAndKey("permitOwner");
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _signPermit(key, owner, bob, 5 ether, 0, deadline);
        agora.permit(owner, bob, 5 ether, deadline, v, r, s);
        vm.expectPartialRevert(ERC20Permit.ERC2612InvalidSigner.selector);
        agora.permit(owner, bob, 5 ether, deadline, v, r, s);
    }

    function test_permit_revertsWhenExpired() public {
        (address owner, uint256 key) = makeAddrAndKey("permitOwner");
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _signPermit(key, owner, bob, 5 ether, 0, deadline);
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612ExpiredSignature.selector, deadline));
        agora.permit(owner, bob, 5 ether, deadline, v, r, s);
    }

    function test_permit_revertsWhenSignerIsNotOwner() public {
        (address owner,) = makeAddrAndKey("permitOwner");
        (address other, uint256 otherKey) = makeAddrAndKey("other");
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _signPermit(otherKey, owner, bob, 5 ether, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612InvalidSigner.selector, other, owner));
        agora.permit(owner, bob, 5 ether, deadline, v, r, s);
    }

    function _signPermit(
        uint256 key,
        address owner,
        address spender,
        uint256 value,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (uint8, bytes32, bytes32) {
        bytes32 structHash = keccak256(abi.encode(PERMIT_TYPEHASH, owner, spender, value, nonce, deadline));
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", agora.DOMAIN_SEPARATOR(), structHash));
        return vm.sign(key, digest);
    }

    /// @dev Signs an EIP-712 `Delegation` for the AGORA token deployed at `token` on `chainId`.
    function _signDelegation(
        uint256 key,
        address token,
        uint256 chainId,
        address delegatee,
        uint256 nonce,
        uint256 expiry
    ) internal pure returns (uint8, bytes32, bytes32) {
        bytes32 domain = keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("Agora"), keccak256("1"), chainId, token)
        );
        bytes32 structHash = keccak256(abi.encode(DELEGATION_TYPEHASH, delegatee, nonce, expiry));
        return vm.sign(key, keccak256(abi.encodePacked("\x19\x01", domain, structHash)));
    }
}

/// @notice The constructor on its own: it mints exactly the declared allocation, and nothing else.
contract AgoraTokenAllocationTest is Test {
    function test_constructor_mintsEachHoldersAmount() public {
        AgoraToken.InitialBalance[] memory allocation = new AgoraToken.InitialBalance[](3);
        allocation[0] = AgoraToken.InitialBalance(address(0xA11CE), 7 ether);
        allocation[1] = AgoraToken.InitialBalance(address(0xB0B), 1);
        allocation[2] = AgoraToken.InitialBalance(address(0xCA401), 1_000_000 ether);
        AgoraToken token = new AgoraToken(allocation);
        assertEq(token.totalSupply(), 1_000_000 ether + 7 ether + 1);
        assertEq(token.balanceOf(address(0xA11CE)), 7 ether);
        assertEq(token.balanceOf(address(0xB0B)), 1);
        assertEq(token.balanceOf(address(0xCA401)), 1_000_000 ether);
        assertEq(token.balanceOf(address(this)), 0);
    }

    function test_constructor_addsUpRepeatedHolders() public {
        AgoraToken.InitialBalance[] memory allocation = new AgoraToken.InitialBalance[](2);
        allocation[0] = AgoraToken.InitialBalance(address(0xA11CE), 7 ether);
        allocation[1] = AgoraToken.InitialBalance(address(0xA11CE), 3 ether);
        AgoraToken token = new AgoraToken(allocation);
        assertEq(token.totalSupply(), 10 ether);
        assertEq(token.balanceOf(address(0xA11CE)), 10 ether);
    }

    function testFuzz_constructor_supplyIsTheAllocationsSum(uint256 seed, uint8 holders) public {
        uint256 n = bound(holders, 1, 16);
        AgoraToken.InitialBalance[] memory allocation = new AgoraToken.InitialBalance[](n);
        uint256 sum;
        for (uint256 i; i < n; ++i) {
            // Distinct holders; amounts up to 2^200 each, so 16 of them stay under ERC20Votes' 2^208 cap.
            address holder = address(uint160(uint256(keccak256(abi.encode(seed, i)))));
            uint256 amount = bound(uint256(keccak256(abi.encode(seed, i, "amount"))), 1, 2 ** 200);
            allocation[i] = AgoraToken.InitialBalance(holder, amount);
            sum += amount;
        }
        AgoraToken token = new AgoraToken(allocation);
        assertEq(token.totalSupply(), sum);
        for (uint256 i; i < n; ++i) {
            assertEq(token.balanceOf(allocation[i].holder), allocation[i].amount);
        }
    }

    function test_constructor_revertsOnEmptyAllocation() public {
        vm.expectRevert(AgoraToken.AgoraToken__EmptyAllocation.selector);
        new AgoraToken(new AgoraToken.InitialBalance[](0));
    }

    function testFuzz_constructor_revertsOnZeroAmount(uint8 length, uint8 zeroAt) public {
        uint256 n = bound(length, 1, 8);
        AgoraToken.InitialBalance[] memory allocation = new AgoraToken.InitialBalance[](n);
        for (uint256 i; i < n; ++i) {
            allocation[i] = AgoraToken.InitialBalance(makeAddr(vm.toString(i)), 1 ether);
        }
        allocation[bound(zeroAt, 0, n - 1)].amount = 0;
        vm.expectRevert(AgoraToken.AgoraToken__EmptyAllocation.selector);
        new AgoraToken(allocation);
    }

    function test_constructor_revertsOnZeroHolder() public {
        AgoraToken.InitialBalance[] memory allocation = new AgoraToken.InitialBalance[](1);
        allocation[0] = AgoraToken.InitialBalance(address(0), 1 ether);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidReceiver.selector, address(0)));
        new AgoraToken(allocation);
    }

    function test_constructor_revertsBeyondTheVotesCap() public {
        AgoraToken.InitialBalance[] memory allocation = new AgoraToken.InitialBalance[](2);
        allocation[0] = AgoraToken.InitialBalance(address(0xA11CE), type(uint208).max);
        allocation[1] = AgoraToken.InitialBalance(address(0xB0B), 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                ERC20Votes.ERC20ExceededSafeSupply.selector, uint256(type(uint208).max) + 1, type(uint208).max
            )
        );
        new AgoraToken(allocation);
    }
}
