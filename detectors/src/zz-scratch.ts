import { Store, loadConfig, globToRegExp } from '@intentwatch/core';
import { globRegexSql } from './intent/sql.js';
const config = loadConfig({ INTENTWATCH_DATA_DIR: '/tmp/iwscratch/d2' }, { dotenv: false });
const store = await Store.open(config);
const pats = ['repos/acme/*', 'buckets/logs/**', '**/x.txt', 'a.b+c/(x)/*', 'a/**/b', '***', '/***', 'x[1]\\y', 'a$b^c{2}|d?'];
const rows = await store.query<{ p: string; re: string }>(
  `SELECT p, ${globRegexSql('p')} AS re FROM (SELECT arrayJoin({pats:Array(String)}) AS p)`,
  { pats },
);
for (const r of rows) console.log(JSON.stringify(r.p), r.re, '|', globToRegExp(r.p).source);
const m = await store.query(
  `SELECT match('repos/acme/api', ${globRegexSql("'repos/acme/*'")}) a, match('repos/acme/api/x', ${globRegexSql("'repos/acme/*'")}) b, match('buckets/logs', ${globRegexSql("'buckets/logs/**'")}) c`,
);
console.log(m);
await store.close();
