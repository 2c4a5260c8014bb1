/** Kept only until `lib/` points at `lambdas/status/index.ts` (the layout change's merge); then delete this folder. */
export { handler } from '../status/index.js';
