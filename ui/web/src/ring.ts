/** Fixed-capacity ring: the cockpit keeps a bounded history whatever the session length. */
export class Ring<T> {
  private readonly buf: (T | undefined)[];
  private start = 0;
  private len = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity <= 0) {
      throw new Error(`ring capacity must be a positive integer, got ${capacity}`);
    }
    this.buf = new Array(capacity);
  }

  get length(): number {
    return this.len;
  }

  push(value: T): void {
    if (this.len < this.capacity) {
      this.buf[(this.start + this.len) % this.capacity] = value;
      this.len += 1;
    } else {
      this.buf[this.start] = value;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  /** i = 0 is the oldest element. */
  at(i: number): T | undefined {
    if (i < 0 || i >= this.len) return undefined;
    return this.buf[(this.start + i) % this.capacity];
  }

  last(): T | undefined {
    return this.len === 0 ? undefined : this.at(this.len - 1);
  }

  clear(): void {
    this.start = 0;
    this.len = 0;
    this.buf.fill(undefined);
  }

  toArray(): T[] {
    const out: T[] = new Array(this.len);
    for (let i = 0; i < this.len; i++) out[i] = this.buf[(this.start + i) % this.capacity] as T;
    return out;
  }
}
