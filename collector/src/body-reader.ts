import type { IncomingMessage } from 'node:http';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { HttpError } from '@intentwatch/core';
import type { NextFunction, Request, Response } from 'express';
import { joinInSlices } from './join-in-slices.js';

/**
 * Reads a request body of at most `limit` bytes both as sent and after decompression (gzip,
 * deflate or br). A compressed body is bounded as well as what it inflates to: its
 * `Content-Length` is checked before anything is read or inflated, and the bytes that arrive are
 * counted as they stream in (a body sent chunked has no length). Without that, 48 MB of empty
 * deflate blocks — which inflate to nothing — would be read, inflated and answered 200.
 * Decompression runs on zlib's thread pool, off the event loop.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const encoding = String(req.headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  let inflater: Transform | undefined;
  switch (encoding) {
    case '':
    case 'identity':
      break;
    case 'gzip':
    case 'x-gzip':
      inflater = createGunzip();
      break;
    case 'deflate':
      inflater = createInflate();
      break;
    case 'br':
      inflater = createBrotliDecompress();
      break;
    default:
      return Promise.reject(
        new HttpError(
          415,
          'unsupported_encoding',
          `Content-Encoding "${encoding.slice(0, 40)}" is not supported; use gzip, deflate, br or none`,
        ),
      );
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit, inflater ? 'as sent' : ''));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let sent = 0;
    let kept = 0;
    let settled = false;
    const fail = (e: HttpError) => {
      if (settled) return;
      settled = true;
      if (inflater) {
        req.unpipe(inflater);
        inflater.destroy();
      }
      // Nothing more is read until the answer is written (see lingerThenClose).
      req.pause();
      reject(e);
    };
    const keep = (chunk: Buffer) => {
      kept += chunk.length;
      if (kept > limit) fail(tooLarge(limit, inflater ? 'after decompression' : ''));
      else chunks.push(chunk);
    };
    const done = () => {
      if (settled) return;
      settled = true;
      if (chunks.length === 1) resolve(chunks[0]!);
      else joinInSlices(chunks, kept).then(resolve, reject);
    };
    req.on('error', () => fail(aborted()));
    req.on('close', () => {
      if (!req.complete) fail(aborted());
    });
    if (!inflater) {
      req.on('data', keep);
      req.on('end', done);
      return;
    }
    req.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      if (sent > limit) fail(tooLarge(limit, 'as sent'));
    });
    inflater.on('data', keep);
    inflater.on('end', done);
    inflater.on('error', (e: Error) =>
      fail(new HttpError(400, 'invalid_body', `the body cannot be decompressed as ${encoding}: ${e.message}`)),
    );
    req.pipe(inflater);
  });
}

/** The middleware: `req.body` becomes the body's bytes; a body past the limit is answered 413 and its connection closed shortly after. */
export function bodyReader(limit: number) {
  return (req: Request, res: Response, next: NextFunction) => {
    readBody(req, limit).then(
      (body) => {
        req.body = body;
        next();
      },
      (e: unknown) => {
        if (e instanceof HttpError && e.status === 413) lingerThenClose(req, res);
        next(e);
      },
    );
  };
}

/** How long, and how many more bytes, an oversized body is discarded after its answer before the connection is closed. */
const LINGER_MS = 1000;
const LINGER_BYTES = 16 * 1024 * 1024;

/**
 * The rest of an oversized body is not decoded or kept. Once the 413 is written, what the client
 * is still sending is discarded for a moment (at most {@link LINGER_MS} and
 * {@link LINGER_BYTES}) and then the connection is closed: closing a socket with unread bytes
 * resets it, and a client still writing could then lose the answer before reading it.
 */
function lingerThenClose(req: Request, res: Response): void {
  res.once('finish', () => {
    if (req.complete) return;
    let discarded = 0;
    const close = () => {
      clearTimeout(timer);
      req.socket.destroy();
    };
    const timer = setTimeout(close, LINGER_MS);
    req.removeAllListeners('data');
    req.on('data', (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > LINGER_BYTES) close();
    });
    req.once('end', () => clearTimeout(timer));
    req.resume();
  });
}

function tooLarge(limit: number, when: string): HttpError {
  return new HttpError(
    413,
    'body_too_large',
    `the body is larger than ${limit} bytes${when ? ` ${when}` : ''} (INTENTWATCH_MAX_BODY_BYTES, which bounds a body as sent and after decompression); send smaller batches`,
  );
}

function aborted(): HttpError {
  return new HttpError(400, 'aborted', 'the request was aborted before its body was read');
}
