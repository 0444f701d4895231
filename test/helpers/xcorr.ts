// Normalised cross-correlation after aligning for delay, for comparing a recording with what
// was sent. The delay search runs in the frequency domain (one FFT correlation), so seconds of
// 48 kHz audio with seconds of possible lag cost well under a second.

export function alignedCorrelation(reference: ArrayLike<number>, recorded: ArrayLike<number>, maxLagSamples: number): { correlation: number; lagSamples: number } {
  const m = reference.length;
  const recLen = Math.min(recorded.length, m + maxLagSamples);
  let size = 1;
  while (size < m + recLen) size <<= 1;
  const ar = new Float64Array(size), ai = new Float64Array(size);
  const br = new Float64Array(size), bi = new Float64Array(size);
  for (let i = 0; i < m; i++) ar[i] = reference[i];
  for (let i = 0; i < recLen; i++) br[i] = recorded[i];
  fft(ar, ai, false); fft(br, bi, false);
  // conj(A) * B
  for (let i = 0; i < size; i++) {
    const re = ar[i] * br[i] + ai[i] * bi[i];
    const im = ar[i] * bi[i] - ai[i] * br[i];
    ar[i] = re; ai[i] = im;
  }
  fft(ar, ai, true);
  // Energy of each recorded window of the reference's length, by prefix sums.
  const prefix = new Float64Array(recLen + 1);
  for (let i = 0; i < recLen; i++) prefix[i + 1] = prefix[i] + Number(recorded[i]) ** 2;
  let refEnergy = 0;
  for (let i = 0; i < m; i++) refEnergy += Number(reference[i]) ** 2;
  let best = { correlation: 0, lagSamples: 0 };
  for (let lag = 0; lag <= maxLagSamples && lag < recLen; lag++) {
    const e = prefix[Math.min(recLen, lag + m)] - prefix[lag];
    if (e <= 0 || refEnergy <= 0) continue;
    const c = ar[lag] / size / Math.sqrt(e * refEnergy);
    if (c > best.correlation) best = { correlation: c, lagSamples: lag };
  }
  return best;
}

/**
 * How well a recording carries each piece of the reference: every `windowSamples` piece is
 * looked for on its own anywhere in the first `maxLagSamples` of the recording, and the median
 * of their correlations is the figure. An adaptive jitter buffer stretches and cuts a real-time
 * recording by whole frames as timer jitter comes and goes, so no single lag fits all of it;
 * per-piece alignment measures what the listener heard rather than when.
 */
export function windowedCorrelation(reference: Int16Array | Float32Array, recorded: ArrayLike<number>,
  windowSamples = 24_000, maxLagSamples = recorded.length): { median: number; windows: number[] } {
  const windows: number[] = [];
  for (let w = 0; w + windowSamples <= reference.length; w += windowSamples) {
    windows.push(alignedCorrelation(reference.subarray(w, w + windowSamples), recorded, maxLagSamples).correlation);
  }
  const sorted = [...windows].sort((a, b) => a - b);
  return { median: sorted.length ? sorted[Math.floor(sorted.length / 2)] : 0, windows };
}

/** In-place iterative radix-2 FFT (inverse without the 1/n scale). */
function fft(re: Float64Array, im: Float64Array, inverse: boolean) {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) { [re[i], re[j]] = [re[j], re[i]]; [im[i], im[j]] = [im[j], im[i]]; }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (2 * Math.PI / len) * (inverse ? 1 : -1);
    const wr = Math.cos(ang), wi = Math.sin(ang);
    for (let i = 0; i < n; i += len) {
      let cr = 1, ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const ur = re[i + k], ui = im[i + k];
        const xr = re[i + k + len / 2], xi = im[i + k + len / 2];
        const vr = xr * cr - xi * ci, vi = xr * ci + xi * cr;
        re[i + k] = ur + vr; im[i + k] = ui + vi;
        re[i + k + len / 2] = ur - vr; im[i + k + len / 2] = ui - vi;
        const ncr = cr * wr - ci * wi;
        ci = cr * wi + ci * wr; cr = ncr;
      }
    }
  }
}
