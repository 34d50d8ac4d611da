import { readFileSync } from "node:fs";
const t = readFileSync("/tmp/mixed.txt", "utf8");
const pats: Record<string, RegExp> = {
  lb: /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?![A-Za-z0-9])/g,
  nolb: /(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?![A-Za-z0-9])/g,
  lit: /A(?:KIA|SIA|BIA|CCA)[0-9A-Z]{16}/g,
  ghlb: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,76}|github_pat_[A-Za-z0-9_]{59,120})(?![A-Za-z0-9_])/g,
  gh: /gh[pousr]_[A-Za-z0-9]{36,76}|github_pat_[A-Za-z0-9_]{59,120}/g,
  numlb: /(?<![0-9A-Za-z_+(])[+(]?[0-9][0-9 ()\-./]{0,46}[0-9]/g,
  num: /[+(]?[0-9][0-9 ()\-./]{0,46}[0-9]/g,
  num2: /[0-9][0-9 ()\-./]{0,46}[0-9]/g,
  nonascii: /[^\x00-\x7f]/,
  kw: /(api[_-]?key|apikey|secret|token|passw(?:or)?d|pwd|passphrase|credential|access[_-]?key|private[_-]?key|auth)/gi,
  kwlb: /(?<![A-Za-z0-9])(api[_-]?key|apikey|secret|token|passw(?:or)?d|pwd|passphrase|credential|access[_-]?key|private[_-]?key|auth)/gi,
  cap: /[A-Z][a-z'’-]{1,24}/g,
  big: /AKIA|ASIA|AIza|gh[pousr]_|github_pat_|glpat-|xox[abposre]-|sk_live|sk-|hf_|gsk_|xai-|r8_|pplx-|npm_|SG\.|do[opr]_v1_|shp(?:at|ca|pa|ss)_|eyJ/g,
};
for (let r = 0; r < 3; r++) for (const [k, p] of Object.entries(pats)) {
  const s = performance.now(); let n = 0;
  for (let i = 0; i < 10; i++) { if (!p.global) { n += p.test(t) ? 1 : 0; continue; } p.lastIndex = 0; while (p.exec(t)) n++; }
  if (r === 2) console.log(k.padEnd(10), ((performance.now() - s) / 10).toFixed(2), "ms/MiB", n);
}
let s = performance.now(); let x = 0; for (let i = 0; i < 10; i++) { for (let j = 0; j < t.length; j++) if (t.charCodeAt(j) > 127) { x++; break; } } console.log("loop", ((performance.now() - s) / 10).toFixed(2));
