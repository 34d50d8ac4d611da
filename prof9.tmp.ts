import { readFileSync } from "node:fs";
import { fold } from "./worker/data/classify/normalize.ts";
import { scanNumbers } from "./worker/data/classify/numeric.ts";
import { scanIdentifiers } from "./worker/data/classify/identifiers.ts";
import { scanSecrets } from "./worker/data/classify/secrets.ts";
import { scanNames } from "./worker/data/classify/names.ts";
const t = readFileSync("/tmp/mixed.txt", "utf8");
const fns: Array<[string, (t: string, e: (f: unknown) => void) => void]> = [["fold", (x) => void fold(x)], ["num", scanNumbers], ["id", scanIdentifiers], ["sec", scanSecrets], ["names", scanNames]];
for (let r=0;r<2;r++) for (const [name, f] of fns) {
  const c0 = process.cpuUsage(); let n = 0;
  for (let i=0;i<10;i++) f(t, () => n++);
  const c = process.cpuUsage(c0);
  if (r) console.log(name.padEnd(6), ((c.user+c.system)/1000/10).toFixed(1), "ms cpu/MiB", n/10);
}
