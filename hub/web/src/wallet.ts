// The wallet script: the header's wallet widget (EIP-6963 discovery, account, network, switch,
// disconnect) and the actions of the page it is on (an asset's "Get access" and its owner's "Edit
// metadata", publishing, the DAO's forms, a proposal's vote, running a compute job, challenging a
// result). Pages work without it.

import { startAccessPanel } from "./wallet/access";
import { startDisputePanel, startJobForm } from "./wallet/compute";
import { startDaoPanel, startVotePanel } from "./wallet/dao";
import { startMetadataPanel, startPublishForm } from "./wallet/publish";
import { startReleaseBox } from "./wallet/revenue";
import { startSession } from "./wallet/session";

const access = document.getElementById("access");
if (access) startAccessPanel(access);
const release = document.getElementById("release-box");
if (release) startReleaseBox(release);
if (document.getElementById("dao-panel")) startDaoPanel();
const jobForm = document.getElementById("job-form");
if (jobForm instanceof HTMLFormElement) startJobForm(jobForm);
const dispute = document.getElementById("dispute");
if (dispute) startDisputePanel(dispute);
const publishForm = document.getElementById("publish-form");
if (publishForm instanceof HTMLFormElement) startPublishForm(publishForm);
const editMetadata = document.getElementById("edit-metadata");
if (editMetadata) startMetadataPanel(editMetadata);
const vote = document.getElementById("vote-panel");
if (vote) startVotePanel(vote);
// hub.js sets this when the user clicked "Connect wallet" before this script was loaded.
void startSession(window.agoraConnectOnLoad === true);
