/** The single table's key schema, shared by the CDK stack and local provisioning so they cannot drift. */
export const TABLE_PARTITION_KEY = 'pk';
export const TABLE_SORT_KEY = 'sk';
export const TABLE_TTL_ATTRIBUTE = 'expiresAt';

/**
 * Sparse index of clients that received an ACCOUNT_OFFBOARDED: the OFFBOARDED status write sets both attributes; the
 * sweeper removes clients that are no longer offboarded. Lets the sweeper find offboarded clients without a scan.
 */
export const OFFBOARDED_INDEX = 'offboarded';
export const OFFBOARDED_INDEX_PK = 'offboardedIdx';
export const OFFBOARDED_INDEX_SK = 'offboardedKey';
export const OFFBOARDED_INDEX_VALUE = 'OFFBOARDED';
