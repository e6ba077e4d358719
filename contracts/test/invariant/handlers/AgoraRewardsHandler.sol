// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {AgoraRewards} from "../../../src/governance/AgoraRewards.sol";
import {AgoraToken} from "../../../src/governance/AgoraToken.sol";
import {IAgoraRewards} from "../../../src/interfaces/IAgoraRewards.sol";
import {MerkleTrees} from "../../utils/MerkleTrees.sol";

/// @notice Drives the rewards reserve with bounded inputs: the timelock funds ended epochs (skipping some)
/// with Merkle trees over a few earners, an earner sometimes listed twice, and some roots whose leaves
/// sum to more than the total they are funded with; anyone relays claims, mostly of leaves not yet
/// claimed, some again or beyond what is left of the epoch; forged claims (another amount or account
/// with a real proof) are tried; tokens are sent to the reserve; time moves. Ghosts sum what each epoch
/// was funded with and paid, what was sent in, and count every claim paid that should not have been.
contract AgoraRewardsHandler is CommonBase, StdCheats, StdUtils {
    AgoraRewards public immutable rewards;
    AgoraToken public immutable agora;
    /// @dev The rewards' owner, the DAO's timelock.
    address public immutable owner;
    /// @dev Holds AGORA to send to the reserve.
    address public immutable donor;

    address[] internal _earners;
    /// @dev Funded epochs, in the order they were funded.
    uint256[] internal _epochs;
    mapping(uint256 epochId => address[]) internal _leafAccounts;
    mapping(uint256 epochId => uint256[]) internal _leafAmounts;
    mapping(uint256 epochId => bytes32[]) internal _leaves;
    /// @dev The next epoch the handler may fund; epochs before it are funded or skipped for good.
    uint256 public nextEpoch;

    mapping(uint256 epochId => uint256) public ghost_funded;
    mapping(uint256 epochId => uint256) public ghost_paid;
    mapping(uint256 epochId => mapping(address account => uint256)) public ghost_claimsPaid;
    uint256 public ghost_claimed;
    /// @dev Funded and not yet claimed, over all epochs: Σ (funded − paid).
    uint256 public ghost_outstanding;
    uint256 public ghost_donated;
    /// @dev Claims paid to an account that had already claimed the epoch: must stay 0.
    uint256 public ghost_doubleClaims;
    /// @dev Claims paid beyond what was left of the epoch's total, or after which the epoch's record no
    /// longer shows its total and what it paid: must stay 0.
    uint256 public ghost_overdraws;
    /// @dev Forged claims paid: must stay 0.
    uint256 public ghost_forgeriesPaid;
    /// @dev Claims refused with an error other than the one their state calls for: must stay 0.
    uint256 public ghost_wrongRefusals;
    uint256 public ghost_overcommittedEpochs;
    uint256 public ghost_refusedClaims;
    mapping(bytes32 action => uint256) public calls;
    uint256 public ghost_skipped;

    /// @dev Relays claims of accounts it has nothing to do with.
    address internal constant STRANGER = address(0x5742A4);

    modifier countCall(bytes32 action) {
        ++calls[action];
        _;
    }

    constructor(AgoraRewards rewards_, address donor_, address[] memory earners_) {
        rewards = rewards_;
        agora = AgoraToken(rewards_.token());
        owner = rewards_.owner();
        donor = donor_;
        _earners = earners_;
    }

    /// @dev Funds an ended epoch (waiting for it to end) with a tree of 1–6 leaves over the earners.
    function fundEpoch(uint256 gapSeed, uint256 sizeSeed, uint256 amountSeed, bool overcommit)
        external
        countCall("fundEpoch")
    {
        uint256 available = rewards.unallocated();
        if (available == 0) return _skip();
        uint256 epochId = nextEpoch + gapSeed % 3;
        nextEpoch = epochId + 1;
        (, uint64 end) = rewards.epochWindow(epochId);
        if (block.timestamp < end) vm.warp(end);

        uint256 n = _bound(sizeSeed, 1, 6);
        address[] memory accounts = new address[](n);
        uint256[] memory amounts = new uint256[](n);
        uint256 sum;
        for (uint256 i; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode(amountSeed, i)));
            accounts[i] = _earners[r % _earners.length];
            amounts[i] = _bound(r >> 8, 1, available / 8 + 1);
            sum += amounts[i];
        }
        // An overcommitted root: its leaves sum to more than it is funded with.
        uint256 total = overcommit ? _bound(amountSeed >> 128, 1, sum) : sum;
        if (total > available) total = available;
        if (total < sum) ++ghost_overcommittedEpochs;
        bytes32[] memory leaves = MerkleTrees.leaves(accounts, amounts);

        vm.prank(owner);
        rewards.fundEpoch(epochId, MerkleTrees.root(leaves), total);
        _epochs.push(epochId);
        _leafAccounts[epochId] = accounts;
        _leafAmounts[epochId] = amounts;
        _leaves[epochId] = leaves;
        ghost_funded[epochId] = total;
        ghost_outstanding += total;
    }

    /// @dev Relays a leaf's claim: usually the first leaf from `leafSeed` whose account has not claimed
    /// the epoch, one time in four the leaf at `leafSeed` whatever its state.
    function claim(uint256 epochSeed, uint256 leafSeed, uint256 relayerSeed) external countCall("claim") {
        if (_epochs.length == 0) return _skip();
        uint256 epochId = _epochs[epochSeed % _epochs.length];
        address[] storage accounts = _leafAccounts[epochId];
        uint256 start = leafSeed % accounts.length;
        uint256 index = start;
        if (leafSeed >> 254 != 0) {
            for (uint256 k; k < accounts.length; ++k) {
                uint256 i = (start + k) % accounts.length;
                if (ghost_claimsPaid[epochId][accounts[i]] == 0) {
                    index = i;
                    break;
                }
            }
        }
        address account = accounts[index];
        uint256 amount = _leafAmounts[epochId][index];
        bytes32[] memory proof = MerkleTrees.proof(_leaves[epochId], index);
        bool claimedBefore = ghost_claimsPaid[epochId][account] != 0;
        uint256 remaining = ghost_funded[epochId] - ghost_paid[epochId];

        // The earner itself, another earner, or a stranger relays it.
        vm.prank(relayerSeed % 4 == 0 ? STRANGER : _earners[relayerSeed % _earners.length]);
        try rewards.claim(epochId, account, amount, proof) {
            if (claimedBefore) ++ghost_doubleClaims;
            ++ghost_claimsPaid[epochId][account];
            ghost_paid[epochId] += amount;
            ghost_claimed += amount;
            (, uint256 total, uint256 claimed) = rewards.epoch(epochId);
            if (amount > remaining || claimed > total || claimed != ghost_paid[epochId]) ++ghost_overdraws;
            else ghost_outstanding -= amount;
        } catch (bytes memory reason) {
            ++ghost_refusedClaims;
            bytes memory expected;
            if (claimedBefore) {
                expected = abi.encodeWithSelector(
                    IAgoraRewards.AgoraRewards__AlreadyClaimed.selector, epochId, account
                );
            } else if (amount > remaining) {
                expected = abi.encodeWithSelector(
                    IAgoraRewards.AgoraRewards__EpochOverdrawn.selector, epochId, remaining, amount
                );
            }
            if (keccak256(reason) != keccak256(expected)) ++ghost_wrongRefusals;
        }
    }

    /// @dev A real leaf's proof with another amount, or for another account: must be refused.
    function claimForged(uint256 epochSeed, uint256 leafSeed, uint256 delta, bool otherAccount)
        external
        countCall("claimForged")
    {
        if (_epochs.length == 0) return _skip();
        uint256 epochId = _epochs[epochSeed % _epochs.length];
        uint256 index = leafSeed % _leafAccounts[epochId].length;
        address account = _leafAccounts[epochId][index];
        uint256 amount = _leafAmounts[epochId][index];
        if (otherAccount) {
            account = _earners[(_indexOf(account) + 1 + delta % (_earners.length - 1)) % _earners.length];
        } else {
            delta = _bound(delta, 1, amount);
            amount = leafSeed % 2 == 0 ? amount + delta : amount - delta;
        }
        bytes32[] memory proof = MerkleTrees.proof(_leaves[epochId], index);
        try rewards.claim(epochId, account, amount, proof) {
            ++ghost_forgeriesPaid;
        } catch {}
    }

    /// @dev Sends AGORA to the reserve, as anyone may.
    function donate(uint256 amount) external countCall("donate") {
        uint256 balance = agora.balanceOf(donor);
        if (balance == 0) return _skip();
        amount = _bound(amount, 1, balance < 1000 ether ? balance : 1000 ether);
        vm.prank(donor);
        assert(agora.transfer(address(rewards), amount));
        ghost_donated += amount;
    }

    function warp(uint256 seconds_) external countCall("warp") {
        vm.warp(block.timestamp + _bound(seconds_, 0, 30 days));
    }

    /// @dev The counters that must stay 0, in one call (the invariant reads them after every call).
    function faults()
        external
        view
        returns (uint256 doubleClaims, uint256 overdraws, uint256 forgeriesPaid, uint256 wrongRefusals)
    {
        return (ghost_doubleClaims, ghost_overdraws, ghost_forgeriesPaid, ghost_wrongRefusals);
    }

    function epochs() external view returns (uint256[] memory) {
        return _epochs;
    }

    function earners() external view returns (address[] memory) {
        return _earners;
    }

    function _indexOf(address account) internal view returns (uint256 i) {
        while (_earners[i] != account) ++i;
    }

    function _skip() internal {
        ++ghost_skipped;
    }
}
