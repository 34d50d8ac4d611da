import { readFileSync } from "node:fs";
import { classify } from "./worker/data/index.ts";
const mixed = readFileSync("/tmp/mixed.txt", "utf8");
for (let k=0;k<3;k++) classify([mixed]);
const c0 = process.cpuUsage(); const t0 = performance.now();
for (let k=0;k<20;k++){ classify([mixed]); }
const c = process.cpuUsage(c0);
console.log("wall ms/MiB", ((performance.now()-t0)/20).toFixed(1), "cpu ms/MiB", ((c.user+c.system)/1000/20).toFixed(1));
