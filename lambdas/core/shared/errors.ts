/**
 * The relay's one error hierarchy. `lambdas/shared/http.ts` is the one place that maps them to HTTP answers:
 * a request problem gives its 4xx; a ConfigError (and anything unknown) is a 500 with nothing echoed.
 */
export class BadRequestError extends Error {
  override readonly name = 'BadRequestError';
}
export class SignatureError extends Error {
  override readonly name = 'SignatureError';
}
export class ForbiddenError extends Error {
  override readonly name = 'ForbiddenError';
}
export class PayloadTooLargeError extends Error {
  override readonly name = 'PayloadTooLargeError';
}
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}
/**
 * Configuration that is missing or wrong (an environment variable, a secret's value). Raised at start-up so a
 * misconfigured function never serves; if a rotated secret turns bad later, the request is answered 500, never 400.
 */
export class ConfigError extends Error {
  override readonly name: string = 'ConfigError';
}
/**
 * A write the store refuses for good (DynamoDB ValidationException: item or key too large, a value it cannot hold):
 * retrying cannot help, so the change is forwarded as unreadable instead of failing the whole webhook.
 */
export class UnstorableError extends Error {
  override readonly name = 'UnstorableError';
}
/**
 * No Cloud API token is configured for a WABA (neither its own nor a default). Not transient: the message is
 * dead-lettered `no-access-token` and can be redriven once the token is set. A secret that cannot be read is a
 * different, retryable failure.
 */
export class NoTokenError extends ConfigError {
  override readonly name: string = 'NoTokenError';
}
