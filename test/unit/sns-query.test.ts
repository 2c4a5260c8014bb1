import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqsClient } from '../../lambdas/adapters/aws-clients.js';
import { SnsQueryClient, SnsRequestError, snsEndpointFor } from '../../lambdas/adapters/sns-query.js';

/** The SHA-256 the functions sign with: their SQS client's. */
const SHA256 = sqsClient('eu-west-1', undefined).config.sha256;

/** A stand-in SNS endpoint: records each request and answers what the test sets. */
let server: Server;
let endpoint: string;
let answer: { status: number; body: string } = { status: 200, body: '' };
const seen: { headers: IncomingMessage['headers']; body: string }[] = [];

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
    res.writeHead(answer.status, { 'content-type': 'text/xml' });
    res.end(answer.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const client = () => new SnsQueryClient('eu-west-1', async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token' }), SHA256, endpoint);
const TOPIC = 'arn:aws:sns:eu-west-1:111111111111:CoexistenceRelay-prod-relay-events';
const entries = [
  { Id: 'e0', Message: '{"type":"client.status_changed","x":"a&b=c"}', attributes: { type: 'client.status_changed', wabaId: '1' } },
  { Id: 'e1', Message: '{"type":"message.sent"}', attributes: { type: 'message.sent', wabaId: '2' } },
];

describe('SnsQueryClient (PublishBatch over the query protocol)', () => {
  it('sends a SigV4-signed form with every entry and its String attributes, and reads Successful and Failed', async () => {
    answer = {
      status: 200,
      body: `<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishBatchResult>
        <Successful><member><Id>e0</Id><MessageId>m-0</MessageId></member></Successful>
        <Failed><member><Id>e1</Id><Code>InternalError</Code><Message>try &amp; again</Message><SenderFault>false</SenderFault></member></Failed>
      </PublishBatchResult></PublishBatchResponse>`,
    };
    const out = await client().publishBatch(TOPIC, entries);
    expect(out).toEqual({ successful: ['e0'], failed: [{ id: 'e1', code: 'InternalError', message: 'try & again', senderFault: false }] });
    const req = seen.at(-1);
    const form = Object.fromEntries(new URLSearchParams(req?.body));
    expect(form).toEqual({
      Action: 'PublishBatch',
      Version: '2010-03-31',
      TopicArn: TOPIC,
      'PublishBatchRequestEntries.member.1.Id': 'e0',
      'PublishBatchRequestEntries.member.1.Message': entries[0]?.Message,
      'PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Name': 'type',
      'PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Value.DataType': 'String',
      'PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Value.StringValue': 'client.status_changed',
      'PublishBatchRequestEntries.member.1.MessageAttributes.entry.2.Name': 'wabaId',
      'PublishBatchRequestEntries.member.1.MessageAttributes.entry.2.Value.DataType': 'String',
      'PublishBatchRequestEntries.member.1.MessageAttributes.entry.2.Value.StringValue': '1',
      'PublishBatchRequestEntries.member.2.Id': 'e1',
      'PublishBatchRequestEntries.member.2.Message': entries[1]?.Message,
      'PublishBatchRequestEntries.member.2.MessageAttributes.entry.1.Name': 'type',
      'PublishBatchRequestEntries.member.2.MessageAttributes.entry.1.Value.DataType': 'String',
      'PublishBatchRequestEntries.member.2.MessageAttributes.entry.1.Value.StringValue': 'message.sent',
      'PublishBatchRequestEntries.member.2.MessageAttributes.entry.2.Name': 'wabaId',
      'PublishBatchRequestEntries.member.2.MessageAttributes.entry.2.Value.DataType': 'String',
      'PublishBatchRequestEntries.member.2.MessageAttributes.entry.2.Value.StringValue': '2',
    });
    expect(req?.headers['content-type']).toBe('application/x-www-form-urlencoded; charset=utf-8');
    expect(req?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/sns\/aws4_request, SignedHeaders=[a-z0-9;-]*content-type;host;[a-z0-9;-]*x-amz-date[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
    );
    expect(req?.headers['x-amz-security-token']).toBe('token');
  });

  it.each([
    ['a missing topic (404)', 404, 'NotFound', true],
    ['no permission (403)', 403, 'AuthorizationError', true],
    ['throttling (400)', 400, 'Throttling', false],
    ['a KMS throttle (400)', 400, 'KMSThrottling', false],
    ['a service error (500)', 500, 'InternalError', false],
  ])('refuses the request as a whole for %s, saying whether a retry may help', async (_n, status, code, clientFault) => {
    answer = { status, body: `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>it &lt;failed&gt;</Message></Error></ErrorResponse>` };
    const error = await client().publishBatch(TOPIC, entries).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SnsRequestError);
    expect(error).toMatchObject({ code, clientFault, message: `${code}: it <failed>` });
  });

  it('reports a network failure as retryable', async () => {
    const error = await new SnsQueryClient('eu-west-1', async () => ({ accessKeyId: 'a', secretAccessKey: 'b' }), SHA256, 'http://127.0.0.1:9')
      .publishBatch(TOPIC, entries)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'SnsRequestError', code: 'NetworkError', clientFault: false });
  });

  it('uses the regional endpoint by default', () => {
    expect(snsEndpointFor('eu-west-1')).toBe('https://sns.eu-west-1.amazonaws.com');
    expect(snsEndpointFor('cn-north-1')).toBe('https://sns.cn-north-1.amazonaws.com.cn');
  });
});
