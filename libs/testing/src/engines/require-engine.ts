/**
 * Skip-or-fail for tests that need a real engine. Without the engine's setting a test is skipped
 * with a reason that says how to get the engine (`t.skip(…)` inside the test, so the report shows
 * why), unless `ENGRAM_REQUIRE_ENGINES=1` (CI), where a missing engine is a failure that names it:
 * CI must never go green because its engines silently did not start.
 */
import assert from 'node:assert/strict';
import { it, type TestContext } from 'node:test';
import { engineEnv, type EngineEnvOptions } from './engine-env.js';

export type RequireEngineOptions = EngineEnvOptions;

/** The part of node's TestContext the helpers use (so they can be tested with a stand-in). */
export type SkippableTest = Pick<TestContext, 'skip'>;

/** True when `ENGRAM_REQUIRE_ENGINES=1`: a missing engine fails instead of skipping. */
export function enginesRequired(options: RequireEngineOptions = {}): boolean {
  return (options.processEnv ?? process.env).ENGRAM_REQUIRE_ENGINES === '1';
}

function missingMessage(engine: string, settingName: string): string {
  return `${engine} engine not available: ${settingName} is not set (run \`npm run engines:up\`, which writes .engines/env)`;
}

/**
 * The engine's connection setting, or `undefined` once the test has been marked skipped; the
 * caller returns at once in that case:
 *
 * ```ts
 * it('talks to kafka', async (t) => {
 *   const brokers = requireEngine(t, 'kafka', 'ENGRAM_KAFKA_BROKERS');
 *   if (brokers === undefined) return;
 *   …
 * });
 * ```
 *
 * @throws AssertionError naming the engine when the setting is absent and ENGRAM_REQUIRE_ENGINES=1.
 */
export function requireEngine(t: SkippableTest, engine: string, settingName: string, options: RequireEngineOptions = {}): string | undefined {
  const value = engineEnv(options)[settingName];
  if (value !== undefined) return value;
  if (enginesRequired(options)) assert.fail(`${missingMessage(engine, settingName)}, and ENGRAM_REQUIRE_ENGINES=1 requires it`);
  t.skip(missingMessage(engine, settingName));
  return undefined;
}

/**
 * For whole suites (contract suites built from a factory): with the engine's setting, runs
 * `suite(value)` to declare the real tests; without it, declares one test named after the suite
 * that skips (or, under ENGRAM_REQUIRE_ENGINES=1, fails) with the same reason as `requireEngine`.
 */
export function withEngine(
  title: string,
  engine: string,
  settingName: string,
  suite: (value: string) => void,
  options: RequireEngineOptions = {},
): void {
  const value = engineEnv(options)[settingName];
  if (value !== undefined) {
    suite(value);
    return;
  }
  it(title, (t) => {
    requireEngine(t, engine, settingName, options);
  });
}
