// Real processes for end-to-end tests: start `tincan` roles, wait for their ready line,
// and always stop what we started (by PID), even when a test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { once } from 'node:events';

const bin = path.resolve(import.meta.dirname, '../../bin/tincan.js');

export interface Started { proc: ChildProcess; info: Record<string, any>; stderr: () => string }

const started: ChildProcess[] = [];

export async function startRole(args: string[], timeoutMs = 20_000): Promise<Started> {
  const proc = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(proc);
  let err = '';
  proc.stderr!.on('data', (d) => { err += d; if (process.env.TINCAN_TEST_VERBOSE) process.stderr.write(d); });
  let out = '';
  const info = await new Promise<Record<string, any>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} not ready within ${timeoutMs} ms; stderr:\n${err}`)), timeoutMs);
    proc.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{') && l.includes('"ready"'));
      if (line) { clearTimeout(timer); resolve(JSON.parse(line)); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${args[0]} exited with ${code} before ready; stderr:\n${err}`)); });
  });
  return { proc, info, stderr: () => err };
}

export interface CliResult { code: number; stdout: string; stderr: string; json: any }

export async function cli(args: string[], timeoutMs = 60_000): Promise<CliResult> {
  const proc = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  proc.stdout!.on('data', (d) => { stdout += d; });
  proc.stderr!.on('data', (d) => { stderr += d; });
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const [code] = await once(proc, 'exit') as [number | null];
  clearTimeout(timer);
  let json: any;
  try { json = JSON.parse(stdout); } catch { json = undefined; }
  return { code: code ?? -1, stdout, stderr, json };
}

export async function stopAll() {
  const live = started.splice(0).filter((p) => p.exitCode === null && p.signalCode === null);
  await Promise.all(live.map(async (p) => {
    const exited = once(p, 'exit');
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }));
}

export { waitFor } from '../helpers/wait.ts';

export async function api(base: string, route: string, init?: { method?: string; body?: unknown }): Promise<any> {
  const res = await fetch(`http://${base}/api/${route}`, {
    method: init?.method ?? 'GET',
    headers: init?.body ? { 'content-type': 'application/json' } : undefined,
    body: init?.body ? JSON.stringify(init.body) : undefined,
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`${route}: ${JSON.stringify(body)}`);
  return body;
}
