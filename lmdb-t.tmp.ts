import { rawLmdbWrite, makeRecords } from './bench/lib/raw-lmdb.js';
import { withTempDir } from './bench/lib/temp.js';
import { join } from 'node:path';
const recs = makeRecords(20000, 300);
const mode = process.argv[2] as 'sync' | 'async';
const r = await withTempDir((d) => rawLmdbWrite(join(d, 'x.mdb'), recs, 100, { mode }));
console.log(mode, Math.round(r));
