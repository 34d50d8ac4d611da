import { readFileSync } from "node:fs";
import { classify } from "./worker/data/index.ts";
const mixed = readFileSync("/tmp/mixed.txt", "utf8");
const t0 = performance.now();
for (let k=0;k<15;k++){ classify([mixed]); }
console.log("mixed avg", ((performance.now()-t0)/15).toFixed(1));
