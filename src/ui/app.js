// The web UI: talks only to this node's local API (HTTP + the /api/events WebSocket).
'use strict';
const $ = (id) => document.getElementById(id);
const state = { status: null, contacts: [], peer: null, history: [], calls: new Map() };

async function api(method, route, body) {
  const res = await fetch(`/api/${route}`, {
    method, headers: body ? { 'content-type': 'application/json' } : undefined, body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(json.error ? json.error.message : `error ${res.status}`);
  return json;
}

function showError(id, e) { $(id).textContent = e ? (e.message || String(e)) : ''; }

function renderStatus() {
  const s = state.status;
  if (!s) return;
  $('status').textContent = s.loggedIn
    ? `${s.user} · supernode ${s.supernode || '—'} · public address ${s.publicAddress || '—'}${s.directAllowed ? '' : ' · relay only'}`
    : 'not signed in';
  $('signin').hidden = s.loggedIn;
  $('app').hidden = !s.loggedIn;
}

function renderContacts() {
  const ul = $('contacts');
  ul.replaceChildren(...state.contacts.map((c) => {
    const li = document.createElement('li');
    li.className = c.user === state.peer ? 'selected' : '';
    const name = document.createElement('span');
    const dot = document.createElement('span');
    dot.className = `dot ${c.presence === 'online' ? 'online' : ''}`;
    name.append(dot, c.user);
    li.append(name);
    li.title = c.presence;
    li.onclick = () => selectPeer(c.user);
    return li;
  }));
}

function renderMessages() {
  const list = state.history.filter((m) => m.peer === state.peer);
  $('messages').replaceChildren(...list.map((m) => {
    const li = document.createElement('li');
    li.className = m.direction;
    li.textContent = m.text;
    if (m.direction === 'out' && m.deliveredAtMs) {
      const t = document.createElement('span'); t.className = 'tick'; t.textContent = '✓ delivered'; li.append(t);
    } else if (m.direction === 'out' && m.offline) {
      const t = document.createElement('span'); t.className = 'tick'; t.textContent = '✉ waiting in their mailbox'; li.append(t);
    }
    return li;
  }));
}

// docs/calls.md: the states a call shows in the bar, and which of them can be held or resumed.
const callWords = {
  calling: 'Calling', ringing: 'Ringing', answering: 'Connecting to', active: 'In call with',
  'on-hold': 'On hold with', 'remote-hold': 'Held by', 'both-hold': 'On hold (both sides) with',
};
const endWords = {
  'hung-up': 'you hung up', 'remote-hung-up': 'they hung up', rejected: 'declined', busy: 'busy', 'no-answer': 'no answer',
  cancelled: 'cancelled', failed: 'failed', 'answered-elsewhere': 'answered on another device', merged: 'merged with their call',
};

function renderCalls() {
  const all = [...state.calls.values()];
  const live = all.filter((c) => c.state !== 'ended');
  const last = all.filter((c) => c.state === 'ended').sort((a, b) => (b.endedAtMs ?? 0) - (a.endedAtMs ?? 0))[0];
  $('call-ended').hidden = live.length > 0 || !last;
  if (last) $('call-ended').textContent = `Call with ${last.peer} ended: ${endWords[last.endReason] ?? last.endReason ?? 'failed'}`;
  const incoming = live.find((c) => c.state === 'incoming');
  $('incoming').hidden = !incoming;
  if (incoming) { $('incoming-text').textContent = `${incoming.peer} is calling`; $('incoming').dataset.id = incoming.id; }
  const current = live.find((c) => c.state !== 'incoming');
  $('call-bar').hidden = !current;
  if (current) {
    $('call-bar').dataset.id = current.id;
    $('call-text').textContent = `${callWords[current.state] ?? current.state} ${current.peer}${current.path ? ` (${current.path})` : ''}`;
    const held = current.state === 'on-hold' || current.state === 'both-hold';
    $('hold').hidden = !(held || current.state === 'active' || current.state === 'remote-hold');
    $('hold').textContent = held ? 'Resume' : 'Hold';
    const s = current.stats;
    const quality = s.mos === undefined ? '' : ` · ${s.recvKbps.toFixed(0)} kb/s · loss ${s.lossPct.toFixed(1)} % · jitter ${s.jitterMs.toFixed(0)} ms${s.rttMs === undefined ? '' : ` · RTT ${s.rttMs.toFixed(0)} ms`} · MOS ${s.mos.toFixed(1)}`;
    $('call-stats').textContent = `sent ${s.framesSent} · received ${s.framesReceived} · concealed ${s.framesConcealed} · FEC ${s.framesRecoveredFec}${quality}`;
  }
  $('call').disabled = !state.peer || !!current;
  // Audio flows while a call is active, and stops with it.
  if (current && current.state === 'active') window.tincanAudio.start(current.id);
  else window.tincanAudio.stop();
}

async function selectPeer(user) {
  state.peer = user;
  $('peer-title').textContent = user;
  $('text').disabled = $('send-button').disabled = false;
  renderContacts(); renderCalls();
  state.history = await api('GET', 'history').catch(() => state.history);
  renderMessages();
}

async function refresh() {
  state.status = await api('GET', 'status');
  renderStatus();
  if (!state.status.loggedIn) return;
  state.contacts = await api('GET', 'contacts');
  state.history = await api('GET', 'history');
  for (const c of await api('GET', 'calls')) state.calls.set(c.id, c);
  renderContacts(); renderMessages(); renderCalls();
}

function connectEvents() {
  const ws = new WebSocket(`ws://${location.host}/api/events`);
  ws.onmessage = (ev) => {
    const e = JSON.parse(ev.data);
    if (e.type === 'status') { const was = state.status && state.status.loggedIn; state.status = e.status; renderStatus(); if (!was && e.status.loggedIn) refresh(); }
    if (e.type === 'chat') { state.history.push(e.message); renderMessages(); }
    if (e.type === 'receipt') { const m = state.history.find((x) => x.id === e.id); if (m) m.deliveredAtMs = e.deliveredAtMs; renderMessages(); }
    if (e.type === 'presence') { const c = state.contacts.find((x) => x.user === e.user); if (c) c.presence = e.presence; renderContacts(); }
    if (e.type === 'call') { state.calls.set(e.call.id, e.call); renderCalls(); }
    if (e.type === 'warning') showError('app-error', new Error(e.message));
  };
  ws.onclose = () => { $('status').textContent = 'lost the connection to your node; retrying…'; setTimeout(connectEvents, 2000); };
}

$('signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const action = ev.submitter && ev.submitter.dataset.action;
  const user = $('user').value.trim(), password = $('password').value;
  showError('signin-error');
  try {
    const invite = $('invite').value.trim() || undefined;
    if (action === 'register') await api('POST', 'register', { user, password, invite });
    await api('POST', 'login', { user, password });
    await refresh();
  } catch (e) { showError('signin-error', e); }
});

$('add-contact').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    const c = await api('POST', 'contacts', { user: $('contact-name').value.trim() });
    state.contacts = state.contacts.filter((x) => x.user !== c.user).concat(c);
    $('contact-name').value = '';
    renderContacts();
  } catch (e) { showError('app-error', e); }
});

