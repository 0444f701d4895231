// The shape every role's core has towards its driver (DESIGN.md, rule 1): bytes and time in,
// bytes and a deadline out. The UDP driver and the simulator both drive exactly this.
export interface DatagramCore {
  handleDatagram(path: string, bytes: Uint8Array, now: number): void;
  handleTimeout(now: number): void;
  pollTransmit(): { path: string; bytes: Uint8Array } | undefined;
  pollTimeout(): number | undefined;
}

/** Log lines a core wants the operator to see; the driver decides where they go. */
export type LogLevel = 'info' | 'warn' | 'error';
export interface LogLine { level: LogLevel; message: string }
