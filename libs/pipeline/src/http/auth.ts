/**
 * API keys → tenant. Keys come from ENGRAM_API_KEYS, or, when none are configured, one admin key for
 * tenant `default` is generated on first start, printed once, and only its SHA-256 is stored
 * (`<dataDir>/auth/keys.json`). Keys are compared by hash, so the process never needs the plain key
 * after start-up.
 */
import { createHash, hash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngramError, validateTenant } from '@engram/core';

export interface Principal {
  tenant: string;
  scopes: string[];
}

export interface Authenticator {
  authenticate(authorization: string | undefined): Principal;
}

interface StoredKey {
  tenant: string;
  sha256: string;
  scopes: string[];
  createdAt: string;
}

// One-shot hashing (Node >= 20.12) costs half of createHash per request; same digest.
const sha256 = typeof hash === 'function' ? (s: string) => hash('sha256', s, 'hex') : (s: string) => createHash('sha256').update(s).digest('hex');

export function createApiKeyAuth(options: {
  keys: Array<{ tenant: string; key: string }>;
  dataDir: string;
  /** Where the generated key is shown once. */
  announce: (message: string) => void;
}): Authenticator {
  const byHash = new Map<string, Principal>();
  if (options.keys.length > 0) {
    for (const { tenant, key } of options.keys) {
      validateTenant(tenant);
      byHash.set(sha256(key), { tenant, scopes: ['admin'] });
    }
  } else {
    for (const k of loadOrCreateStoredKeys(options.dataDir, options.announce)) byHash.set(k.sha256, { tenant: k.tenant, scopes: k.scopes });
  }
  const unauthorized = (detail: string) => new EngramError('unauthorized', detail);
  return {
    authenticate(authorization) {
      if (!authorization) throw unauthorized('missing Authorization: Bearer <key>');
      const m = /^Bearer\s+(\S+)$/i.exec(authorization);
      if (!m) throw unauthorized('Authorization must be "Bearer <key>"');
      const principal = byHash.get(sha256(m[1]!));
      if (!principal) throw unauthorized('unknown API key');
      return principal;
    },
  };
}

function loadOrCreateStoredKeys(dataDir: string, announce: (message: string) => void): StoredKey[] {
  const dir = join(dataDir, 'auth');
  const file = join(dir, 'keys.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StoredKey[];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = `egk_${randomBytes(24).toString('base64url')}`;
  const stored: StoredKey[] = [{ tenant: 'default', sha256: sha256(key), scopes: ['admin'], createdAt: new Date().toISOString() }];
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(stored, null, 2), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  announce(`Generated an admin API key for tenant "default" (shown once; only its hash is stored in ${file}):\n\n    ${key}\n\nUse it as: Authorization: Bearer ${key}`);
  return stored;
}
