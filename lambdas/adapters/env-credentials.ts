/**
 * Stands in for `@aws-sdk/credential-provider-node` in the Lambda bundles (an esbuild alias, lib/bundling.ts): in
 * Lambda the function's role credentials are in its environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN), so the default chain's other providers (SSO, STS web identity, IMDS, ini and process files) are
 * never used and only weigh on every cold start. Code run unbundled (`npm start`, tests) keeps the SDK's default chain.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';

/** The SDK clients call `defaultProvider(init)` for their credentials: the environment's, and nothing else. */
export const defaultProvider = (_init?: unknown) => fromEnv();
