/** Kept only until `lib/` points at `lambdas/consumer/index.ts` (the layout change's merge); then delete this folder. */
export { handler } from '../consumer/index.js';
