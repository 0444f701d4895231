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

export const LoginOk = command(Cmd.LoginOk, {
  user: f.string(1, 32),
  certificate: f.bytes(2, 2048),
  supernodes: f.addresses(3, 64),
});

export const SupernodeAnnounce = command(Cmd.SupernodeAnnounce, { address: f.address(1) });
export const SupernodeList = command(Cmd.SupernodeList, { supernodes: f.addresses(1, 64) });
