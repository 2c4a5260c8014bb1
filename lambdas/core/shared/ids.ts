/**
 * Ids the relay uses as keys (WABA ids, phone number ids): the one rule for the status route, the webhook and the
 * outbound envelope. Short and plain, so they always fit a DynamoDB key and an SQS attribute.
 */
export const ID_PATTERN = /^[0-9A-Za-z_-]{1,64}$/;
export const ID_RULE = 'must be 1-64 letters, digits, "-" or "_"';
export const isRelayId = (s: string): boolean => ID_PATTERN.test(s);

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Text copied from a webhook into a stored record (event names, disconnection reasons, ...): well-formed (a lone
 * surrogate becomes U+FFFD) and at most `max` characters (longer text is cut and ends with "..."), so every record
 * stays far below DynamoDB's item size whatever the payload holds.
 */
export const boundedText = (s: string, max = 128): string => {
  const wellFormed = s.replace(LONE_SURROGATE, '\ufffd');
  return wellFormed.length <= max ? wellFormed : `${wellFormed.slice(0, max - 3).replace(LONE_SURROGATE, '\ufffd')}...`;
};
