// The parts of noise-handshake 4.2.0 (a dev dependency, used only by the interop test) we call.
declare module 'noise-handshake' {
  interface NoiseKeyPair { publicKey: Buffer; secretKey: Buffer }
  export default class NoiseState {
    constructor(pattern: string, initiator: boolean, staticKeypair?: NoiseKeyPair);
    s: NoiseKeyPair;
    e: NoiseKeyPair | null;
    rs: Buffer | null;
    protocol: Buffer;
    complete: boolean;
    tx: Buffer | null;
    rx: Buffer | null;
    hash: Buffer | null;
    initialise(prologue: Uint8Array, remoteStatic?: Uint8Array): void;
    send(payload?: Uint8Array): Buffer;
    recv(message: Uint8Array): Buffer;
  }
}
declare module 'noise-handshake/dh.js' {
  export function generateKeyPair(privKey?: Buffer): { publicKey: Buffer; secretKey: Buffer };
}
