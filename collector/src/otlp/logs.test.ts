import { describe, expect, it } from 'vitest';
import { ExportLogsServiceRequest, MAX_LOG_RECORDS_PER_REQUEST, TooManyRecordsError, decodeLogsJson, readLogsRequest } from './logs.js';

/** One request in OTLP/JSON form; protobufjs's fromObject reads the same object for the protobuf form. */
const request = {
  resourceLogs: [
    {
      resource: { attributes: [{ key: 'intentwatch.source', value: { stringValue: 'cloudtrail' } }] },
      scopeLogs: [
        {
          scope: { name: 'filelog' },
          logRecords: [
            {
              timeUnixNano: '1796208900123456789',
              body: { stringValue: '{"eventVersion":"1.08"}' },
              attributes: [{ key: 'log.file.name', value: { stringValue: 'a.json' } }],
            },
            {
              observedTimeUnixNano: '1796208901000000000',
              body: {
                kvlistValue: {
                  values: [
                    { key: 'n', value: { intValue: '9007199254740993' } },
                    { key: 'list', value: { arrayValue: { values: [{ boolValue: true }, { doubleValue: 1.5 }] } } },
                  ],
                },
              },
            },
            { body: { intValue: '-3' } },
          ],
        },
      ],
    },
  ],
};

describe('OTLP logs decoding', () => {
  it('reads the same records from protobuf and from JSON: times (the observed time when no time), bodies and attributes', () => {
    const fromJson = decodeLogsJson(JSON.stringify(request));
    const fromProtobuf = readLogsRequest(ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(request)).finish());
    expect(fromProtobuf).toEqual(fromJson);
    expect(fromJson).toEqual([
      {
        resource: { 'intentwatch.source': 'cloudtrail' },
        records: [
          { timeNanos: 1796208900123456789n, body: '{"eventVersion":"1.08"}', attributes: { 'log.file.name': 'a.json' } },
          { timeNanos: 1796208901000000000n, body: { n: '9007199254740993', list: [true, 1.5] }, attributes: {} },
          { timeNanos: 0n, body: -3, attributes: {} },
        ],
      },
    ]);
  });

  it('stops decoding past the records-per-request bound in either encoding', () => {
    const many = { resourceLogs: [{ scopeLogs: [{ logRecords: Array.from({ length: 3 }, () => ({ body: { stringValue: '{}' } })) }] }] };
    expect(() => decodeLogsJson(JSON.stringify(many), 2)).toThrow(TooManyRecordsError);
    expect(() => readLogsRequest(ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(many)).finish(), 2)).toThrow(
      'the request holds more than 2 log records; send smaller batches',
    );
    expect(MAX_LOG_RECORDS_PER_REQUEST).toBe(10_000);
  });
});
