#!/usr/bin/env node
// The `engram` CLI. Sources are TypeScript run through tsx's loader, so a fresh clone needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../apps/engram/src/main.ts');
