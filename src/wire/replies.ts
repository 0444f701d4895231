// The two generic replies every request may get.
import { command, f } from './schema.ts';
import { Cmd } from './commands.ts';
import type { Message } from './object-list.ts';

export const OkReply = command(Cmd.Ok, {});
export const ErrorReply = command(Cmd.Error, {
  code: f.string(1, 64),
  message: f.string(2, 512),
  retryAfterMs: f.uint(3).opt(),
});

export function errorBytes(code: string, message: string): Uint8Array {
  return ErrorReply.toBytes({ code, message });
}

/** Reads an error reply, or describes an unexpected one, for the caller's error path. */
export function describeFailure(m: Message): { code: string; message: string } {
  if (m.command === Cmd.Error) {
    const e = ErrorReply.decode(m.body);
    if (e.ok) return { code: e.value.code, message: e.value.message };
  }
  return { code: 'unexpected-reply', message: `unexpected reply (command ${m.command})` };
}
