import type { Finding } from '@intentwatch/alerts';

/**
 * The finding the responders' tests raise: token `token`, issued for github, used against slack
 * by triage-bot in environment `env`; its evidence span id from `seq` (one per finding), its
 * trace id from `traceChar`.
 */
export function slackFinding(env: string, token: string, seq: number, traceChar = 'a', over: Partial<Finding> = {}): Finding {
  return {
    key: 'slack',
    severity: 'high',
    reason: `token ${token} issued for [github] was used against slack`,
    tokenId: token,
    rootTokenId: token,
    agentId: 'triage-bot',
    taskId: 'T-1',
    caller: 'triage-svc',
    target: 'slack',
    environment: env,
    evidence: { traceId: traceChar.repeat(32), spanId: seq.toString(16).padStart(16, '0'), time: new Date().toISOString() },
    ...over,
  };
}
