/**
 * A wake-up signal between components of one process (projection → subscriptions). Waiters also
 * time out, so a component in another process still makes progress by re-reading.
 */
export interface Signal {
  notify(): void;
  /** Resolves on the next notify, after timeoutMs, or when the abort signal fires. */
  wait(timeoutMs: number, abort?: AbortSignal): Promise<void>;
}

export function createSignal(): Signal {
  let waiters: Array<() => void> = [];
  return {
    notify() {
      const current = waiters;
      waiters = [];
      for (const w of current) w();
    },
    wait(timeoutMs, abort) {
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          abort?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        abort?.addEventListener('abort', done, { once: true });
        waiters.push(done);
      });
    },
  };
}
