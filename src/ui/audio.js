// Call audio in the browser: the microphone (getUserMedia) goes to the local node as 16-bit
// 48 kHz mono PCM over a WebSocket, and what the node receives from the far end comes back
// the same way and is played through Web Audio. The node does all the network work.
(() => {
  const frameSamples = 960;          // 20 ms: what the node encodes at a time
  const playAheadS = 0.06;           // scheduling slack for the far end's audio
  let current;                       // { callId, ws, ctx, stream, nextTime }
  // Counters a test (or a curious user) can read.
  const stats = { callId: undefined, sentSamples: 0, receivedSamples: 0, received: [], keepReceivedMax: 48_000 * 10 };

  async function start(callId) {
    if (current && current.callId === callId) return;
    stop();
    const ctx = new AudioContext({ sampleRate: 48_000 });
    const ws = new WebSocket(`ws://${location.host}/api/audio?call=${encodeURIComponent(callId)}`);
    ws.binaryType = 'arraybuffer';
    const me = { callId, ws, ctx, stream: undefined, nextTime: 0 };
    current = me;
    Object.assign(stats, { callId, sentSamples: 0, receivedSamples: 0, received: [] });
    ws.onmessage = (ev) => {
      if (!(ev.data instanceof ArrayBuffer) || current !== me) return;
      const pcm = new Int16Array(ev.data);
      stats.receivedSamples += pcm.length;
      if (stats.received.length < stats.keepReceivedMax) stats.received.push(...pcm);
      const buf = ctx.createBuffer(1, pcm.length, 48_000);
      const ch = buf.getChannelData(0);
      for (let i = 0; i < pcm.length; i++) ch[i] = pcm[i] / 32768;
      const src = ctx.createBufferSource();
      src.buffer = buf;
      src.connect(ctx.destination);
      // Play back to back; after a gap, restart a little ahead of now.
      me.nextTime = Math.max(me.nextTime, ctx.currentTime + playAheadS);
      src.start(me.nextTime);
      me.nextTime += buf.duration;
    };
    try {
      me.stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: false, autoGainControl: false } });
    } catch (e) {
      console.warn('no microphone; listening only', e);
      return;
    }
    if (current !== me) { me.stream.getTracks().forEach((t) => t.stop()); return; }
    const source = ctx.createMediaStreamSource(me.stream);
    // ScriptProcessor is deprecated but needs no second file (AudioWorklet would).
    const proc = ctx.createScriptProcessor(2048, 1, 1);
    let pending = new Int16Array(0);
    proc.onaudioprocess = (ev) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      const input = ev.inputBuffer.getChannelData(0);
      const joined = new Int16Array(pending.length + input.length);
      joined.set(pending);
      for (let i = 0; i < input.length; i++) joined[pending.length + i] = Math.max(-32768, Math.min(32767, Math.round(input[i] * 32767)));
      let at = 0;
      for (; at + frameSamples <= joined.length; at += frameSamples) {
        ws.send(joined.slice(at, at + frameSamples).buffer);
        stats.sentSamples += frameSamples;
      }
      pending = joined.slice(at);
    };
    const mute = ctx.createGain();
    mute.gain.value = 0; // the processor must reach the destination to run; we do not want to hear ourselves
    source.connect(proc); proc.connect(mute); mute.connect(ctx.destination);
  }

  function stop() {
    if (!current) return;
    const c = current;
    current = undefined;
    try { c.ws.close(); } catch { /* already closed */ }
    if (c.stream) c.stream.getTracks().forEach((t) => t.stop());
    c.ctx.close().catch(() => {});
  }

  window.tincanAudio = { start, stop, stats };
})();
