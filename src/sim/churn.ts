// Supernode lifetimes. "skype" follows Bremler-Barr & Goldschmidt (2011): 40 % of supernodes
// have a single session with a median residual life of 1.75 days, the rest stay 67.5 days
// (median). "heavy" is the same shape 100× faster, to see churn inside a short run.
import type { Rng } from './rng.ts';

export type ChurnModel = 'none' | 'skype' | 'heavy';
export const churnModels: ChurnModel[] = ['none', 'skype', 'heavy'];

const dayMs = 86_400_000;

/** Remaining life of a supernode in ms (Infinity without churn); exponential, so medians · 1/ln 2 are means. */
export function lifetimeMs(model: ChurnModel, rng: Rng): number {
  if (model === 'none') return Infinity;
  const scale = model === 'heavy' ? 0.01 : 1;
  const medianDays = rng.chance(0.4) ? 1.75 : 67.5;
  return rng.exp((medianDays * dayMs * scale) / Math.LN2);
}
