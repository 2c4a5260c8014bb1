/** Kept only until `lib/` points at `lambdas/sweeper/index.ts` (the layout change's merge); then delete this folder. */
export { handler } from '../sweeper/index.js';
