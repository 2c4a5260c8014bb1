/** Kept only until `lib/` points at `lambdas/webhook/index.ts` (the layout change's merge); then delete this folder. */
export { handler } from '../webhook/index.js';
