/**
 * The CLI's one way to read JSON it is given (a file, a flag, an answer): parse the text, check it with a zod schema,
 * and say in one line what is wrong (where in the document, and what was expected).
 */
import { readFile } from 'node:fs/promises';
import * as z from 'zod';
import { describeIssues } from '../../lambdas/core/shared/zod.js';
import { CliError } from './errors.js';

export type JsonCheck<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

/** JSON text checked by `schema`; `problem` says what is wrong ("not JSON (...)" or the first issues). */
export const checkJson = <S extends z.core.$ZodType>(text: string, schema: S): JsonCheck<z.output<S>> => {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, problem: `not JSON (${(error as Error).message})` };
  }
  const r = z.safeParse(schema, json);
  return r.success ? { ok: true, value: r.data } : { ok: false, problem: describeIssues(r.error, 3) };
};

/**
 * The JSON file at `path`, checked by `schema`, or a CliError `<label> <path>: <why>` (why: the read error, "not
 * JSON (...)", or `expected` when given, else the schema's first issues).
 */
export const readJsonFile = async <S extends z.core.$ZodType>(path: string, schema: S, label: string, expected?: string): Promise<z.output<S>> => {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CliError(`${label} ${path}: ${(error as Error).message}`);
  }
  const r = checkJson(text, schema);
  if (!r.ok) throw new CliError(`${label} ${path}: ${expected && !r.problem.startsWith('not JSON') ? expected : r.problem}`);
  return r.value;
};
