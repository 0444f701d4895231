// Estimated call quality by the ITU-T G.107 E-model, reduced to the terms a VoIP endpoint can
// measure (the "simplified E-model" of Cole & Rosenbluth, 2001, with G.107's default values for
// everything acoustic): R = 93.2 − Id(delay) − Ie,eff(codec, loss), then MOS-CQE from R.
//
// Opus has no equipment-impairment entry in ITU-T G.113, so its Ie and Bpl here are our own
// assumptions (docs/decisions/0011-media-pipeline.md): Ie falls from 11 at 12 kb/s (where
// G.729 sits) to 0 at 32 kb/s and above, and Bpl is 20 with concealment (G.113 gives 19–25
// for codecs with PLC) and 4.3 without (G.711 without PLC).

export interface EModelInput {
  oneWayDelayMs: number;   // mouth to ear: network + jitter buffer + framing + codec lookahead
  lossPct: number;         // loss left after FEC, as heard
  bitrateBps: number;
  plc?: boolean;           // default on
  burstRatio?: number;     // 1 = random loss
}

export function rFactor(i: EModelInput): number {
  const d = Math.max(0, i.oneWayDelayMs);
  const id = 0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0);
  const kbps = i.bitrateBps / 1000;
  const ie = kbps >= 32 ? 0 : kbps <= 12 ? 11 : 11 * (32 - kbps) / 20;
  const bpl = (i.plc ?? true) ? 20 : 4.3;
  const ppl = Math.max(0, Math.min(100, i.lossPct));
  const ieEff = ie + (95 - ie) * ppl / (ppl / (i.burstRatio ?? 1) + bpl);
  return 93.2 - id - ieEff;
}

/** G.107 Annex B: MOS (conversational quality, estimated) from R. */
export function mosFromR(r: number): number {
  if (r <= 0) return 1;
  if (r >= 100) return 4.5;
  return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
}

export const estimateMos = (i: EModelInput) => mosFromR(rFactor(i));
