// Starts a private redis-server, prints its pid and URL as one JSON line, and waits to be killed:
// prerequisites.test.ts kills this process in various ways and checks that the server goes too.
import { startPrivateRedis } from './redis.js';

const redis = await startPrivateRedis(process.argv[2]);
process.stdout.write(`${JSON.stringify({ pid: redis.pid, url: redis.url })}\n`);
setInterval(() => {}, 60_000);
