// Call signaling and media between two users, end to end inside their session (docs/calls.md).
import { command, f } from '../wire/schema.ts';
import { Cmd } from '../wire/commands.ts';

export const CallInvite = command(Cmd.CallInvite, {
  callId: f.string(1, 64),
  codec: f.string(2, 16),
  frameMs: f.uint(3, 120),
});
/** The callee's answer to an invite: its devices are ringing. */
export const CallRinging = command(Cmd.CallRinging, { callId: f.string(1, 64) });
export const CallAnswer = command(Cmd.CallAnswer, { callId: f.string(1, 64) });
/** Ends the call, or one device's part in it; `reason` is the sender's end reason (docs/calls.md). */
export const CallHangup = command(Cmd.CallHangup, { callId: f.string(1, 64), reason: f.string(2, 32) });
/** Puts the call on hold (held = true) or takes it off hold, from the sender's side. */
export const CallHold = command(Cmd.CallHold, { callId: f.string(1, 64), held: f.bool(2) });
/** One media frame (media/frame.ts), already carrying its own sequence number and timestamp. */
export const Media = command(Cmd.Media, { callId: f.string(1, 64), frame: f.bytes(2, 1400) });
