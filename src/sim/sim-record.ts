// Presence records in the simulator. Real records carry an Ed25519 signature under a login
// certificate; verifying 10⁵ of them per simulated second would make the simulator measure
// Ed25519, not the overlay. Simulated records carry a keyed 32-bit tag instead, checked by the
// same `verifyRecord` hook the real supernode fills with verifyPresence (docs/decisions/0014).
import { schema, f } from '../wire/schema.ts';
import { encodeObjectList } from '../wire/object-list.ts';
import { hash32, mix32 } from '../overlay/ring.ts';
import type { RecordMeta } from '../overlay/slot-store.ts';

const SimRecord = schema({ user: f.string(1, 64), publishedAtMs: f.uint(2), expiresAtMs: f.uint(3), home: f.uint(4, 0xffffffff), tag: f.uint(5, 0xffffffff) });

const tagOf = (user: string, pub: number, exp: number, home: number) => mix32(hash32(user) ^ (pub >>> 0) ^ Math.imul(exp >>> 0, 31) ^ home ^ 0x5eed);

export function simRecord(user: string, publishedAtMs: number, expiresAtMs: number, home: number): Uint8Array {
  return encodeObjectList(SimRecord.encode({ user, publishedAtMs, expiresAtMs, home, tag: tagOf(user, publishedAtMs, expiresAtMs, home) }));
}

export function verifySimRecord(bytes: Uint8Array, now: number): RecordMeta | undefined {
  // Straight from the bytes (one pass, no intermediate object list): replicas run this for every copy they receive.
  const r = SimRecord.decode(bytes);
  if (!r.ok) return undefined;
  const v = r.value;
  if (v.tag !== tagOf(v.user, v.publishedAtMs, v.expiresAtMs, v.home) || v.expiresAtMs <= now) return undefined;
  return { user: v.user, publishedAtMs: v.publishedAtMs, expiresAtMs: v.expiresAtMs };
}

export function simRecordUser(bytes: Uint8Array): string | undefined {
  const r = SimRecord.decode(bytes);
  return r.ok ? r.value.user : undefined;
}
