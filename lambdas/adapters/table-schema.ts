/** Kept only so `lib/` compiles until it imports `./dynamo/table.js` directly (the layout change's merge). */
export {
  OFFBOARDED_INDEX,
  OFFBOARDED_INDEX_PK,
  OFFBOARDED_INDEX_SK,
  OFFBOARDED_INDEX_VALUE,
  TABLE_PARTITION_KEY,
  TABLE_SORT_KEY,
  TABLE_TTL_ATTRIBUTE,
} from './dynamo/table.js';
