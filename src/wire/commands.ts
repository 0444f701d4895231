// Command numbers: one registry, so no two layers ever claim the same number.
// Each layer declares its commands' object lists next to its own code (see docs/wire.md).
export const Cmd = {
  // generic replies
  Ok: 1,
  Error: 2,
  // node/supernode ↔ login server
  Register: 10,
  Login: 11,
  LoginOk: 12,
  SupernodeAnnounce: 13,
  SupernodeList: 14,
  Renew: 15,
  ChangePassword: 16,
  DeleteAccount: 17,
  Devices: 18,
  DeviceList: 19,
  // node ↔ supernode, supernode ↔ supernode
  Hello: 20,
  HelloOk: 21,
  Publish: 22,
  Lookup: 23,
  LookupOk: 24,
  PeerHello: 25,
  // 26–28 were Store, Sync and SyncOk of the first, fully replicated directory: retired, not reused.
  Relay: 29,
  Relayed: 30,
  RelayBind: 31,
  RelayBindOk: 32,
  // reachability (src/nat): hole punching coordinated by the callee's supernode
  PunchRequest: 70,
  PunchOk: 71,
  PunchNotice: 72,
  PunchNoticeOk: 73,
  // reachability: measuring the NAT's binding timeout (src/nat/binding-timeout.ts)
  BindingProbe: 74,
  BindingEcho: 75,
  // promotion (src/node/promotion.ts): supernodes verify that a node is reachable from outside
  ReachRequest: 90,
  ReachOk: 91,
  ReachProbe: 92,
  ReachProbeOk: 93,
  ReachPing: 94,
  // user ↔ user, end to end
  Chat: 40,
  ChatAck: 41,
  ChatReceipt: 42,
  CallInvite: 50,
  CallRinging: 51,
  CallAnswer: 52,
  CallHangup: 53,
  Media: 54,
  CallHold: 59,
  // the overlay (src/overlay/messages.ts)
  OvJoin: 100,
  OvMembers: 101,
  OvEvents: 102,
  OvPing: 103,
  OvPong: 104,
  OvMemberDigest: 105,
  OvRoute: 106,
  OvAnswer: 107,
  OvReplicate: 108,
  OvSlotDigest: 109,
  ClRequest: 110,
  ClAnswer: 111,
  // the Kademlia baseline the simulator compares against (src/sim/kademlia.ts); never on the real network
  KadFind: 120,
  KadFound: 121,
  KadStore: 122,
  // conferences (calls/conference-*.ts); 80–89 belong to them
  ConfInvite: 80,
  ConfRoster: 81,
  ConfMedia: 82,
} as const;