$('send').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const text = $('text').value;
  if (!text || !state.peer) return;
  $('text').value = '';
  try {
    const m = await api('POST', 'chat', { to: state.peer, text });
    state.history.push(m);
    renderMessages();
    showError('app-error');
  } catch (e) { showError('app-error', e); }
});

$('call').onclick = async () => {
  try { const c = await api('POST', 'call', { to: state.peer }); state.calls.set(c.id, c); renderCalls(); } catch (e) { showError('app-error', e); }
};
$('hold').onclick = () => {
  const id = $('call-bar').dataset.id;
  const c = state.calls.get(id);
  const held = c && (c.state === 'on-hold' || c.state === 'both-hold');
  api('POST', `calls/${id}/${held ? 'resume' : 'hold'}`).catch((e) => showError('app-error', e));
};
$('hangup').onclick = () => api('POST', 'hangup', { callId: $('call-bar').dataset.id }).catch((e) => showError('app-error', e));
$('answer').onclick = () => api('POST', `calls/${$('incoming').dataset.id}/answer`, {}).catch((e) => showError('app-error', e));
$('reject').onclick = () => api('POST', `calls/${$('incoming').dataset.id}/reject`).catch((e) => showError('app-error', e));

refresh().catch((e) => { $('status').textContent = e.message; });
connectEvents();
