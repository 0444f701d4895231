// Account storage behind one interface: SQLite embedded by default, PostgreSQL when configured.
// Asynchronous because a networked database is.

export interface Account { name: string; passwordHash: string; createdAtMs: number }
export interface Device { name: string; devicePublicKey: Uint8Array; deviceId: string; addedAtMs: number; lastLoginAtMs: number }
export interface SupernodeEntry { address: string; publicKey: Uint8Array; lastSeenMs: number }

export interface AccountStore {
  createAccount(a: Account): Promise<'created' | 'exists'>;
  getAccount(name: string): Promise<Account | undefined>;
  upsertDevice(d: Device): Promise<void>;
  getDevices(name: string): Promise<Device[]>;
  upsertSupernode(s: SupernodeEntry): Promise<void>;
  listSupernodes(sinceMs: number, limit: number): Promise<SupernodeEntry[]>;
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}
