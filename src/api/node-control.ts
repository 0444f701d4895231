// What the local client API can ask of a running node. The runtime implements it over the
// sans-IO node core; the API server, the web UI and tests only ever see this interface.

export interface ApiErrorBody { code: string; message: string }

/** A failure the user can act on; the API turns it into a JSON error with an HTTP status. */
export class ApiError extends Error {
  constructor(readonly code: string, message: string, readonly httpStatus = 400) { super(message); }
}

export type {
  Presence, NodeStatus, LookupResult, DeviceSummary, Contact, ChatMessage, CallState, CallEndReason, CallStats, CallInfo,
} from '../node/types.ts';
import type { NodeStatus, LookupResult, Contact, ChatMessage, CallInfo, Presence, DeviceSummary } from '../node/types.ts';
import type { ConferenceInfo } from '../calls/conference-manager.ts';
export type { ConferenceInfo };
import type { ProfileFields, SearchResult } from '../node/white-pages.ts';
export type { ProfileFields, SearchResult } from '../node/white-pages.ts';

export interface CallOptions {
  playFile?: string;      // WAV to send; absolute path on the node's machine
  recordFile?: string;    // WAV to write the far end into
}

export type NodeEvent =
  | { type: 'status'; status: NodeStatus }
  | { type: 'presence'; user: string; presence: Presence }
  | { type: 'chat'; message: ChatMessage }
  | { type: 'receipt'; id: string; peer: string; deliveredAtMs: number }
  | { type: 'call'; call: CallInfo }
  | { type: 'conference'; conference: ConferenceInfo }
  | { type: 'warning'; message: string };

export interface NodeControl {
  status(): NodeStatus;
  /** `invite`: the code a network with invite-only registration asks for. */
  register(user: string, password: string, invite?: string): Promise<void>;
  login(user: string, password: string): Promise<NodeStatus>;
  logout(): Promise<void>;
  /** For the logged-in user; the account's other devices must log in again afterwards. */
  changePassword(password: string, newPassword: string): Promise<void>;
  /** Deletes the logged-in user's account on the login server, then logs out. */
  deleteAccount(password: string): Promise<void>;
  /** The logged-in user's devices, after removing `remove` if given. */
  devices(password: string, remove?: string): Promise<DeviceSummary[]>;
  lookup(user: string): Promise<LookupResult>;
  contacts(): Contact[];
  addContact(user: string): Promise<Contact>;
  removeContact(user: string): Promise<void>;
  /** Resolves when the peer's node has acknowledged the message (the delivery receipt). */
  chat(user: string, text: string): Promise<ChatMessage>;
  history(peer?: string): ChatMessage[];
  /** The user's white-pages profile (docs/overlay.md, "White pages"); set files it in the directory. */
  profile?(): ProfileFields | undefined;
  setProfile?(p: ProfileFields): Promise<ProfileFields>;
  /** Users by exact user name or by words of their display names. */
  search?(query: string): Promise<SearchResult[]>;
  /** Resolves once the callee's node rings (or the call fails). */
  call(user: string, options: CallOptions): Promise<CallInfo>;
  answer(callId: string, options?: CallOptions): Promise<CallInfo>;
  reject(callId: string): Promise<CallInfo>;
  /** Puts a call on hold from this side, or takes this side's hold off (docs/calls.md). */
  hold(callId: string): Promise<CallInfo>;
  resume(callId: string): Promise<CallInfo>;
  /** Hangs up the given call, or every call when no id is given. */
  hangup(callId?: string): Promise<CallInfo[]>;
  calls(): CallInfo[];
  subscribe(listener: (event: NodeEvent) => void): () => void;
  /**
   * Live audio of an active call for a client that does its own audio I/O (the web UI):
   * `sink` gets what the far end says (48 kHz mono PCM); `push` sends the microphone.
   * Undefined when there is no such active call.
   */
  /** Conferences (docs/calls.md, "Conferences"); optional so clients without them still fit. */
  conferences?(): ConferenceInfo[];
  conference?(id: string): ConferenceInfo;
  createConference?(invite: string[], options: CallOptions): Promise<ConferenceInfo>;
  inviteToConference?(id: string, user: string): Promise<ConferenceInfo>;
  joinConference?(id: string, options?: CallOptions): Promise<ConferenceInfo>;
  leaveConference?(id: string): Promise<ConferenceInfo>;
  audio?(callId: string, sink: (pcm: Int16Array) => void): AudioBridge | undefined;
}

export interface AudioBridge { push(pcm: Int16Array): void; close(): void }
