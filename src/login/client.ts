// The client side of the login protocol: builds each request, sends it over an Rpc to a login
// server's path, and turns the reply into a typed result. Sans-IO like the Rpc it rides on;
// the user node uses it with its own Rpc, and tests drive several servers from one Rpc.
import type { Rpc } from '../session/rpc.ts';
import type { Message } from '../wire/object-list.ts';
import { type Result, ok, err } from '../wire/result.ts';
import { Cmd } from '../wire/commands.ts';
import { describeFailure } from '../wire/replies.ts';
import type { Certificate } from '../crypto/certificate.ts';
import {
  RegisterRequest, LoginRequest, LoginOk, RenewRequest, ChangePasswordRequest, DeleteAccountRequest, DevicesRequest, DeviceList,
} from './protocol.ts';
import type { Address } from '../wire/address.ts';

export type Callback<T> = (r: Result<T>) => void;
export interface Grant { user: string; certificate: Uint8Array; supernodes: Address[]; tcpOf?: Address[]; tcpAt?: Address[] }
export interface DeviceInfo { deviceId: string; key: Uint8Array; addedAtMs: number; lastLoginAtMs: number }

// Specification: a node renews when this fraction of its certificate's lifetime has passed,
// leaving the rest (6 h of a 24 h certificate) for retries while the server is unreachable.
export const renewAtFraction = 0.75;
// Implementation: a failed renewal that may succeed later is retried this often.
export const renewRetryMs = 60_000;

/** When a node should ask to renew `cert`. */
export function renewAtMs(cert: Pick<Certificate, 'issuedAtMs' | 'expiresAtMs'>): number {
  return cert.issuedAtMs + Math.floor((cert.expiresAtMs - cert.issuedAtMs) * renewAtFraction);
}

/** Error codes after which retrying the same request cannot help. */
export const finalRenewalErrors: ReadonlySet<string> = new Set(['renewal-refused', 'bad-request', 'unknown-command']);

function call<T>(rpc: Rpc, path: string, bytes: Uint8Array, now: number, expect: number,
  decode: (m: Message) => Result<T>, cb: Callback<T>) {
  rpc.request(path, bytes, now, (r) => {
    if (!r.ok) return cb(err('login-server-unreachable', `login server: ${r.error.message}`));
    const m = r.value.message;
    if (m.command !== expect) { const f = describeFailure(m); return cb(err(f.code, f.message)); }
    cb(decode(m));
  });
}

const none = (): Result<void> => ok(undefined);
const grant = (m: Message): Result<Grant> => {
  const q = LoginOk.decode(m.body);
  return q.ok ? ok(q.value) : err('bad-reply', q.error.message);
};
const deviceList = (m: Message): Result<DeviceInfo[]> => {
  const q = DeviceList.decode(m.body);
  if (!q.ok) return err('bad-reply', q.error.message);
  const { deviceIds, keys, addedAtMs, lastLoginAtMs } = q.value;
  if (keys.length !== deviceIds.length || addedAtMs.length !== deviceIds.length || lastLoginAtMs.length !== deviceIds.length) {
    return err('bad-reply', 'device list fields differ in length');
  }
  return ok(deviceIds.map((deviceId, i) => ({ deviceId, key: keys[i], addedAtMs: addedAtMs[i], lastLoginAtMs: lastLoginAtMs[i] })));
};

export const loginClient = {
  register(rpc: Rpc, path: string, q: { user: string; password: string; deviceId: string; invite?: string }, now: number, cb: Callback<void>) {
    call(rpc, path, RegisterRequest.toBytes(q), now, Cmd.Ok, none, cb);
  },
  login(rpc: Rpc, path: string, q: { user: string; password: string; deviceId: string }, now: number, cb: Callback<Grant>) {
    call(rpc, path, LoginRequest.toBytes(q), now, Cmd.LoginOk, grant, cb);
  },
  renew(rpc: Rpc, path: string, certificate: Uint8Array, now: number, cb: Callback<Grant>) {
    call(rpc, path, RenewRequest.toBytes({ certificate }), now, Cmd.LoginOk, grant, cb);
  },
  changePassword(rpc: Rpc, path: string, q: { user: string; password: string; newPassword: string }, now: number, cb: Callback<void>) {
    call(rpc, path, ChangePasswordRequest.toBytes(q), now, Cmd.Ok, none, cb);
  },
  deleteAccount(rpc: Rpc, path: string, q: { user: string; password: string }, now: number, cb: Callback<void>) {
    call(rpc, path, DeleteAccountRequest.toBytes(q), now, Cmd.Ok, none, cb);
  },
  /** Lists the devices, removing `remove` first when given. */
  devices(rpc: Rpc, path: string, q: { user: string; password: string; remove?: string }, now: number, cb: Callback<DeviceInfo[]>) {
    call(rpc, path, DevicesRequest.toBytes(q), now, Cmd.DeviceList, deviceList, cb);
  },
};
