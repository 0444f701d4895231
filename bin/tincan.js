#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so a clone needs no build step
// and the CLI can never run stale compiled code (docs/decisions/0002-run-from-source.md).
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
