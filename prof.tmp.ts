import { fold } from "./worker/data/classify/normalize.ts";
import { scanNumbers } from "./worker/data/classify/numeric.ts";
import { scanIdentifiers } from "./worker/data/classify/identifiers.ts";
import { scanSecrets } from "./worker/data/classify/secrets.ts";
import { scanNames } from "./worker/data/classify/names.ts";
const SIZE = 200 * 1024;
const fill = (unit: string, tail = "") => unit.repeat(Math.ceil(SIZE / unit.length)).slice(0, SIZE) + tail;
for (const t of [fill("1 "), fill("12-3.4 (5)/6 "), fill("eyJaaaaa."), fill("-----BEGIN "), fill("://a:b"), fill("a"), fill("Aaaa "), fill("1")]) {
  const row: string[] = [JSON.stringify(t.slice(0, 12))];
  for (const [name, f] of [["num", scanNumbers], ["id", scanIdentifiers], ["sec", scanSecrets], ["names", scanNames]] as const) {
    const s = performance.now(); let n = 0; f(t, () => n++); row.push(`${name} ${(performance.now() - s).toFixed(1)}ms(${n})`);
  }
  console.log(row.join("  "));
}
