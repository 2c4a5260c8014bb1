/** The release queue's message: what asks for a client's parked messages to be released, checked by zod. */
import * as z from 'zod/mini';
import { ID_PATTERN, ID_RULE } from '../shared/ids.js';
import type { ReleaseRequest, ReleaseTrigger } from './ports.js';
import { parseJson } from '../shared/zod.js';

const RELEASE_TRIGGERS = ['status-connected', 'probe-can-send', 'restriction-expired', 'operator'] as const satisfies readonly ReleaseTrigger[];

const releaseRequestSchema = z.strictObject({
  wabaId: z.string().check(z.regex(ID_PATTERN, ID_RULE)),
  trigger: z.enum(RELEASE_TRIGGERS),
  requestedAt: z.iso.datetime({ offset: true }),
  continuationOf: z.optional(z.string().check(z.minLength(1), z.maxLength(64))),
  notConnectedRuns: z.optional(z.int().check(z.minimum(0), z.maximum(1000))),
});

export type ReleaseRequestParse = { readonly ok: true; readonly request: ReleaseRequest } | { readonly ok: false; readonly problem: string };

export const parseReleaseRequest = (body: string): ReleaseRequestParse => {
  const r = parseJson(body, releaseRequestSchema, 3);
  return r.ok ? { ok: true, request: r.value } : r;
};
