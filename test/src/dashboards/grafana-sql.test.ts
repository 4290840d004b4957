import { describe, expect, it } from 'vitest';
import { MacroError, applyMacros, applyTemplateVariables, expandPanelSql } from './grafana-sql.js';

// The examples of the plugin's README macro table: range 1415792726 … 1447328726 s, interval 20 s.
const range = { fromMs: 1_415_792_726_123, toMs: 1_447_328_726_456, intervalMs: 20_000 };

describe('applyMacros (the ClickHouse plugin backend)', () => {
  it('expands the time macros as the plugin documents them', () => {
    expect(applyMacros('WHERE $__timeFilter(time)', range)).toBe('WHERE time >= toDateTime(1415792726) AND time <= toDateTime(1447328726)');
    expect(applyMacros('$__timeFilter_ms(time)', range)).toBe(
      'time >= fromUnixTimestamp64Milli(1415792726123) AND time <= fromUnixTimestamp64Milli(1447328726456)',
    );
    expect(applyMacros('$__timeInterval(column)', range)).toBe('toStartOfInterval(toDateTime(column), INTERVAL 20 second)');
    expect(applyMacros('$__fromTime, $__toTime, $__interval_s', range)).toBe('toDateTime(1415792726), toDateTime(1447328726), 20');
    expect(applyMacros('$__fromTime_ms', range)).toBe('fromUnixTimestamp64Milli(1415792726123)');
  });

  it('takes arguments only from a parenthesis right after the name, nested parentheses included', () => {
    expect(applyMacros('count() / $__interval_s AS rps WHERE $__timeFilter(toDateTime(t))', range)).toBe(
      'count() / 20 AS rps WHERE toDateTime(t) >= toDateTime(1415792726) AND toDateTime(t) <= toDateTime(1447328726)',
    );
    expect(applyMacros('$__fromTime (1)', range)).toBe('toDateTime(1415792726) (1)');
  });

  it('never lets a macro interval fall below one second', () => {
    expect(applyMacros('$__interval_s', { ...range, intervalMs: 200 })).toBe('1');
  });

  it('refuses a macro the plugin does not have, and a wrong argument count', () => {
    expect(() => applyMacros('$__timeGroupAlias(time)', range)).toThrow(MacroError);
    expect(() => applyMacros('$__timeFilter(a, b)', range)).toThrow(/expects 1 argument/);
    expect(() => applyMacros('$__timeFilter(a', range)).toThrow(/missing/);
  });
});

describe('applyTemplateVariables (Grafana and the plugin frontend)', () => {
  it('inserts a single value as it is, and several quoted and comma-separated', () => {
    expect(applyTemplateVariables("agent = '$agent'", { agent: 'bot' }, range)).toBe("agent = 'bot'");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variable syntax, not a JavaScript template
    expect(applyTemplateVariables('agent IN (${agent})', { agent: ['a', 'b'] }, range)).toBe("agent IN ('a','b')");
  });

  it('quotes with the sqlstring format, doubling quotes inside values', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variable syntax, not a JavaScript template
    expect(applyTemplateVariables('token_id = ${token:sqlstring}', { token: "it's" }, range)).toBe("token_id = 'it''s'");
  });

  it('leaves macros and unknown names for the backend, and replaces the built-in range variables', () => {
    expect(applyTemplateVariables('$__timeFilter(time) AND $unknown AND $__from', {}, range)).toBe(
      '$__timeFilter(time) AND $unknown AND 1415792726123',
    );
  });

  it('drops a $__conditionalAll condition when its variable selects everything', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variable syntax, not a JavaScript template
    const sql = 'WHERE $__conditionalAll(agent IN (${agent:sqlstring}), $agent)';
    expect(applyTemplateVariables(sql, { agent: '$__all' }, range)).toBe('WHERE 1=1');
    expect(applyTemplateVariables(sql, { agent: ['a'] }, range)).toBe("WHERE agent IN ('a')");
  });
});

describe('expandPanelSql', () => {
  it('fails on a variable the dashboard does not define', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variable syntax, not a JavaScript template
    expect(() => expandPanelSql('WHERE agent = ${agnet:sqlstring}', { agent: 'x' }, range)).toThrow(/not a variable/);
  });
});
