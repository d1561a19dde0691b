/** The HTTP API suite (api-suite.ts) against `engram start` on embedded defaults. */
import { apiSuite } from './api-suite.js';

apiSuite('embedded');
