import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Telemetry } from '../core/ports.js';

/** Default namespace; the stack sets POWERTOOLS_METRICS_NAMESPACE per stage so stages never mix. */
export const METRICS_NAMESPACE = 'CoexistenceRelay';

/**
 * Structured JSON logs and CloudWatch embedded metrics through Powertools. Metrics with dimensions are published
 * as single-metric documents so each dimension value stays its own series.
 */
export const createTelemetry = (serviceName: string): { telemetry: Telemetry; logger: Logger; metrics: Metrics } => {
  const logger = new Logger({ serviceName });
  const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || METRICS_NAMESPACE, serviceName });
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
