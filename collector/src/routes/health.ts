import type { Request, Response } from 'express';

/** `GET /healthz`: 200 `{"status":"ok"}` while the collector serves requests. */
export function healthRoute() {
  return (_req: Request, res: Response): void => {
    res.json({ status: 'ok' });
  };
}
