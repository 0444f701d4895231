// Account storage behind one interface: SQLite embedded by default, PostgreSQL when configured.
// Asynchronous because a networked database is. test/login/store-contract.ts states the
// behaviour every implementation must have; the notes below are its summary.
//
// Names are compared exactly: the store never normalises, normaliseUserName (names.ts) does,
// before any call. Byte fields come back as plain Uint8Array copies. A failure of the database
// itself rejects the promise; the login server turns that into a `server-error` reply.

export interface Account { name: string; passwordHash: string; createdAtMs: number }
/** devicePublicKey: the 32-byte Ed25519 key the device proved in its handshake. */
export interface Device { name: string; devicePublicKey: Uint8Array; deviceId: string; addedAtMs: number; lastLoginAtMs: number }
/** address: "host:port" as formatAddress writes it. */
export interface SupernodeEntry { address: string; publicKey: Uint8Array; lastSeenMs: number }

export interface AccountStore {
  /** 'exists' (and no change) when the name is taken, also under concurrent calls. */
  createAccount(a: Account): Promise<'created' | 'exists'>;
  getAccount(name: string): Promise<Account | undefined>;
  /** Keyed by (name, deviceId); an update keeps addedAtMs from the first insert. Rejects for an unknown account. */
  upsertDevice(d: Device): Promise<void>;
  /** Oldest first; [] for an unknown name. */
  getDevices(name: string): Promise<Device[]>;
  /** Forgets one device, so its certificates are no longer renewed. False when there was none. */
  removeDevice(name: string, deviceId: string): Promise<boolean>;
  /**
   * Compare-and-swap: replaces the hash only if it is still `oldHash` (so of two concurrent
   * changes, one wins), and in the same transaction forgets every device but `keepDeviceId`,
   * so certificates issued under the old password stop being renewed. False when the account
   * is gone or its hash has changed meanwhile.
   */
  changePassword(name: string, oldHash: string, newHash: string, keepDeviceId: string | undefined): Promise<boolean>;
  /**
   * Compare-and-swap on the hash like changePassword; removes the account and its devices and,
   * in the same transaction, records that the name was deleted at `nowMs` (see deletedAtMs).
   */
  deleteAccount(name: string, expectedHash: string, nowMs: number): Promise<boolean>;
  /** When the name's last account was deleted, if ever: certificates for it may still be valid. */
  deletedAtMs(name: string): Promise<number | undefined>;
  /** Keyed by address. */
  upsertSupernode(s: SupernodeEntry): Promise<void>;
  /** Those seen at or after sinceMs, most recently seen first, at most limit (capped by the store). */
  listSupernodes(sinceMs: number, limit: number): Promise<SupernodeEntry[]>;
  /** Small server-wide values, e.g. the server's signing key seed. */
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  /**
   * Stores `value` unless the key already has one, and returns what is stored: of several
   * processes creating the server's keys at once, all end up with the same one.
   */
  initMeta(key: string, value: string): Promise<string>;
  close(): Promise<void>;
}
