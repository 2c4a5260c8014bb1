import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Telemetry } from '../core/shared/telemetry.js';

/** Default namespace; the stack sets POWERTOOLS_METRICS_NAMESPACE per stage so stages never mix. */
const METRICS_NAMESPACE = 'CoexistenceRelay';

export interface Runtime {
  readonly telemetry: Telemetry;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/**
 * Structured JSON logs and CloudWatch embedded metrics through Powertools, behind the core's Telemetry port.
 * Metrics with dimensions are published as single-metric documents so each dimension value stays its own series.
 */
export const createRuntime = (serviceName: string): Runtime => {
  const logger = new Logger({ serviceName });
  const metrics = new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || METRICS_NAMESPACE,
    serviceName,
    // Metrics' own warnings go through the function's logger (request id included), except the one `logMetrics`
    // would print after every invocation that recorded nothing (a GET, a POST that changed no status): not a problem.
    logger: {
      debug: (message: string) => logger.debug(message),
      info: (message: string) => logger.info(message),
      warn: (message: string) => {
        if (!message.startsWith('No application metrics to publish')) logger.warn(message);
      },
      error: (message: string) => logger.error(message),
    },
  });
  const telemetry: Telemetry = {
    count: (name, value = 1, dimensions) => {
      if (dimensions && Object.keys(dimensions).length > 0) {
        const single = metrics.singleMetric();
        for (const [k, v] of Object.entries(dimensions)) single.addDimension(k, v);
        single.addMetric(name, MetricUnit.Count, value);
      } else {
        metrics.addMetric(name, MetricUnit.Count, value);
      }
    },
    seconds: (name, value) => metrics.addMetric(name, MetricUnit.Seconds, value),
    info: (message, fields) => logger.info(message, { ...fields }),
    warn: (message, fields) => logger.warn(message, { ...fields }),
    error: (message, fields) => logger.error(message, { ...fields }),
  };
  return { telemetry, logger, metrics };
};

/**
 * The Lambda lifecycle around a handler, with Powertools' own middy middlewares: the Lambda context (request id,
 * function name, cold start) on every log line of the invocation, and the stored metrics flushed when it ends,
 * whether it returned or threw. `metrics: false` for a function that records none.
 */
export const lambdaHandler = <E, R>(
  runtime: Runtime,
  handler: (event: E, context: Context) => Promise<R>,
  options: { readonly metrics?: boolean } = {},
) => {
  const wrapped = middy(handler).use(injectLambdaContext(runtime.logger));
  if (options.metrics !== false) wrapped.use(logMetrics(runtime.metrics));
  return (event: E, context: Context): Promise<R> => wrapped(event, context);
};
