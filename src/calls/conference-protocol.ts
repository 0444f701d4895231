// Conference signaling and media between users, end to end inside their sessions
// (docs/calls.md, "Conferences"). Commands 80–89 belong to conferences.
import { command, f } from '../wire/schema.ts';
import { Cmd } from '../wire/commands.ts';
import { conferenceMembersMax } from './conference-signaling.ts';

// A roster travels as parallel lists: members with their measured capacity, and the users gone.
const roster = {
  confId: f.string(1, 64),
  users: f.strings(2, conferenceMembersMax, 64),
  /** Opus frames encoded + decoded per millisecond, × 1000. */
  cpus: f.uints(3, conferenceMembersMax),
  uplinksKbps: f.uints(4, conferenceMembersMax),
  gone: f.strings(5, conferenceMembersMax * 4, 64),
};

/** "Join us": rings at the invitee; reply `CallRinging`-like Ok, or an error. */
export const ConfInvite = command(Cmd.ConfInvite, roster);
/** The sender's view of who is in (and who left); sent on every change until all agree. */
export const ConfRoster = command(Cmd.ConfRoster, roster);
/** One media frame of the conference star (media/frame.ts), member → host or host → member. */
export const ConfMedia = command(Cmd.ConfMedia, { confId: f.string(1, 64), frame: f.bytes(2, 1400) });
