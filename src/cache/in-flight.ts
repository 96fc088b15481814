/**
 * Shares one running task per key, so concurrent requests for the same blob
 * or index make one fetch. The entry is dropped when the task settles, so a
 * failed task is tried afresh by the next caller.
 */
export class InFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  run(key: string, task: () => Promise<T>): Promise<T> {
    const existing = this.running.get(key);
    if (existing) return existing;

    const promise = task().finally(() => this.running.delete(key));
    this.running.set(key, promise);
    return promise;
  }

  /** Returns the task running for `key`, or undefined when none is. */
  get(key: string): Promise<T> | undefined {
    return this.running.get(key);
  }
}
