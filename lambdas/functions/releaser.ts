/** Kept only until `lib/` points at `lambdas/releaser/index.ts` (the layout change's merge); then delete this folder. */
export { handler } from '../releaser/index.js';
