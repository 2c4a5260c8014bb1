import * as esbuild from 'esbuild';
const entry = process.argv[2];
const r = await esbuild.build({ entryPoints: [entry], bundle: true, minify: true, platform: 'node', target: 'node22', format: 'esm', mainFields: ['module','main'], write: false, metafile: true, outfile: '/tmp/out.mjs', banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } });
const groups = {};
for (const [f, v] of Object.entries(Object.values(r.metafile.outputs).find(o=>o.inputs && o.entryPoint).inputs)) {
  const m = f.match(/node_modules\/((@[^/]+\/)?[^/]+)/);
  const k = m ? m[1] : 'project';
  groups[k] = (groups[k] ?? 0) + v.bytesInOutput;
}
console.log('total', r.outputFiles[0].contents.length);
console.log(Object.entries(groups).sort((a,b)=>b[1]-a[1]).slice(0,25).map(([k,v])=>`${(v/1024).toFixed(1)}K ${k}`).join('\n'));
