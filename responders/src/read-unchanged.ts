/**
 * `read()`, read again while `changes()` moved during it (at most ten times more): a store that
 * keeps a copy of a table and changes it itself refreshes with this, since a read that one of
 * its own changes overlapped may predate the change and would put back what it replaced.
 */
export async function readUnchanged<T>(changes: () => number, read: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const before = changes();
    const result = await read();
    if (changes() === before || attempt >= 10) return result;
  }
}
