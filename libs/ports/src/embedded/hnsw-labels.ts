/**
 * hnswlib's integer labels of one collection, as the main thread sees them. The main thread assigns
 * a label when it commits a row to LMDB (the row records it), so it alone tracks which labels are
 * free; the graph worker only applies the labels it is sent.
 *
 * Every label below `next` is either owned by exactly one live row or free, so the number of live
 * items is `next - free.size`: `count()` needs no other bookkeeping and no round trip to the worker.
 */
export class LabelAllocator {
  /** Labels of deleted items, reused before new ones so the graph does not grow without bound. */
  private readonly free = new Set<number>();
  private next = 0;

  /** @param live the labels of the collection's live rows, in any order */
  constructor(live: Iterable<number> = []) {
    for (const label of live) this.claim(label);
  }

  /** Live items in the collection. */
  get liveCount(): number {
    return this.next - this.free.size;
  }

  /**
   * Labels for new items, without claiming them: the caller commits to LMDB first and claims them
   * only once that succeeded, so a failed commit leaves nothing behind.
   */
  candidates(): () => number {
    const free = this.free.values();
    let next = this.next;
    return () => {
      const reused = free.next();
      return reused.done === true ? next++ : reused.value;
    };
  }

  /** Marks `label` as owned by a live row (idempotent). */
  claim(label: number): void {
    for (let l = this.next; l < label; l++) this.free.add(l);
    this.next = Math.max(this.next, label + 1);
    this.free.delete(label);
  }

  /** Frees the label of a row that was just deleted. */
  release(label: number): void {
    if (label < this.next) this.free.add(label);
  }
}
