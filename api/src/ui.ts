import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';

/** The web UI's static files: plain ES modules and CSS, no build step (`api/public/`). */
export const UI_DIR = fileURLToPath(new URL('../public/', import.meta.url));

/**
 * Serves the web UI at `/`. The files hold no data — everything comes from the API with the
 * key the analyst signs in with — so they are open, and revalidated on every load (ETag) so that
 * an upgrade is never half-applied in a browser.
 */
export function uiRouter(): Router {
  const router = express.Router();
  router.use(
    express.static(UI_DIR, {
      index: 'index.html',
      redirect: false,
      dotfiles: 'ignore',
      setHeaders: (res) => res.setHeader('Cache-Control', 'no-cache'),
    }),
  );
  return router;
}
