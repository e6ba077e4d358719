// The wallet script every page loads: the header's wallet widget (EIP-6963 discovery, account,
// network, switch, disconnect) and the actions of the page it is on. Pages work without it.

import { startAccessPanel } from "./wallet/access";
import { startSession } from "./wallet/session";

const panel = document.getElementById("access");
if (panel) startAccessPanel(panel);
// hub.js sets this when the user clicked "Connect wallet" before this script was loaded.
void startSession(window.agoraConnectOnLoad === true);
