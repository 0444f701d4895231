// The data a node reports about itself: shared by the node core, the runtime and the local API.

export type Presence = 'online' | 'offline' | 'unknown';

export interface NodeStatus {
  user: string | undefined;           // signed-in user name, if any
  loggedIn: boolean;
  certificateExpiresAtMs: number | undefined;
  supernode: string | undefined;      // HOST:PORT of the supernode this node is attached to
  hostCacheSize?: number;             // supernodes in the host cache (docs/host-cache.md)
  publicAddress: string | undefined;  // as observed by the supernode
  listen: string;                     // this node's UDP address
  loginServer: string;
  loginServerKey: string | undefined; // pinned Ed25519 key, base64url
  directAllowed: boolean;
  calls: CallInfo[];
  /** Call signals from peers that were malformed, unknown or out of place: dropped. */
  callSignalsDropped?: number;
  transport?: 'udp' | 'tcp';          // how we reach supernodes (tcp: UDP got no answer)
  /** Promotion to supernode (docs/overlay.md, "Promotion"): ordinary, candidate or supernode, and why. */
  promotion?: { state: string; reason: string; supernode?: string };
  nat?: {
    kind: string; mapping: string; filtering: string; publicAddresses: string[]; needsBirthday: boolean;
    /** The NAT's idle binding lifetime as measured, and the keep-alive interval chosen from it. */
    binding?: { aliveMs: number | undefined; expiredMs: number | undefined; keepaliveMs: number; state: string };
    /** Port mapping at the default gateway (src/nat/port-mapper.ts): which protocol granted it, or what each said; absent when not tried. */
    portMapping?: {
      state: string; gateway: string; publicAddress: string | undefined; externalPort: number | undefined; lifetimeS: number | undefined; error: string | undefined;
      protocol?: string; attempts?: { protocol: string; state: string; error: string | undefined; publicAddress: string | undefined }[];
    };
    /** IPv6 (src/nat/ipv6.ts): our IPv6 socket's address, and whether a supernode answered over IPv6. */
    ipv6?: { state: string; local: string | undefined; observed: string | undefined; supernode: string | undefined; error: string | undefined };
  };
}

/** One of the account's devices, as the login server lists them. */
export interface DeviceSummary { deviceId: string; key: string; addedAtMs: number; lastLoginAtMs: number; thisDevice: boolean }

export interface LookupResult {
  user: string;
  online: boolean;
  addresses: string[];                // direct candidates (empty when the user forbids direct paths)
  supernode: string | undefined;      // where the user can be reached through a relay
  publishedAtMs: number;
  expiresAtMs: number;
}

export interface Contact { user: string; presence: Presence; lastSeenMs: number | undefined }

export interface ChatMessage {
  id: string;
  peer: string;                       // the other user
  direction: 'in' | 'out';
  text: string;
  sentAtMs: number;
  deliveredAtMs: number | undefined;  // receipt time for outgoing messages
  /** Went through the recipient's offline mailbox (sealed end to end; docs/decisions/0018). */
  offline?: boolean;
}

/** docs/calls.md: `incoming` rings here; `answering` waits for the caller to confirm we answered first. */
export type CallState = 'calling' | 'ringing' | 'incoming' | 'answering' | 'active' | 'on-hold' | 'remote-hold' | 'both-hold' | 'ended';
export type CallEndReason =
  | 'hung-up' | 'remote-hung-up' | 'rejected' | 'busy' | 'no-answer' | 'cancelled' | 'failed'
  | 'answered-elsewhere'  // another device of the callee answered first
  | 'merged';             // both called each other at once; the other call won (docs/calls.md, glare)

export interface CallStats {
  framesSent: number;
  framesReceived: number;
  framesConcealed: number;
  framesRecoveredFec: number;
  framesLate: number;
  bytesSent: number;
  bytesReceived: number;
  // Call quality, refreshed every second while the call is active (media/media-session.ts).
  sendKbps: number;
  recvKbps: number;
  lossPct: number;               // incoming audio lost on the network, last second (before FEC/PLC)
  jitterMs: number;              // incoming interarrival jitter (RFC 3550)
  rttMs: number | undefined;     // from the receiver reports' echoed clocks
  jitterBufferMs: number;
  mos: number | undefined;       // estimated by the ITU-T G.107 E-model (1–4.5)
  framesExpanded: number;        // played while waiting for late audio
  framesDropped: number;         // cut to bring the delay down when the network calmed
  firstFrameAtMs?: number;           // when the first audio frame arrived (time to first audio)
}

export interface CallInfo {
  id: string;
  peer: string;
  direction: 'out' | 'in';
  state: CallState;
  path: 'direct' | 'relay' | undefined;
  via?: string;                       // the session path (session/paths.ts)
  route?: string;                     // e.g. "direct udp 203.0.113.22:5000", "relay via 203.0.113.11:7001 over tcp"
  routeReason?: string;               // why this path: what punching found, or why there was none
  movedToDirectAtMs?: number;         // when a call that started relayed moved to a direct path
  endReason: CallEndReason | undefined;
  startedAtMs: number;
  answeredAtMs: number | undefined;
  endedAtMs: number | undefined;
  stats: CallStats;
}

