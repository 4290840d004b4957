import type { AttrValue } from '@intentwatch/core';
import type { DecodeBudget } from '../limits.js';

/**
 * The protobuf wire format, read from a Buffer with the ingest limits of a {@link DecodeBudget}:
 * varints, fixed-width numbers, length-delimited fields, lenient UTF-8 strings, skipping of
 * unknown fields and the nesting limit — what the OTLP readers (protobuf-reader.ts for traces,
 * logs-limits.ts for logs) are built on.
 */

/** protobufjs's (and protoc's) default recursion limit. */
const RECURSION_LIMIT = 100;

/** Wire types. */
export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;
export const SGROUP = 3;
export const EGROUP = 4;
export const I32 = 5;

const TWO_32 = 4294967296;

/** Buffer's unchecked slice-to-string methods (what `toString` calls after validating its arguments). */
export type NodeBuffer = Buffer & { utf8Slice(start: number, end: number): string; hexSlice(start: number, end: number): string };

export class Reader {
  readonly buf: Buffer;
  readonly budget: DecodeBudget;
  readonly #maxString: number;
  /** Limits checked on the hot path, read once (the budget throws the refusal). */
  readonly maxAttributes: number;
  readonly maxListItems: number;
  readonly maxDepth: number;
  pos = 0;
  /** End of the message being read. */
  end: number;

  constructor(buf: Buffer, budget: DecodeBudget) {
    this.buf = buf;
    this.end = buf.length;
    this.budget = budget;
    this.#maxString = budget.limits.maxStringLength;
    this.maxAttributes = budget.limits.maxAttributesPerItem;
    this.maxListItems = budget.limits.maxListItems;
    this.maxDepth = budget.limits.maxDepth;
  }

  /** A varint's low 32 bits, unsigned (tags, lengths, uint32, enums, bools). */
  uint32(): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos >= this.end) throw new RangeError(`index out of range: ${pos} > ${this.end}`);
    let b = buf[pos++]!;
    // Tags and most lengths fit in one byte.
    if (b < 0x80) {
      this.pos = pos;
      return b;
    }
    let result = b & 0x7f;
    let scale = 0x80;
    for (let i = 1; i < 10; i++) {
      if (pos >= this.end) throw new RangeError(`index out of range: ${pos} > ${this.end}`);
      b = buf[pos++]!;
      if (i < 5) result += (b & 0x7f) * scale;
      scale *= 0x80;
      if (b < 0x80) {
        this.pos = pos;
        return result % TWO_32;
      }
    }
    throw new Error('invalid varint encoding');
  }

  /** A field tag: a varint of at most five bytes that fits in 32 bits (else the body is refused). */
  tag(): number {
    const buf = this.buf;
    let pos = this.pos;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 4; i++) {
      if (pos >= this.end) throw new RangeError(`index out of range: ${pos} > ${this.end}`);
      const b = buf[pos++]!;
      if (b < 0x80) {
        this.pos = pos;
        return value + b * scale;
      }
      value += (b & 0x7f) * scale;
      scale *= 0x80;
    }
    if (pos >= this.end) throw new RangeError(`index out of range: ${pos} > ${this.end}`);
    const last = buf[pos++]!;
    this.pos = pos;
    if (last >= 0x10) throw new Error('invalid tag encoding');
    return value + last * scale;
  }

  /** A varint as a signed 64-bit integer: a number when safe, else its decimal text. */
  int64(): AttrValue {
    const buf = this.buf;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= this.end) throw new RangeError(`index out of range: ${pos} > ${this.end}`);
      const b = buf[pos++]!;
      const bits = b & 0x7f;
      if (i < 4) lo += bits * 2 ** (7 * i);
      else if (i === 4) {
        lo += (bits & 0x0f) * 2 ** 28;
        hi += bits >> 4;
      } else hi += bits * 2 ** (7 * i - 32);
      if (b < 0x80) {
        this.pos = pos;
        hi %= TWO_32;
        // Non-negative and below 2^53: the common case, no BigInt needed.
        if (hi < 0x200000) return hi * TWO_32 + lo;
        const big = BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
        return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big.toString();
      }
    }
    throw new Error('invalid varint encoding');
  }

  fixed64(): bigint {
    const pos = this.pos;
    if (pos + 8 > this.end) throw new RangeError(`index out of range: ${pos} + 8 > ${this.end}`);
    const lo = this.buf.readUInt32LE(pos);
    const hi = this.buf.readUInt32LE(pos + 4);
    this.pos = pos + 8;
    return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
  }

  double(): number {
    const pos = this.pos;
    if (pos + 8 > this.end) throw new RangeError(`index out of range: ${pos} + 8 > ${this.end}`);
    this.pos = pos + 8;
    return this.buf.readDoubleLE(pos);
  }

  /** The end of a length-delimited field whose length comes next; the reader is left at its start. */
  delimited(): number {
    const len = this.uint32();
    const end = this.pos + len;
    if (end > this.end) throw new RangeError(`index out of range: ${this.pos} + ${len} > ${this.end}`);
    return end;
  }

  string(): string {
    const end = this.delimited();
    const start = this.pos;
    if (end - start > this.#maxString) this.budget.string(end - start);
    this.pos = end;
    return start === end ? '' : (this.buf as NodeBuffer).utf8Slice(start, end);
  }

  bytes(): Buffer {
    const end = this.delimited();
    const start = this.pos;
    if (end - start > this.#maxString) this.budget.string(end - start);
    this.pos = end;
    return this.buf.subarray(start, end);
  }

  /** Skips a field of wire type `wireType` (its tag already read), as protobufjs's skipType does. */
  skip(wireType: number, depth: number, field: number): void {
    if (depth > RECURSION_LIMIT) throw new Error('max depth exceeded');
    if (field === 0) throw new Error('illegal tag: field number 0');
    switch (wireType) {
      case VARINT:
        for (;;) {
          if (this.pos >= this.end) throw new RangeError('index out of range');
          if (this.buf[this.pos++]! < 0x80) break;
        }
        return;
      case I64:
        this.advance(8);
        return;
      case LEN:
        this.pos = this.delimited();
        return;
      case SGROUP:
        for (;;) {
          const tag = this.tag();
          const nested = tag >>> 3;
          const wt = tag & 7;
          if (nested === 0) throw new Error('illegal tag: field number 0');
          if (wt === EGROUP) {
            if (nested !== field) throw new Error('invalid end group tag');
            return;
          }
          this.skip(wt, depth + 1, nested);
        }
      case I32:
        this.advance(4);
        return;
      default:
        throw new Error(`invalid wire type ${wireType} at offset ${this.pos}`);
    }
  }

  advance(n: number): void {
    if (this.pos + n > this.end) throw new RangeError(`index out of range: ${this.pos} + ${n} > ${this.end}`);
    this.pos += n;
  }

  /** Enters a length-delimited sub-message at depth `depth`; returns the outer end to restore. */
  enter(depth: number): number {
    if (depth > RECURSION_LIMIT) throw new Error('max depth exceeded');
    const end = this.delimited();
    const outer = this.end;
    this.end = end;
    return outer;
  }

  leave(outer: number): void {
    if (this.pos !== this.end) throw new RangeError('index out of range');
    this.end = outer;
  }
}
