import { readFileSync } from "node:fs";
import { scanNumbers } from "./worker/data/classify/numeric.ts";
const t = readFileSync("/tmp/mixed.txt", "utf8");
for (let i=0;i<5;i++) scanNumbers(t, () => {});
