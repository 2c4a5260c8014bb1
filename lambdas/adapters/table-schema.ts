/** The single table's key schema, shared by the CDK stack and local provisioning so they cannot drift. */
export const TABLE_PARTITION_KEY = 'pk';
export const TABLE_SORT_KEY = 'sk';
export const TABLE_TTL_ATTRIBUTE = 'expiresAt';
