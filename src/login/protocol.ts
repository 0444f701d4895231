// Requests to the login server, carried inside a Noise session to the server's pinned key, so
// the password never crosses the network in clear (docs/login.md).
import { command, f } from '../wire/schema.ts';
import { Cmd } from '../wire/commands.ts';

export const RegisterRequest = command(Cmd.Register, {
  user: f.string(1, 64),
  password: f.string(2, 1024),
  deviceId: f.string(3, 64),
  invite: f.string(4, 128).opt(),
});

/** The device key certified is the one the requester proved in the handshake, never a field. */
export const LoginRequest = command(Cmd.Login, {
  user: f.string(1, 64),
  password: f.string(2, 1024),
  deviceId: f.string(3, 64),
});

/**
 * `tcpOf`/`tcpAt`, parallel lists: supernode `tcpOf[i]` (its UDP address, as in `supernodes`)
 * also takes TCP at `tcpAt[i]` — e.g. port 443 for nodes that only get out there (decision 0026).
 */
export const LoginOk = command(Cmd.LoginOk, {
  user: f.string(1, 32),
  certificate: f.bytes(2, 2048),
  supernodes: f.addresses(3, 64),
  tcpOf: f.addresses(4, 64).opt(),
  tcpAt: f.addresses(5, 64).opt(),
});

/** `tcp`: the supernode's TCP listeners other than its UDP address (which always takes TCP too). */
export const SupernodeAnnounce = command(Cmd.SupernodeAnnounce, { address: f.address(1), tcp: f.addresses(2, 4).opt() });
/** `promotion: false` — the operators turned promotion of ordinary nodes off network-wide (docs/overlay.md, "Promotion"). */
export const SupernodeList = command(Cmd.SupernodeList, {
  supernodes: f.addresses(1, 64), promotion: f.bool(2).opt(), tcpOf: f.addresses(3, 64).opt(), tcpAt: f.addresses(4, 64).opt(),
});

/**
 * A new certificate for the same device, before the old one expires: answered with LoginOk.
 * Needs no password; the server renews only while the device is still registered with the key
 * the requester proved in the handshake (a password change or device removal ends that).
 */
export const RenewRequest = command(Cmd.Renew, { certificate: f.bytes(1, 2048) });

/** Needs the current password. Every other device of the account must log in again. */
export const ChangePasswordRequest = command(Cmd.ChangePassword, {
  user: f.string(1, 64),
  password: f.string(2, 1024),
  newPassword: f.string(3, 1024),
});

export const DeleteAccountRequest = command(Cmd.DeleteAccount, { user: f.string(1, 64), password: f.string(2, 1024) });

/** Lists the account's devices, first removing `remove` when given; answered with DeviceList. */
export const DevicesRequest = command(Cmd.Devices, {
  user: f.string(1, 64),
  password: f.string(2, 1024),
  remove: f.string(3, 64).opt(),
});

/** Parallel lists, one entry per device, oldest first. */
export const DeviceList = command(Cmd.DeviceList, {
  deviceIds: f.strings(1, 256, 64),
  keys: f.bytesList(2, 256, 32),
  addedAtMs: f.uints(3, 256),
  lastLoginAtMs: f.uints(4, 256),
});
