// Chat between two users, end to end inside their session. The receiving node's
// acknowledgement is the delivery receipt; the sender's name is the certified peer identity,
// never a field the sender could fill in.
import { command, f } from '../wire/schema.ts';
import { Cmd } from '../wire/commands.ts';

// Specification: longer messages are fragmented on the wire; this bounds one chat message.
export const chatTextMax = 8000;

export const Chat = command(Cmd.Chat, {
  id: f.string(1, 64),
  text: f.string(2, chatTextMax),
  sentAtMs: f.uint(3),
});
export const ChatAck = command(Cmd.ChatAck, { id: f.string(1, 64), receivedAtMs: f.uint(2) });
/** A receipt for a message that came through the recipient's offline mailbox, sent when it is read (src/chat/offline-mail.ts). */
export const ChatReceipt = command(Cmd.ChatReceipt, { id: f.string(1, 64), receivedAtMs: f.uint(2) });
