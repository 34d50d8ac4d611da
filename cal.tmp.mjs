import { readFileSync } from "node:fs";
const t = readFileSync("/tmp/mixed.txt", "utf8");
function loop() { let s = 0; for (let i = 0; i < t.length; i++) s += t.charCodeAt(i); return s; }
for (let i=0;i<5;i++) loop();
const c0 = process.cpuUsage(); const w0 = performance.now();
for (let i=0;i<50;i++) loop();
const c = process.cpuUsage(c0);
console.log("charCodeAt loop: wall", ((performance.now()-w0)/50).toFixed(2), "ms/MiB; cpu", ((c.user+c.system)/1000/50).toFixed(2));
