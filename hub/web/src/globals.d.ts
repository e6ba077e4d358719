// What the hub's scripts share through `window`.

interface Window {
  /** Set by hub.js before it imports the wallet script on a click: open the wallet chooser at once. */
  agoraConnectOnLoad?: boolean;
}
